"""The MAC on the worker's own tags and the "is it the revision the plan registers"
check (pure)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from deployworker.aws.ecs import register_input_shape
from deployworker.deploy import trust
from deployworker.deploy.plan import DEPLOY_KEY_TAG, MAC_TAG, PREVIOUS_TAG, tag_value

KEY = b"worker-only"
SHAPE = register_input_shape()


def revision(image: str = "r/web:1", **extra: Any) -> dict[str, Any]:
    return {
        "family": "prod-web",
        "containerDefinitions": [{"name": "app", "image": image, "memory": 128}],
        **extra,
    }


def sealed(definition: dict[str, Any], key: bytes = KEY) -> dict[str, str]:
    ours = {DEPLOY_KEY_TAG: "v1:abc", PREVIOUS_TAG: "arn:aws:ecs:r:1:task-definition/prod-web:1"}
    register = {**definition, "tags": [{"key": k, "value": v} for k, v in ours.items()]}
    done = trust.sealed(key, register)
    return {t["key"]: t["value"] for t in done["tags"]}


def test_a_sealed_revision_is_trusted() -> None:
    tags = sealed(revision())
    assert trust.trusted(KEY, revision(), tags, SHAPE) == {
        DEPLOY_KEY_TAG: "v1:abc",
        PREVIOUS_TAG: "arn:aws:ecs:r:1:task-definition/prod-web:1",
    }


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({PREVIOUS_TAG: "arn:aws:ecs:r:1:task-definition/evil:1"}, "a forged previous"),
        ({DEPLOY_KEY_TAG: "v1:other"}, "a forged key"),
        ({MAC_TAG: "0" * 64}, "a forged MAC"),
        ({MAC_TAG: "é" * 64}, "a MAC that is not ASCII (ECS allows any letter)"),
    ],
)
def test_a_changed_tag_is_not_trusted(change: dict[str, str], why: str) -> None:
    tags = {**sealed(revision()), **change}
    assert trust.trusted(KEY, revision(), tags, SHAPE) == {}, why


def test_tags_copied_onto_another_revision_are_not_trusted() -> None:
    tags = sealed(revision())
    sidecar = revision()
    sidecar["containerDefinitions"].append({"name": "miner", "image": "x/m:1", "memory": 64})
    assert trust.trusted(KEY, sidecar, tags, SHAPE) == {}
    assert trust.trusted(b"another key", revision(), tags, SHAPE) == {}


def test_without_a_key_the_tags_are_read_as_they_are() -> None:
    tags = {PREVIOUS_TAG: "anything"}
    assert trust.trusted(None, revision(), tags, SHAPE) == tags
    unsealed = trust.sealed(None, {"family": "f", "tags": [{"key": MAC_TAG, "value": "0"}]})
    assert "tags" not in unsealed  # the placeholder never reaches ECS


def test_the_migrated_tag_holds_only_with_its_mac() -> None:
    tags = trust.migrated_tags(KEY, revision(), "arn:task/1", SHAPE)
    assert trust.migrated(KEY, revision(), tags, SHAPE) == "arn:task/1"
    assert trust.migrated(KEY, revision(), {trust.MIGRATED_TAG: "arn:task/1"}, SHAPE) is None
    assert trust.migrated(KEY, revision("r/web:2"), tags, SHAPE) is None
    garbled = {**tags, trust.MIGRATED_MAC_TAG: "é" * 64}
    assert trust.migrated(KEY, revision(), garbled, SHAPE) is None


@pytest.mark.parametrize(
    ("candidate", "differs"),
    [
        (revision(), []),
        (revision("r/web:2"), ["containerDefinitions[app]"]),
        (revision(taskRoleArn="arn:aws:iam::1:role/admin"), ["taskRoleArn"]),
    ],
)
def test_differences_name_what_a_candidate_changes(
    candidate: dict[str, Any], differs: list[str]
) -> None:
    assert trust.differences(candidate, revision()) == differs


@given(st.text(max_size=40), st.text(max_size=40))
def test_any_value_change_breaks_the_seal(before: str, after: str) -> None:
    tags = sealed(revision())
    tags[PREVIOUS_TAG] = before
    tags[MAC_TAG] = trust.seal(KEY, revision(), {DEPLOY_KEY_TAG: "v1:abc", PREVIOUS_TAG: before})
    verified = trust.trusted(KEY, revision(), tags, SHAPE)
    assert verified[PREVIOUS_TAG] == before
    tags[PREVIOUS_TAG] = after
    same = tag_value(after) == tag_value(before)  # ECS never stores the difference
    expected = {**verified, PREVIOUS_TAG: after} if same else {}
    assert trust.trusted(KEY, revision(), tags, SHAPE) == expected
