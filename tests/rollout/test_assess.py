"""Rollout assessment, table-driven over the brief's rules."""

from __future__ import annotations

from typing import Any

import pytest

from deployworker.rollout.assess import State, assess


def dep(
    id_: str,
    status: str = "PRIMARY",
    rollout: str | None = "IN_PROGRESS",
    running: int = 0,
    desired: int = 2,
    td: str = "td:2",
) -> dict[str, Any]:
    d: dict[str, Any] = {
        "id": id_,
        "status": status,
        "runningCount": running,
        "desiredCount": desired,
        "taskDefinition": td,
    }
    if rollout is not None:
        d["rolloutState"] = rollout
        d["rolloutStateReason"] = f"reason {rollout}"
    return d


CASES = [
    (
        "in progress",
        [dep("d2"), dep("d1", "ACTIVE", "COMPLETED", 2, td="td:1")],
        False,
        State.IN_PROGRESS,
        None,
    ),
    ("completed", [dep("d2", rollout="COMPLETED", running=2)], False, State.CONVERGED, None),
    (
        "completed beats timeout",
        [dep("d2", rollout="COMPLETED", running=2)],
        True,
        State.CONVERGED,
        None,
    ),
    ("failed, no breaker rollback", [dep("d2", rollout="FAILED")], False, State.FAILED, None),
    (
        "failed, breaker rolled back",
        [dep("d3", td="td:1"), dep("d2", "ACTIVE", "FAILED")],
        False,
        State.FAILED,
        "d3",
    ),
    ("disappeared", [dep("d9")], False, State.FAILED, None),
    ("superseded", [dep("d3", td="td:3"), dep("d2", "ACTIVE")], False, State.FAILED, None),
    ("timed out", [dep("d2")], True, State.FAILED, None),
    (
        "no rolloutState, settled",
        [dep("d2", rollout=None, running=2)],
        False,
        State.CONVERGED,
        None,
    ),
    (
        "no rolloutState, draining old",
        [dep("d2", rollout=None, running=2), dep("d1", "ACTIVE", None, 1)],
        False,
        State.IN_PROGRESS,
        None,
    ),
    (
        "no rolloutState, short",
        [dep("d2", rollout=None, running=1)],
        False,
        State.IN_PROGRESS,
        None,
    ),
]


@pytest.mark.parametrize(
    ("name", "deployments", "timed_out", "state", "rollback"), CASES, ids=[c[0] for c in CASES]
)
def test_assess(
    name: str,
    deployments: list[dict[str, Any]],
    timed_out: bool,
    state: State,
    rollback: str | None,
) -> None:
    verdict = assess({"deployments": deployments}, "d2", timed_out)
    assert verdict.state == state
    assert verdict.rollback_deployment == rollback
    assert verdict.reason


def test_reasons_are_specific() -> None:
    assert (
        assess({"deployments": [dep("d2")]}, "d2", True).reason
        == "timed out waiting for the rollout to converge"
    )
    assert "disappeared" in assess({"deployments": []}, "d2", False).reason
    assert (
        assess({"deployments": [dep("d2", rollout="FAILED")]}, "d2", False).reason
        == "reason FAILED"
    )
