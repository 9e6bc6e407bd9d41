"""A release's events: one per member step, one per outcome (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from deployworker.observe.events import DeployEvent
from deployworker.outcome import Result


def member_event(base: Result, member: str, what: str, details: Mapping[str, Any]) -> DeployEvent:
    """`release.<step>` for one member (`service` names it: a service, a schedule, a
    rule target as `rule/target-id`, or a family for `registered`)."""
    reason = details.get("reason") or details.get("state")
    return DeployEvent(
        type=f"release.{what}",
        deploy_id=base.deploy_id,
        service=member,
        reason=str(reason) if reason else None,
        task_definition=details.get("task_definition"),
        release=base.release,
    )


def outcome_event(
    kind: str, result: Result, release: str | None, members: dict[str, str] | None = None
) -> DeployEvent:
    """The release's `received` or outcome event, with each member's state."""
    return DeployEvent(
        type=kind,
        deploy_id=result.deploy_id,
        image=",".join(sorted(set(result.images.values()))) or None,
        outcome=None if kind == "received" else result.outcome.value,
        reason=result.reason or None,
        duration=round(result.duration, 3) if result.duration else None,
        release=release,
        members=members or None,
    )
