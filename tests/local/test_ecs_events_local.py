"""The simulator sends ECS's `ECS Deployment State Change` events through moto's
EventBridge, with ECS's detail shape, to the queue local mode's rule targets."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from conftest import REGION, REPO, World
from deployworker.local.eventshapes import COMPLETED, FAILED, IN_PROGRESS, transitions
from deployworker.local.seed import ACCOUNT_ID, create_events_queue


@pytest.mark.parametrize(
    ("before", "after", "sent"),
    [
        ("PENDING", "IN_PROGRESS", [(IN_PROGRESS, False)]),
        ("IN_PROGRESS", "IN_PROGRESS", []),
        ("IN_PROGRESS", "SUCCESSFUL", [(COMPLETED, False)]),
        ("PENDING", "SUCCESSFUL", [(IN_PROGRESS, False), (COMPLETED, False)]),
        ("IN_PROGRESS", "ROLLBACK_IN_PROGRESS", [(FAILED, False), (IN_PROGRESS, True)]),
        ("IN_PROGRESS", "ROLLBACK_REQUESTED", [(FAILED, False), (IN_PROGRESS, True)]),
        ("ROLLBACK_IN_PROGRESS", "ROLLBACK_SUCCESSFUL", [(COMPLETED, True)]),
        (
            "IN_PROGRESS",
            "ROLLBACK_SUCCESSFUL",
            [(FAILED, False), (IN_PROGRESS, True), (COMPLETED, True)],
        ),
        ("ROLLBACK_IN_PROGRESS", "ROLLBACK_FAILED", [(FAILED, True)]),
        ("IN_PROGRESS", "STOPPED", []),
    ],
)
def test_transitions(before: str, after: str, sent: list[tuple[str, bool]]) -> None:
    assert transitions(before, after) == sent


def received(world: World, url: str, count: int) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    deadline = time.monotonic() + 20
    while len(found) < count and time.monotonic() < deadline:
        got = world.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        found += [json.loads(m["Body"]) for m in got.get("Messages", [])]
    return found


def test_a_failing_rollout_sends_ecs_events_for_its_clusters_only(world: World) -> None:
    world.service(circuit_breaker=True)
    world.service(cluster="staging", name="api")
    url = create_events_queue(world.endpoint, REGION, ["prod"])
    for cluster, name in (("prod", "web"), ("staging", "api")):
        family = f"{cluster}-{name}"
        world.ecs.update_service(
            cluster=cluster, service=name, taskDefinition=world.register(f"{REPO}:2-fail", family)
        )
    events = received(world, url, 4)
    assert [e["detail"]["eventName"] for e in events] == [
        "SERVICE_DEPLOYMENT_IN_PROGRESS",
        "SERVICE_DEPLOYMENT_FAILED",
        "SERVICE_DEPLOYMENT_IN_PROGRESS",
        "SERVICE_DEPLOYMENT_COMPLETED",
    ]
    for event in events:
        assert event["source"] == "aws.ecs"
        assert event["detail-type"] == "ECS Deployment State Change"
        assert event["account"] == ACCOUNT_ID and event["region"] == REGION
        assert event["resources"] == [f"arn:aws:ecs:{REGION}:{ACCOUNT_ID}:service/prod/web"]
        assert set(event["detail"]) == {
            "eventType",
            "eventName",
            "deploymentId",
            "updatedAt",
            "reason",
        }
        assert event["detail"]["deploymentId"].startswith("ecs-svc/")
    assert events[1]["detail"]["eventType"] == "ERROR"
    assert received(world, url, 1) == []  # nothing from staging: the rule names prod only
