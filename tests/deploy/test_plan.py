"""Planning: only the named images change, read-only fields never leak, re-planning is a noop."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from deployworker.aws.ecs import register_input_shape
from deployworker.deploy.plan import (
    DEPLOY_ID_TAG,
    DEPLOY_KEY_TAG,
    PREVIOUS_TAG,
    deploy_key,
    merge_tags,
    plan_deploy,
    tag_value,
)
from deployworker.errors import Rejection

SHAPE = register_input_shape()
TAGS = [{"key": "team", "value": "platform"}, {"key": DEPLOY_ID_TAG, "value": "old"}]
OURS = {DEPLOY_ID_TAG: "build-2", PREVIOUS_TAG: "arn:aws:ecs:eu-west-1:1:task-definition/web:1"}


def described(images: dict[str, str]) -> dict[str, Any]:
    """A DescribeTaskDefinition result, read-only fields and all."""
    return {
        "taskDefinitionArn": "arn:aws:ecs:eu-west-1:123456789012:task-definition/web:1",
        "family": "web",
        "revision": 1,
        "status": "ACTIVE",
        "registeredAt": "2026-01-01T00:00:00Z",
        "registeredBy": "arn:aws:iam::123456789012:role/ci",
        "deleteRequestedAt": "2026-01-02T00:00:00Z",
        "requiresAttributes": [{"name": "com.amazonaws.ecs.capability.ecr-auth"}],
        "compatibilities": ["EC2", "FARGATE"],
        "requiresCompatibilities": ["FARGATE"],
        "networkMode": "awsvpc",
        "cpu": "256",
        "memory": "512",
        "executionRoleArn": "arn:aws:iam::123456789012:role/exec",
        "taskRoleArn": "arn:aws:iam::123456789012:role/task",
        "volumes": [{"name": "data", "efsVolumeConfiguration": {"fileSystemId": "fs-1"}}],
        "containerDefinitions": [
            {
                "name": name,
                "image": image,
                "essential": True,
                "environment": [{"name": "SECRET_ISH", "value": "do-not-log"}],
                "secrets": [{"name": "DB", "valueFrom": "arn:aws:ssm:eu-west-1:1:parameter/db"}],
                "dockerLabels": {"com.example/any key": "kept"},
                "futureReadOnlyField": "AWS added this later",
            }
            for name, image in images.items()
        ],
    }


def test_plan_changes_only_the_image_and_drops_read_only_fields() -> None:
    td = described({"app": "r/web:1", "worker": "r/worker:1"})
    plan = plan_deploy(td, TAGS, {"app": "r/web:2"}, OURS, SHAPE)
    assert plan is not None
    register = plan.register_input
    for read_only in (
        "taskDefinitionArn",
        "revision",
        "status",
        "registeredAt",
        "registeredBy",
        "deleteRequestedAt",
        "requiresAttributes",
        "compatibilities",
    ):
        assert read_only not in register
    app, worker = register["containerDefinitions"]
    assert app["image"] == "r/web:2"
    assert worker == {
        k: v for k, v in td["containerDefinitions"][1].items() if k != "futureReadOnlyField"
    }
    assert "futureReadOnlyField" not in app
    assert app["environment"] == td["containerDefinitions"][0]["environment"]
    assert app["dockerLabels"] == {"com.example/any key": "kept"}
    for kept in (
        "family",
        "cpu",
        "memory",
        "executionRoleArn",
        "taskRoleArn",
        "volumes",
        "networkMode",
        "requiresCompatibilities",
    ):
        assert register[kept] == td[kept]
    assert register["tags"] == [
        {"key": "team", "value": "platform"},
        {"key": DEPLOY_ID_TAG, "value": "build-2"},
        {"key": PREVIOUS_TAG, "value": OURS[PREVIOUS_TAG]},
    ]
    assert plan.changes == {"app": ("r/web:1", "r/web:2")}
    # The input is valid for botocore's validator, so AWS will accept its shape.
    from botocore.validate import ParamValidator

    report = ParamValidator().validate(register, SHAPE)
    assert not report.has_errors(), report.generate_report()


def test_the_described_input_is_not_mutated() -> None:
    td = described({"app": "r/web:1"})
    snapshot = copy.deepcopy(td)
    plan_deploy(td, TAGS, {"app": "r/web:2"}, OURS, SHAPE)
    assert td == snapshot


@pytest.mark.parametrize(
    ("images", "wanted", "noop"),
    [
        ({"app": "r/web:1"}, {"app": "r/web:1"}, True),
        ({"app": "r/web:1", "w": "r/w:1"}, {"app": "r/web:1", "w": "r/w:1"}, True),
        ({"app": "r/web:1", "w": "r/w:1"}, {"w": "r/w:2"}, False),
        ({"app": "r/web:1"}, {"app": "r/web:1@sha256:" + "c" * 64}, False),
    ],
)
def test_noop_detection(images: dict[str, str], wanted: dict[str, str], noop: bool) -> None:
    assert (plan_deploy(described(images), [], wanted, OURS, SHAPE) is None) is noop


def test_unknown_container_is_rejected_with_what_exists() -> None:
    with pytest.raises(
        Rejection, match=r"container\(s\) sidecar not in task definition web:1 \(it has app\)"
    ):
        plan_deploy(described({"app": "r/web:1"}), [], {"sidecar": "r/s:1"}, OURS, SHAPE)


def test_tags_are_sanitised_and_bounded() -> None:
    assert tag_value("https://ci.example/b?id=1&x=%20") == "https://ci.example/b_id=1_x=_20"
    assert len(tag_value("x" * 999)) == 256
    ours = {
        DEPLOY_KEY_TAG: "k",
        DEPLOY_ID_TAG: "d",
        PREVIOUS_TAG: "p",
        "deployworker:source-url": "u",
    }
    roomy = merge_tags([{"key": "k", "value": "v"}], ours)
    assert [t["key"] for t in roomy] == [
        "k",
        DEPLOY_KEY_TAG,
        DEPLOY_ID_TAG,
        PREVIOUS_TAG,
        "deployworker:source-url",
    ]
    crowded = [{"key": f"k{i}", "value": "v"} for i in range(48)]
    assert [t["key"] for t in merge_tags(crowded, ours)][48:] == [DEPLOY_KEY_TAG, PREVIOUS_TAG]
    assert [t["key"] for t in merge_tags(crowded[:-1] + crowded[:2], ours)][50 - 1 :] == [
        DEPLOY_KEY_TAG
    ]
    with pytest.raises(Rejection, match="has 50 tags"):
        merge_tags(crowded + crowded[:2], ours)


@pytest.mark.parametrize(
    ("aws_keys", "users"),
    [(0, 48), (3, 48), (30, 40), (5, 47)],
)
def test_aws_tags_are_neither_copied_nor_counted(aws_keys: int, users: int) -> None:
    existing = [{"key": f"k{i}", "value": "v"} for i in range(users)] + [
        {"key": f"{'aws' if i % 2 else 'AWS'}:cloudformation:{i}", "value": "s"}
        for i in range(aws_keys)
    ]
    merged = merge_tags(existing, OURS)
    keys = [t["key"] for t in merged]
    assert not [k for k in keys if k.lower().startswith("aws:")]
    assert keys == [f"k{i}" for i in range(users)] + [DEPLOY_ID_TAG, PREVIOUS_TAG][: 50 - users]


# What an ECS tag value may hold (letters, digits, spaces and _ . : / = + - @), up to 256.
LEGAL_TAG_VALUE = re.compile(r"[\w .:/=+\-@]{0,256}", re.ASCII)


def test_deploy_keys_keep_apart_what_sanitising_merged() -> None:
    # tag_value mapped both to "b_1"; a deploy_id defaults to SQS's deduplication id,
    # which may hold any punctuation.
    assert deploy_key("prod", "web", "b#1") != deploy_key("prod", "web", "b?1")
    assert deploy_key("prod", "web", "build-1") != deploy_key("prod", "worker", "build-1")
    assert deploy_key("a", "b/c", "d") != deploy_key("a/b", "c", "d")
    assert deploy_key("prod", "web", "x" * 128) == deploy_key("prod", "web", "x" * 128)


names = st.text(min_size=1, max_size=40)


@given(st.tuples(names, names, names), st.tuples(names, names, names))
def test_deploy_keys_are_legal_tag_values_and_distinct_for_distinct_deploys(
    one: tuple[str, str, str], other: tuple[str, str, str]
) -> None:
    assert LEGAL_TAG_VALUE.fullmatch(deploy_key(*one))
    assert tag_value(deploy_key(*one)) == deploy_key(*one)  # nothing to sanitise
    assert (deploy_key(*one) == deploy_key(*other)) is (one == other)


container_names = st.lists(
    st.text(alphabet="abcdefghij", min_size=1, max_size=6), min_size=1, max_size=5, unique=True
)
image_names = st.text(alphabet="abcdefghijklmnop0123456789", min_size=1, max_size=8).map(
    lambda t: f"r/{t}:1"
)


@given(
    st.data(),
    container_names,
)
def test_property_only_named_images_change_and_replanning_is_a_noop(
    data: st.DataObject, names: list[str]
) -> None:
    current = {name: data.draw(image_names) for name in names}
    chosen = data.draw(st.lists(st.sampled_from(names), min_size=1, unique=True))
    wanted = {name: data.draw(image_names) for name in chosen}
    td = described(current)
    plan = plan_deploy(td, TAGS, wanted, OURS, SHAPE)
    if all(current[n] == wanted[n] for n in wanted):
        assert plan is None
        return
    assert plan is not None
    after = {c["name"]: c["image"] for c in plan.register_input["containerDefinitions"]}
    assert after == {**current, **wanted}
    # Everything but the image is untouched, container by container.
    for before_c, after_c in zip(
        td["containerDefinitions"], plan.register_input["containerDefinitions"], strict=True
    ):
        assert {k: v for k, v in before_c.items() if k not in ("image", "futureReadOnlyField")} == {
            k: v for k, v in after_c.items() if k != "image"
        }
    # Applying the plan and planning the same request again changes nothing.
    applied = {**td, **plan.register_input}
    assert plan_deploy(applied, plan.register_input["tags"], wanted, OURS, SHAPE) is None
