"""Whether an entry's gates fit the service's PAUSE hooks, and the gate tag `status` reads."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from deployworker.deploy.gates.fit import hook_seconds, owns_every_pause, problems
from deployworker.deploy.gates.show import GATE_TAG, read, tag
from deployworker.deploy.tagtext import MAX_VALUE
from deployworker.intake.gates import Gate

MANAGERS = "arn:aws:iam::123456789012:role/release-managers"


def pause(stage: str, minutes: int | None = None) -> dict[str, Any]:
    hook: dict[str, Any] = {"targetType": "PAUSE", "lifecycleStages": [stage]}
    if minutes is not None:
        hook["timeoutConfiguration"] = {"timeoutInMinutes": minutes, "action": "ROLLBACK"}
    return hook


def gate(at: str, approval_timeout: str = "30m") -> Gate:
    approval = {"approvers": [MANAGERS], "timeout": approval_timeout}
    return Gate.model_validate({"at": at, "approval": approval})


@pytest.mark.parametrize(
    ("gates", "hooks", "expected"),
    [
        ([gate("POST_TEST_TRAFFIC_SHIFT")], [pause("POST_TEST_TRAFFIC_SHIFT", 60)], []),
        ([gate("converged")], [], []),
        (
            [gate("POST_TEST_TRAFFIC_SHIFT")],
            [pause("POST_SCALE_UP", 60)],
            ["no PAUSE lifecycle hook at POST_TEST_TRAFFIC_SHIFT"],
        ),
        (
            [gate("POST_TEST_TRAFFIC_SHIFT", "2h")],
            [pause("POST_TEST_TRAFFIC_SHIFT", 60)],
            ["may wait 2h, longer than its PAUSE hook's 1h timeout"],
        ),
        # no timeout configured: ECS's default of 24 hours
        ([gate("POST_TEST_TRAFFIC_SHIFT", "2h")], [pause("POST_TEST_TRAFFIC_SHIFT")], []),
        (
            [gate("POST_TEST_TRAFFIC_SHIFT")],
            [{"targetType": "AWS_LAMBDA", "lifecycleStages": ["POST_TEST_TRAFFIC_SHIFT"]}],
            ["no PAUSE lifecycle hook"],
        ),
    ],
)
def test_problems(gates: list[Gate], hooks: list[dict[str, Any]], expected: list[str]) -> None:
    found = problems(tuple(gates), {"strategy": "CANARY", "lifecycleHooks": hooks})
    assert len(found) == len(expected)
    for text, part in zip(found, expected, strict=True):
        assert part in text


def test_hook_seconds() -> None:
    config = {"lifecycleHooks": [pause("PRE_SCALE_UP", 5), pause("PRE_SCALE_UP", 3)]}
    assert hook_seconds(config, "PRE_SCALE_UP") == 180
    assert hook_seconds(config, "POST_SCALE_UP") is None
    assert hook_seconds(None, "PRE_SCALE_UP") is None


@given(
    st.sampled_from(["converged", "POST_TEST_TRAFFIC_SHIFT"]),
    st.sampled_from(["pending", "running", "awaiting", "passed", "failed"]),
    st.text(max_size=400),
)
def test_the_gate_tag_is_a_legal_value_and_reads_back(stage: str, state: str, text: str) -> None:
    tags = tag(stage, state, text)
    value = tags[GATE_TAG]
    assert len(value) <= MAX_VALUE
    assert not value.lower().startswith("aws:")
    shown = read(tags)
    assert shown is not None
    assert (shown.stage, shown.state) == (stage, state)
    if len(value) < MAX_VALUE - 3:  # not cut: the text comes back whole
        assert shown.text == text


POST, PRE = "POST_TEST_TRAFFIC_SHIFT", "PRE_PRODUCTION_TRAFFIC_SHIFT"
LAMBDA_HOOK = {"targetType": "LAMBDA", "lifecycleStages": [POST], "hookTargetArn": "arn:x"}


@pytest.mark.parametrize(
    ("gates", "hooks", "owned"),
    [
        ([gate(POST)], [pause(POST)], True),
        ([gate(POST), gate(PRE)], [pause(POST), pause(PRE)], True),
        ([gate(POST), gate("converged")], [pause(POST)], True),
        ([gate(POST)], [pause(POST), pause(PRE)], False),  # PRE's hook is someone else's
        ([gate("converged")], [pause(POST)], False),
        ([], [pause(POST)], False),
        ([gate(POST)], [], False),  # no PAUSE hook: nothing to continue
        ([gate(POST)], [LAMBDA_HOOK], False),  # a Lambda hook answers itself
        ([gate(POST)], [{"targetType": "PAUSE", "lifecycleStages": [POST, PRE]}], False),
    ],
)
def test_the_worker_owns_a_services_pauses_only_when_it_gates_every_one(
    gates: list[Gate], hooks: list[dict[str, Any]], owned: bool
) -> None:
    """Only then may it continue its own rollback's pauses: a pause at a stage it does
    not gate waits for a person or another tool."""
    assert owns_every_pause(tuple(gates), {"lifecycleHooks": hooks}) is owned
