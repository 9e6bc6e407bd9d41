"""The pure parts of a release: families, phases and the schedule/target write-back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from deployworker.aws.eventrules import target_shape
from deployworker.aws.scheduler import update_schedule_shape
from deployworker.deploy.release.slots import (
    WAS_TAG,
    Slot,
    family_images,
    release_key,
    release_phases,
    schedule_update,
    target_update,
    was_tags,
)
from deployworker.intake.allowlist import load_allowlist
from deployworker.intake.releases import Release

TD = "arn:aws:ecs:eu-west-1:123456789012:task-definition/"
REPO = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop"


def release(phases: Any = None) -> Release:
    document = {
        "version": 1,
        "releases": [
            {
                "name": "shop",
                "cluster": "prod",
                "images": [REPO],
                "members": [
                    {"service": "web", "containers": ["app"]},
                    {"service": "worker", "containers": ["app"]},
                    {"schedule": "nightly", "containers": ["app"]},
                    {"rule": "cleanup", "containers": ["app"]},
                ],
                "phases": phases,
            }
        ],
    }
    found = load_allowlist(yaml.safe_dump(document)).release("shop")
    assert found is not None
    return found


SLOTS = [
    Slot("web", "service", TD + "shop:3"),
    Slot("worker", "service", TD + "shop:2"),
    Slot("nightly", "schedule", TD + "jobs:7"),
    Slot("cleanup", "rule", TD + "jobs:7", "a"),
    Slot("cleanup", "rule", TD + "other:1", "b"),
]


def test_one_revision_per_family_with_the_union_of_its_members_images() -> None:
    images = family_images(SLOTS, {"web": {"app": "x:2"}, "nightly": {"app": "x:2"}})
    assert images == {"shop": {"app": "x:2"}, "jobs": {"app": "x:2"}}
    both = family_images(SLOTS, {"web": {"app": "x:2"}, "worker": {"side": "y:2"}})
    assert both == {"shop": {"app": "x:2", "side": "y:2"}}


def test_each_slot_of_a_family_records_where_it_goes_back_to() -> None:
    assert was_tags(SLOTS, "jobs") == {
        WAS_TAG + "nightly": TD + "jobs:7",
        WAS_TAG + "cleanup/a": TD + "jobs:7",
    }
    assert was_tags(SLOTS, "shop")[WAS_TAG + "worker"] == TD + "shop:2"


def test_phases_put_services_before_schedules_and_rules_and_skip_unchanged_members() -> None:
    mixed = release([["nightly", "worker"], ["web", "cleanup"]])
    phases = release_phases(mixed, SLOTS)
    assert [[s.id for s in p] for p in phases] == [
        ["worker", "nightly"],
        ["web", "cleanup/a", "cleanup/b"],
    ]
    assert [[s.id for s in p] for p in release_phases(release(), SLOTS[:2])] == [
        ["web"],
        ["worker"],
    ]


def test_release_keys_differ_by_release_and_deploy_id() -> None:
    shop = release()
    assert release_key(shop, "a") != release_key(shop, "b")
    assert release_key(shop, "a").startswith("v1:")


def test_update_schedule_input_keeps_every_accepted_field_and_drops_read_only_ones() -> None:
    schedule: dict[str, Any] = {
        "Arn": "arn:aws:scheduler:eu-west-1:123456789012:schedule/default/nightly",
        "Name": "nightly",
        "GroupName": "default",
        "CreationDate": datetime(2026, 1, 1, tzinfo=UTC),
        "LastModificationDate": datetime(2026, 1, 2, tzinfo=UTC),
        "ScheduleExpression": "cron(0 2 * * ? *)",
        "ScheduleExpressionTimezone": "Europe/Paris",
        "State": "ENABLED",
        "Description": "d",
        "FlexibleTimeWindow": {"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 5},
        "ActionAfterCompletion": "NONE",
        "Target": {
            "Arn": "arn:aws:ecs:eu-west-1:123456789012:cluster/prod",
            "RoleArn": "arn:aws:iam::123456789012:role/s",
            "RetryPolicy": {"MaximumRetryAttempts": 3},
            "DeadLetterConfig": {"Arn": "arn:aws:sqs:eu-west-1:123456789012:dlq"},
            "EcsParameters": {
                "TaskDefinitionArn": TD + "jobs:7",
                "TaskCount": 2,
                "Tags": [{"a": "b"}],
            },
        },
    }
    update = schedule_update(schedule, TD + "jobs:8", update_schedule_shape(), NOW)
    expected = {
        k: v
        for k, v in schedule.items()
        if k not in ("Arn", "CreationDate", "LastModificationDate")
    }
    expected["Target"] = {
        **schedule["Target"],
        "EcsParameters": {
            **schedule["Target"]["EcsParameters"],
            "TaskDefinitionArn": TD + "jobs:8",
        },
    }
    assert update == expected
    assert schedule["Target"]["EcsParameters"]["TaskDefinitionArn"] == TD + "jobs:7"  # not mutated
    # Every member of the input shape the schedule had survives (UpdateSchedule resets others).
    shape_members = set(update_schedule_shape().members)  # type: ignore[attr-defined]
    assert set(update) == (set(schedule) & shape_members)


@given(
    st.dictionaries(
        st.sampled_from(["Input", "InputPath", "RoleArn", "Id", "Arn"]), st.text(max_size=20)
    )
)
def test_a_rule_target_changes_only_its_task_definition(extra: dict[str, str]) -> None:
    target = {**extra, "EcsParameters": {"TaskDefinitionArn": TD + "jobs:7", "TaskCount": 1}}
    update = target_update(target, TD + "jobs:9", target_shape())
    assert update == {
        **target,
        "EcsParameters": {"TaskDefinitionArn": TD + "jobs:9", "TaskCount": 1},
    }


NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("start", "kept"),
    [
        (NOW - timedelta(days=30), False),  # started long ago: AWS would refuse it back
        (NOW - timedelta(minutes=1), False),  # past, even within AWS's 5 minutes
        (NOW, False),
        (NOW + timedelta(minutes=1), True),  # not started yet: keep it
    ],
)
def test_a_past_start_date_is_left_out_of_update_schedule(start: datetime, kept: bool) -> None:
    schedule: dict[str, Any] = {
        "Name": "nightly",
        "ScheduleExpression": "cron(0 2 * * ? *)",
        "FlexibleTimeWindow": {"Mode": "OFF"},
        "StartDate": start,
        "EndDate": NOW + timedelta(days=365),
        "Target": {"Arn": "a", "RoleArn": "r", "EcsParameters": {"TaskDefinitionArn": "x"}},
    }
    update = schedule_update(schedule, TD + "jobs:8", update_schedule_shape(), NOW)
    assert ("StartDate" in update) is kept
    assert update["EndDate"] == NOW + timedelta(days=365)
