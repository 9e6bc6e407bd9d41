"""`status` classifies a deploy from the service deployment that rolls out its revision."""

from __future__ import annotations

from typing import Any

import pytest

from deployworker.cli.status import EXIT_CODES, FINAL, DeployState, classify
from deployworker.rollout.locate import Newer

OURS = "arn:aws:ecs:eu-west-1:123456789012:task-definition/web:7"


def sd(status: str, **extra: Any) -> dict[str, Any]:
    return {"serviceDeploymentArn": "arn:sd/ours", "status": status, **extra}


@pytest.mark.parametrize(
    ("deployment", "ours", "newer", "state", "detail"),
    [
        (None, None, None, DeployState.PENDING, "no revision registered for this deploy yet"),
        # Registered, migration running, UpdateService not yet called: never terminal.
        (None, OURS, None, DeployState.IN_PROGRESS, "registered, not yet rolled out"),
        (sd("PENDING"), OURS, None, DeployState.IN_PROGRESS, "PENDING"),
        (
            sd(
                "IN_PROGRESS",
                lifecycleStage="PRODUCTION_TRAFFIC_SHIFT",
                targetServiceRevision={"arn": "r", "requestedProductionTrafficWeight": 25.0},
            ),
            OURS,
            None,
            DeployState.IN_PROGRESS,
            "PRODUCTION_TRAFFIC_SHIFT 25%",
        ),
        (sd("SUCCESSFUL"), OURS, None, DeployState.SUCCEEDED, "service deployment successful"),
        (
            sd("ROLLBACK_SUCCESSFUL", rollback={"reason": "circuit breaker"}),
            OURS,
            None,
            DeployState.ROLLED_BACK,
            "circuit breaker",
        ),
        (
            sd("ROLLBACK_FAILED", statusReason="x"),
            OURS,
            None,
            DeployState.FAILED,
            "ECS could not roll back: x",
        ),
        (sd("STOPPED", statusReason="stopped"), OURS, None, DeployState.FAILED, "stopped"),
        (
            sd("STOPPED"),
            OURS,
            Newer("arn:sd/theirs", "arn:td/web:8", "IN_PROGRESS"),
            DeployState.OVERTAKEN,
            "overtaken by arn:sd/theirs (target arn:td/web:8)",
        ),
    ],
)
def test_classify(
    deployment: Any, ours: str | None, newer: Newer | None, state: DeployState, detail: str
) -> None:
    status = classify(deployment, ours, newer)
    assert (status.state, status.detail) == (state, detail)


@pytest.mark.parametrize(
    ("newer_status", "state", "detail"),
    [
        ("SUCCESSFUL", DeployState.ROLLED_BACK, "breaker; back on arn:td/web:6"),
        ("IN_PROGRESS", DeployState.IN_PROGRESS, "rolling back to arn:td/web:6"),
        ("ROLLBACK_FAILED", DeployState.FAILED, "breaker; the rollback failed too"),
    ],
)
def test_a_stopped_deploy_followed_by_its_previous_revision_is_a_rollback(
    newer_status: str, state: DeployState, detail: str
) -> None:
    newer = Newer("arn:sd/restore", "arn:td/web:6", newer_status)
    status = classify(sd("STOPPED", statusReason="breaker"), OURS, newer, "arn:td/web:6")
    assert (status.state, status.detail) == (state, detail)


def test_every_state_has_its_own_exit_code() -> None:
    assert set(EXIT_CODES) == set(DeployState)
    assert len(set(EXIT_CODES.values())) == len(DeployState)
    assert EXIT_CODES[DeployState.SUCCEEDED] == 0
    assert EXIT_CODES[DeployState.OVERTAKEN] == 6
    assert DeployState.IN_PROGRESS not in FINAL
    assert DeployState.OVERTAKEN in FINAL
