"""Failure evidence: ECS's reason, recent service events and stopped tasks, and nothing
else from the task (no environment, no secrets)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from deployworker.deploy.evidence import MAX_TASKS, brief, summarize

NEW = "arn:aws:ecs:eu-west-1:123456789012:task-definition/web:7"
OLD = "arn:aws:ecs:eu-west-1:123456789012:task-definition/web:6"


def at(minute: int) -> datetime:
    return datetime(2026, 11, 24, 12, minute, tzinfo=UTC)


def task(definition: str, exit_code: int, n: int = 1) -> dict[str, Any]:
    return {
        "taskArn": f"arn:task/{n}",
        "taskDefinitionArn": definition,
        "stoppedReason": "Essential container in task exited",
        "stopCode": "EssentialContainerExited",
        "overrides": {"containerOverrides": [{"environment": [{"name": "DB", "value": "pw"}]}]},
        "containers": [
            {
                "name": "app",
                "exitCode": exit_code,
                "reason": "OOMKilled",
                "environment": [{"name": "SECRET_KEY", "value": "hunter2"}],
            }
        ],
    }


def test_picks_events_since_the_start_and_tasks_of_the_new_revision() -> None:
    service = {
        "events": [
            {"createdAt": at(30), "message": "(service web) deployment failed"},
            {"createdAt": at(20), "message": "(service web) has started 1 tasks"},
            {"createdAt": at(1), "message": "(service web) has reached a steady state."},
        ]
    }
    tasks = [task(OLD, 0, 1), task(NEW, 137, 2), task(NEW, 1, 3)]
    evidence = summarize("circuit breaker", service, tasks, NEW, at(10).timestamp())
    assert evidence["reason"] == "circuit breaker"
    assert [e["message"] for e in evidence["events"]] == [  # type: ignore[attr-defined]
        "(service web) deployment failed",
        "(service web) has started 1 tasks",
    ]
    stopped = evidence["stopped_tasks"]
    assert [t["task"] for t in stopped] == ["arn:task/2", "arn:task/3"]  # type: ignore[attr-defined]
    assert stopped[0]["containers"] == [  # type: ignore[index]
        {"name": "app", "exit_code": 137, "reason": "OOMKilled"}
    ]
    assert brief(evidence) == (
        "stopped task: Essential container in task exited; app exit 137 (OOMKilled)"
    )


@given(st.lists(st.integers(0, 255), max_size=8), st.text(max_size=50))
def test_never_more_than_three_tasks_and_never_the_environment(
    codes: list[int], reason: str
) -> None:
    tasks = [task(NEW, code, n) for n, code in enumerate(codes)]
    evidence = summarize(reason, {"events": []}, tasks, NEW, 0)
    text = json.dumps(evidence)
    assert len(evidence["stopped_tasks"]) == min(MAX_TASKS, len(codes))  # type: ignore[arg-type]
    assert "hunter2" not in text
    assert "SECRET_KEY" not in text
    assert "environment" not in text


def test_no_evidence_reads_as_nothing() -> None:
    assert brief(None) == ""
    assert brief(summarize("x", None, [], None, 0)) == ""
