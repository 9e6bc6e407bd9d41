"""Which followed service deployments an ECS event concerns. Pure: no I/O.

ECS publishes to EventBridge `ECS Deployment State Change` events (`detail.eventName`
SERVICE_DEPLOYMENT_IN_PROGRESS, _COMPLETED or _FAILED, `detail.deploymentId` the
service's `ecs-svc/...` deployment id), `ECS Hook State Change` events (HOOK_AWAITING_ACTION
when a PAUSE hook starts to wait: the ECS guide, "Pause hooks for Amazon ECS service
deployments") and `ECS Service Action` events, each naming the service's ARN in
`resources`. `match` finds the followed deployments an event is
about: by `detail.serviceDeploymentArn` when the event carries one, otherwise by the
service (its ARN in `resources` or `detail.serviceArn`). The `ecs-svc/...` id does not
narrow it further: it is not the service deployment's id, and a rollback runs under a
new one on the same service deployment, so it could only lose wake-ups. Waking every
followed deployment of the service costs at most one batched describe.

Only events that can end or change a verdict wake the watcher (`Kind`): _COMPLETED
and _FAILED, a PAUSE hook awaiting action (its gate starts within a second of the
pause instead of at the next safety-net describe), and a start of another deployment
of the service (it overtakes the followed one, or rolls it back). A deployment's own
start, steady-state notices and warnings are counted as `quiet` and cost nothing.
Events that name no service deployment ARN tell starts apart by their `ecs-svc/...`
id: `Starts` takes the first start heard for a followed deployment as its own, and
wakes it for any other.

An event is a hint, never a verdict: a match only makes the watcher describe those
deployments now. A forged or replayed event can cost a describe call, never end a
deploy. Nothing here keeps the event's content beyond the ARNs and the id it matched.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

SOURCE = "aws.ecs"
DEPLOYMENT_CHANGE = "ECS Deployment State Change"
HOOK_CHANGE = "ECS Hook State Change"
DETAIL_TYPES = frozenset({DEPLOYMENT_CHANGE, HOOK_CHANGE, "ECS Service Action"})
STARTED = "SERVICE_DEPLOYMENT_IN_PROGRESS"
# Sent under either detail type; each can end the followed deployment's verdict.
ENDED = frozenset({"SERVICE_DEPLOYMENT_COMPLETED", "SERVICE_DEPLOYMENT_FAILED"})
AWAITING = "HOOK_AWAITING_ACTION"  # a PAUSE hook waits: a gate may start now
WAKES = ENDED | {AWAITING}
# (region, account, cluster, service): one ECS service, from any ARN that names it.
ServiceKey = tuple[str, str, str, str]


class Result(StrEnum):
    """What became of one event; the label values of `deployworker_ecs_events_total`."""

    DEPLOYMENT = "deployment"  # it named a followed service deployment
    SERVICE = "service"  # it named the service of followed deployments
    UNWATCHED = "unwatched"  # nobody here follows that service: dropped
    IGNORED = "ignored"  # not an ECS event the watcher uses
    INVALID = "invalid"  # not JSON, or no service or deployment named
    QUIET = "quiet"  # about followed deployments, but it cannot end a verdict: no describe


class Kind(StrEnum):
    """Whether an event about followed deployments is worth a describe."""

    WAKE = "wake"  # it can end their verdicts: describe them now
    START = "start"  # a deployment of the service started: theirs, or a newer one
    QUIET = "quiet"  # steady states, warnings, their own start: nothing to look at


@dataclass(frozen=True)
class Match:
    """An event's result, the followed deployments it concerns and what it is worth."""

    result: Result
    arns: tuple[str, ...] = ()
    kind: Kind = Kind.QUIET
    deployment_id: str = ""  # the `ecs-svc/...` id a START names


@dataclass(frozen=True)
class Followed:
    """The followed deployments, indexed for matching (build it once per batch)."""

    arns: frozenset[str]
    by_service: Mapping[ServiceKey, tuple[str, ...]] = field(default_factory=dict)


def service_key(arn: str) -> ServiceKey | None:
    """The service an ECS service or service-deployment ARN names; None for anything
    else, including service ARNs in ECS's retired short format (no cluster in them)."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "ecs":
        return None
    _, _, _, region, account, resource = parts
    kind, _, path = resource.partition("/")
    names = path.split("/")
    expected = {"service": 2, "service-deployment": 3}.get(kind)
    if expected is None or len(names) != expected or not all(names):
        return None
    return region, account, names[0], names[1]


def follow_index(arns: Iterable[str]) -> Followed:
    """Index followed service deployment ARNs by their service."""
    by_service: dict[ServiceKey, list[str]] = {}
    unique = frozenset(arns)
    for arn in sorted(unique):
        key = service_key(arn)
        if key is not None:
            by_service.setdefault(key, []).append(arn)
    return Followed(unique, {k: tuple(v) for k, v in by_service.items()})


def parse(body: str) -> Mapping[str, Any] | None:
    """An SQS message body as an event object; None when it is not a JSON object."""
    try:
        event = json.loads(body)
    except (ValueError, RecursionError):
        return None
    return event if isinstance(event, dict) else None


def match(event: Mapping[str, Any] | None, followed: Followed) -> Match:
    """The followed deployments `event` concerns, and what became of it."""
    if event is None:
        return Match(Result.INVALID)
    if event.get("source") != SOURCE or event.get("detail-type") not in DETAIL_TYPES:
        return Match(Result.IGNORED)
    detail = event.get("detail")
    if not isinstance(detail, Mapping):
        return Match(Result.INVALID)
    deployment = detail.get("serviceDeploymentArn")
    name = detail.get("eventName")
    if isinstance(deployment, str) and deployment in followed.arns:
        return Match(Result.DEPLOYMENT, (deployment,), Kind.WAKE if name in WAKES else Kind.QUIET)
    named = [deployment, detail.get("serviceArn")]
    resources = event.get("resources")
    if isinstance(resources, list):
        named.extend(resources)
    keys = {service_key(arn) for arn in named if isinstance(arn, str)} - {None}
    if not keys:
        return Match(Result.INVALID)
    woken = sorted({arn for key in keys if key for arn in followed.by_service.get(key, ())})
    if not woken:
        return Match(Result.UNWATCHED)
    if name in WAKES or (isinstance(deployment, str) and name == STARTED):
        kind = Kind.WAKE  # an end, a pause, or the start of a deployment not the followed one
    elif name == STARTED:
        kind = Kind.START
    else:  # a deployment event ECS may add later is looked at; a service notice is not
        kind = Kind.WAKE if event["detail-type"] != "ECS Service Action" else Kind.QUIET
    started = detail.get("deploymentId")
    return Match(Result.SERVICE, tuple(woken), kind, started if isinstance(started, str) else "")


class Starts:
    """The `ecs-svc/...` id of the first start heard for each followed deployment.

    ECS sends a start for the deployment the worker made itself, then for any newer
    deployment of the service (someone else's, or a rollback's). The first one heard is
    taken as the followed deployment's own, so only a start with another id wakes it;
    a lost or reordered start costs one describe, or a wait for the safety net.
    """

    def __init__(self) -> None:
        self._ids: dict[str, str] = {}

    def to_wake(self, found: Match) -> tuple[str, ...]:
        """The followed deployments `found` should wake (none for a quiet event)."""
        if found.kind is Kind.WAKE:
            return found.arns
        if found.kind is Kind.QUIET:
            return ()
        own = [self._ids.setdefault(arn, found.deployment_id) for arn in found.arns]
        return tuple(
            arn for arn, first in zip(found.arns, own, strict=True) if first != found.deployment_id
        )

    def keep_only(self, followed: Collection[str]) -> None:
        """Forget deployments no longer followed."""
        for arn in set(self._ids) - set(followed):
            del self._ids[arn]
