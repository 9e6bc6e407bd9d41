"""Which followed service deployments an ECS event concerns. Pure: no I/O.

ECS publishes to EventBridge `ECS Deployment State Change` events (`detail.eventName`
SERVICE_DEPLOYMENT_IN_PROGRESS, _COMPLETED or _FAILED, `detail.deploymentId` the
service's `ecs-svc/...` deployment id) and `ECS Service Action` events, each naming
the service's ARN in `resources`. `match` finds the followed deployments an event is
about: by `detail.serviceDeploymentArn` when the event carries one, otherwise by the
service (its ARN in `resources` or `detail.serviceArn`). The `ecs-svc/...` id does not
narrow it further: it is not the service deployment's id, and a rollback runs under a
new one on the same service deployment, so it could only lose wake-ups. Waking every
followed deployment of the service costs at most one batched describe.

An event is a hint, never a verdict: a match only makes the watcher describe those
deployments now. A forged or replayed event can cost a describe call, never end a
deploy. Nothing here keeps or returns the event's content beyond the ARNs it matched.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

SOURCE = "aws.ecs"
DETAIL_TYPES = frozenset({"ECS Deployment State Change", "ECS Service Action"})
# (region, account, cluster, service): one ECS service, from any ARN that names it.
ServiceKey = tuple[str, str, str, str]


class Result(StrEnum):
    """What became of one event; the label values of `deployworker_ecs_events_total`."""

    DEPLOYMENT = "deployment"  # it named a followed service deployment
    SERVICE = "service"  # it named the service of followed deployments
    UNWATCHED = "unwatched"  # nobody here follows that service: dropped
    IGNORED = "ignored"  # not an ECS event the watcher uses
    INVALID = "invalid"  # not JSON, or no service or deployment named


@dataclass(frozen=True)
class Match:
    """An event's result and the followed deployments to describe now."""

    result: Result
    arns: tuple[str, ...] = ()


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
    if isinstance(deployment, str) and deployment in followed.arns:
        return Match(Result.DEPLOYMENT, (deployment,))
    named = [deployment, detail.get("serviceArn")]
    resources = event.get("resources")
    if isinstance(resources, list):
        named.extend(resources)
    keys = {service_key(arn) for arn in named if isinstance(arn, str)} - {None}
    if not keys:
        return Match(Result.INVALID)
    woken = sorted({arn for key in keys if key for arn in followed.by_service.get(key, ())})
    if woken:
        return Match(Result.SERVICE, tuple(woken))
    return Match(Result.UNWATCHED)
