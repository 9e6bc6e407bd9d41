"""Assessment of one service deployment: the verdict is ECS's own status, for every
strategy and every rollback, whoever started it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from deployworker.rollout.assess import FINISHED_STATUSES, State, assess

STATUSES = [
    "PENDING",
    "SUCCESSFUL",
    "STOPPED",
    "STOP_REQUESTED",
    "IN_PROGRESS",
    "ROLLBACK_REQUESTED",
    "ROLLBACK_IN_PROGRESS",
    "ROLLBACK_SUCCESSFUL",
    "ROLLBACK_FAILED",
]


def deployment(status: str, **extra: Any) -> dict[str, Any]:
    return {"serviceDeploymentArn": "arn:sd/1", "status": status, **extra}


@pytest.mark.parametrize(
    ("doc", "state", "reason"),
    [
        (deployment("SUCCESSFUL"), State.CONVERGED, "service deployment successful"),
        (
            deployment(
                "ROLLBACK_SUCCESSFUL",
                rollback={"reason": "ECS deployment circuit breaker: tasks failed to start."},
            ),
            State.ROLLED_BACK,
            "ECS deployment circuit breaker: tasks failed to start.",
        ),
        (
            deployment(
                "ROLLBACK_SUCCESSFUL",
                rollback={"reason": "alarm triggered"},
                alarms={"triggeredAlarmNames": ["web-5xx"]},
            ),
            State.ROLLED_BACK,
            "alarm triggered; alarms in ALARM: web-5xx",
        ),
        (
            deployment("ROLLBACK_FAILED", statusReason="no capacity"),
            State.FAILED,
            "ECS could not roll back: no capacity",
        ),
        (
            deployment("STOPPED", statusReason="stopped by a newer deployment"),
            State.STOPPED,
            "stopped by a newer deployment",
        ),
        (deployment("STOPPED"), State.STOPPED, "stopped"),
        (deployment("IN_PROGRESS"), State.IN_PROGRESS, "in_progress"),
        (deployment("PENDING"), State.IN_PROGRESS, "pending"),
        (deployment("ROLLBACK_IN_PROGRESS"), State.IN_PROGRESS, "rollback_in_progress"),
    ],
)
def test_status_decides(doc: dict[str, Any], state: State, reason: str) -> None:
    verdict = assess(doc, timed_out=False)
    assert (verdict.state, verdict.reason) == (state, reason)


@pytest.mark.parametrize(
    ("doc", "progress"),
    [
        (deployment("PENDING"), "PENDING"),
        (deployment("IN_PROGRESS", lifecycleStage="SCALE_UP"), "SCALE_UP"),
        (
            deployment(
                "IN_PROGRESS",
                lifecycleStage="PRODUCTION_TRAFFIC_SHIFT",
                targetServiceRevision={"arn": "r", "requestedProductionTrafficWeight": 25.0},
            ),
            "PRODUCTION_TRAFFIC_SHIFT 25%",
        ),
        (
            deployment(
                "IN_PROGRESS",
                lifecycleStage="BAKE_TIME",
                targetServiceRevision={"arn": "r", "requestedProductionTrafficWeight": 100.0},
            ),
            "BAKE_TIME",
        ),
        (
            deployment(
                "IN_PROGRESS",
                lifecycleStage="POST_TEST_TRAFFIC_SHIFT",
                lifecycleHookDetails=[
                    {
                        "hookId": "h1",
                        "targetType": "PAUSE",
                        "status": "AWAITING_ACTION",
                        "expiresAt": datetime(2026, 11, 24, 14, 5, tzinfo=UTC),
                        "timeoutAction": "CONTINUE",
                    }
                ],
            ),
            "paused at POST_TEST_TRAFFIC_SHIFT until 14:05Z (then CONTINUE)",
        ),
        (
            deployment(
                "IN_PROGRESS",
                lifecycleStage="POST_SCALE_UP",
                lifecycleHookDetails=[
                    {"hookId": "h1", "targetType": "AWS_LAMBDA", "status": "IN_PROGRESS"}
                ],
            ),
            "POST_SCALE_UP",  # a Lambda hook runs; nothing waits for a human
        ),
        (deployment("ROLLBACK_IN_PROGRESS", lifecycleStage="SCALE_UP"), "rolling back (SCALE_UP)"),
    ],
)
def test_progress_of_an_unfinished_deployment(doc: dict[str, Any], progress: str) -> None:
    verdict = assess(doc, timed_out=False)
    assert verdict.state == State.IN_PROGRESS
    assert verdict.progress == progress


@given(st.sampled_from(STATUSES), st.booleans())
def test_a_finished_deployment_keeps_its_ending_at_the_deadline(
    status: str, timed_out: bool
) -> None:
    verdict = assess(deployment(status), timed_out)
    if status in FINISHED_STATUSES:
        assert verdict.state not in (State.IN_PROGRESS, State.TIMED_OUT)
    elif timed_out:
        assert verdict.state == State.TIMED_OUT
    else:
        assert verdict.state == State.IN_PROGRESS


@given(st.dictionaries(st.text(max_size=20), st.text(max_size=20), max_size=5))
def test_any_document_gets_a_verdict(doc: dict[str, Any]) -> None:
    assert assess(doc, timed_out=False).state in set(State)
