"""Why a deploy failed, in ECS's words: gathered once, when a deploy ends badly.

A `failed` or `rolled_back` outcome is only useful with its cause. ECS has it: the
service deployment's reason, the service's recent events and the stopped tasks of
the new revision (their `stoppedReason`, and each container's exit code and reason).
`summarize` picks those fields and nothing else (pure), so environment values and
secrets in task or container definitions can never reach an event or a log line;
`collect` makes the two or three calls it needs and never fails a deploy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import structlog

from deployworker.aws.ecs import Ecs
from deployworker.deploy.apply import family_of
from deployworker.errors import AwsError

log = structlog.get_logger("deployworker.pipeline")

MAX_EVENTS = 5
MAX_TASKS = 3
MAX_TEXT = 300


def _text(value: Any) -> str:
    return str(value)[:MAX_TEXT]


def _at(value: Any) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else None


def summarize(
    reason: str,
    service: Mapping[str, Any] | None,
    tasks: Sequence[Mapping[str, Any]],
    task_definition: str | None,
    since: float,
) -> dict[str, object]:
    """The evidence: ECS's reason, service events since `since` (unix seconds, newest
    first), and up to three stopped tasks of `task_definition`."""
    events = []
    for event in (service or {}).get("events") or []:
        created = event.get("createdAt")
        if isinstance(created, datetime) and created.timestamp() < since:
            continue
        events.append({"at": _at(created), "message": _text(event.get("message", ""))})
        if len(events) == MAX_EVENTS:
            break
    stopped = []
    for task in tasks:
        if task_definition and task.get("taskDefinitionArn") != task_definition:
            continue
        containers = [
            {
                "name": _text(c.get("name", "")),
                "exit_code": c.get("exitCode"),
                "reason": _text(c.get("reason", "")) or None,
            }
            for c in task.get("containers") or []
        ]
        stopped.append(
            {
                "task": _text(task.get("taskArn", "")),
                "stopped_reason": _text(task.get("stoppedReason", "")),
                "stop_code": task.get("stopCode"),
                "containers": containers,
            }
        )
        if len(stopped) == MAX_TASKS:
            break
    return {"reason": reason, "events": events, "stopped_tasks": stopped}


def collect(
    ecs: Ecs,
    cluster: str,
    service: str,
    task_definition: str | None,
    since: float,
    reason: str,
) -> dict[str, object]:
    """Gather the evidence for a deploy that ended badly. AWS errors leave a part out."""
    described: Mapping[str, Any] | None = None
    tasks: list[dict[str, Any]] = []
    try:
        described = ecs.describe_service(cluster, service)
    except AwsError as exc:
        log.warning("evidence.incomplete", part="events", error=str(exc))
    if task_definition:
        try:
            # A few more than we keep: the family's other revisions stop tasks too.
            tasks = ecs.stopped_tasks(cluster, family_of(task_definition), limit=10)
        except AwsError as exc:
            log.warning("evidence.incomplete", part="stopped_tasks", error=str(exc))
    return summarize(reason, described, tasks, task_definition, since)


def brief(evidence: Mapping[str, object] | None) -> str:
    """One line for `status` and humans: the first stopped task and its exit codes."""
    if not evidence:
        return ""
    tasks = evidence.get("stopped_tasks")
    if not isinstance(tasks, list) or not tasks:
        return ""
    first = tasks[0]
    codes = ", ".join(
        f"{c['name']} exit {c['exit_code']}" + (f" ({c['reason']})" if c.get("reason") else "")
        for c in first.get("containers", [])
    )
    text = f"stopped task: {first.get('stopped_reason', '')}"
    return f"{text}; {codes}" if codes else text
