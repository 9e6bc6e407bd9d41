"""ECS's EventBridge events for simulated service deployments, put on moto's default bus.

Which events a status change sends, and their shape, are `eventshapes`' (pure, shared
with the benchmark's fake ECS); `publish` puts them on moto's default bus, whose rules
deliver them to their targets (an SQS queue) as AWS would.

`publish` routes each event through the bus's rules itself, as moto's PutEvents does,
but without input transformers: those need `jsonpath_ng`, which moto's `events` extra
brings and this project does not depend on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from moto.core.utils import unix_time
from moto.events.models import events_backends

from deployworker.local.eventshapes import HOOK_AWAITING_ACTION, event, hook_event, transitions
from deployworker.local.store import Tracked

log = structlog.get_logger("deployworker.local")


@dataclass(frozen=True)
class Pending:
    """One event to put, with what moto's backend needs to route it."""

    account: str
    region: str
    service_arn: str
    name: str
    deployment_id: str
    updated_at: datetime
    rollback: bool
    hook_id: str = ""  # for HOOK_AWAITING_ACTION


def changes(account: str, region: str, tracked: Tracked) -> list[Pending]:
    """The events `tracked`'s deployment sends since the last call: its changes of
    status (a circuit breaker's stop included) and each PAUSE hook that began to wait."""
    deployment = tracked.deployment
    before, tracked.notified = tracked.notified, deployment.status
    breaker = deployment.breaker.get("status") == "TRIGGERED"
    found = [
        Pending(
            account,
            region,
            deployment.ident.service_arn,
            name,
            (tracked.rollback_legacy_id if rollback else tracked.legacy_id) or "",
            deployment.updated_at,
            rollback,
        )
        for name, rollback in transitions(before, deployment.status, breaker)
    ]
    for hook_id in deployment.hooks.waiting:
        if hook_id not in tracked.hooks_told:
            tracked.hooks_told.add(hook_id)
            found.append(
                Pending(
                    account,
                    region,
                    deployment.ident.service_arn,
                    HOOK_AWAITING_ACTION,
                    tracked.legacy_id or "",
                    deployment.updated_at,
                    False,
                    hook_id,
                )
            )
    return found


def message(pending: Pending) -> dict[str, Any]:
    """The event as EventBridge delivers it."""
    if pending.name == HOOK_AWAITING_ACTION:
        return hook_event(
            pending.hook_id,
            pending.service_arn,
            pending.account,
            pending.region,
            pending.updated_at,
            unix_time(),
        )
    return event(
        pending.name,
        pending.rollback,
        pending.deployment_id,
        pending.service_arn,
        pending.account,
        pending.region,
        pending.updated_at,
        unix_time(),  # moto's SQS target writes it as ISO 8601
    )


def publish(events: list[Pending]) -> None:
    """Deliver events through the rules of each account's and region's default bus, in
    order. A failing delivery is logged: it must not stop the simulator."""
    for pending in events:
        try:
            bus = events_backends[pending.account][pending.region].describe_event_bus("default")
            # Scheduled rules (a release's `cleanup`, say) match no event: moto raises on them.
            for rule in [r for r in bus.rules.values() if r.event_pattern.get_pattern()]:
                rule.send_to_targets(message(pending), transform_input=False)
        except Exception:  # an event lost is what the worker's safety net is for
            log.exception("local.ecs_event_failed", event_name=pending.name)
