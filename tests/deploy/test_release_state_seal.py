"""The MAC on a release's recorded state (pure): it holds only for the state, reason,
release and revision the worker wrote it for."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from deployworker.deploy.release.slots import (
    REASON_TAG,
    STATE_MAC_TAG,
    STATE_TAG,
    recorded_state,
    state_tags,
)

KEY = b"worker-only"
ARN = "arn:aws:ecs:eu-west-1:123456789012:task-definition/prod-web:7"
RELEASE = "v1:release-key"


def written(state: str = "deployed", reason: str = "") -> dict[str, str]:
    return state_tags(KEY, ARN, RELEASE, state, reason)


@pytest.mark.parametrize(
    ("case", "key", "arn", "release", "tags", "expected"),
    [
        ("as written", KEY, ARN, RELEASE, written(), ("deployed", "-")),
        ("reason kept", KEY, ARN, RELEASE, written("failed", "x"), ("failed", "x")),
        ("no state", KEY, ARN, RELEASE, {}, None),
        ("another revision", KEY, ARN[:-1] + "8", RELEASE, written(), None),
        ("another release", KEY, ARN, "v1:other", written(), None),
        ("another key", b"attacker", ARN, RELEASE, written(), None),
        ("state changed", KEY, ARN, RELEASE, {**written(), STATE_TAG: "rolled_back"}, None),
        ("reason changed", KEY, ARN, RELEASE, {**written(), REASON_TAG: "forged"}, None),
        ("no mac", KEY, ARN, RELEASE, {STATE_TAG: "deployed", REASON_TAG: "-"}, None),
        # a tag value may hold any letter ECS accepts: a MAC that is not ASCII is no MAC
        ("mac not ascii", KEY, ARN, RELEASE, {**written(), STATE_MAC_TAG: "é" * 64}, None),
        ("no key: read as is", None, ARN, RELEASE, {STATE_TAG: "deployed"}, ("deployed", "")),
    ],
)
def test_a_recorded_state_counts_only_where_it_was_sealed(
    case: str,
    key: bytes | None,
    arn: str,
    release: str,
    tags: dict[str, str],
    expected: tuple[str, str] | None,
) -> None:
    assert recorded_state(key, arn, release, tags) == expected, case


def test_without_a_key_no_mac_is_written() -> None:
    assert STATE_MAC_TAG not in state_tags(None, ARN, RELEASE, "deployed", "")


@given(
    st.sampled_from(["rolling_back", "rolled_back", "failed", "deployed"]), st.text(max_size=300)
)
def test_any_state_and_reason_the_worker_writes_reads_back(state: str, reason: str) -> None:
    tags = state_tags(KEY, ARN, RELEASE, state, reason)
    assert recorded_state(KEY, ARN, RELEASE, tags) == (state, tags[REASON_TAG])
