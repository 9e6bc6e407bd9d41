"""The ECS fake's service-deployment calls: Describe/List/Stop, and service revisions.

A mixin of `FakeEcs`: it keeps the service deployments and revisions that
UpdateService creates (`_new_deployment`) and answers for them.
"""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime
from typing import Any

from bench.fake_deployments import (
    SUPERSEDED_REASON,
    TERMINAL,
    ServiceDeployment,
    ServiceRevision,
    breaker_threshold,
)
from bench.fakeaws import ECS_ARN, _Fake, accounted, client_error

MAX_DESCRIBE = 20  # ARNs per DescribeServiceDeployments / DescribeServiceRevisions
STATUSES = frozenset(
    {"PENDING", "IN_PROGRESS", "STOP_REQUESTED", "ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS"}
    | TERMINAL
)


def name_of(name_or_arn: str) -> str:
    return name_or_arn.rsplit("/", 1)[-1]


def _seconds(value: Any) -> float:
    """A boto3 timestamp parameter (datetime, epoch seconds or ISO 8601) as epoch seconds."""
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, int | float):
        return float(value)
    return datetime.fromisoformat(str(value)).timestamp()


def paginate(
    items: list[Any], token: str | None, size: int, op: str
) -> tuple[list[Any], str | None]:
    start = int(token) if token and token.isdigit() else 0
    if token is not None and not token.isdigit():
        raise client_error(op, "InvalidParameterException", "Invalid nextToken.")
    more = start + size < len(items)
    return items[start : start + size], (str(start + size) if more else None)


class DeploymentsApi(_Fake):
    """Service deployments and service revisions, on `FakeEcs`'s lock."""

    def _init_deployments(self, seed: int) -> None:
        self._epoch = time.time()
        self._ids = random.Random(seed + 2)
        self._deployments: dict[str, ServiceDeployment] = {}
        self._of_service: dict[tuple[str, str], list[ServiceDeployment]] = {}
        self._service_revisions: dict[str, ServiceRevision] = {}
        self._failing: list[ServiceDeployment] = []
        self._tasks: dict[str, tuple[ServiceDeployment, int]] = {}

    def _stamp(self, t: float) -> datetime:
        return datetime.fromtimestamp(self._epoch + t, UTC)

    def _new_deployment(
        self,
        cluster: str,
        name: str,
        task_definition: str,
        images: list[tuple[str, str]],
        **given: Any,
    ) -> ServiceDeployment:
        """A service deployment to a new revision running `task_definition`; it stops the
        service's unfinished one. `given`: the rest of `ServiceDeployment`'s fields."""
        service_arn, cluster_arn = (
            f"{ECS_ARN}:service/{cluster}/{name}",
            f"{ECS_ARN}:cluster/{cluster}",
        )
        now = given["created"]
        revision = ServiceRevision(
            f"{ECS_ARN}:service-revision/{cluster}/{name}/{self._ids.getrandbits(62)}",
            service_arn,
            cluster_arn,
            task_definition,
            images,
            now,
        )
        self._service_revisions[revision.arn] = revision
        key = f"{self._ids.getrandbits(120):030x}"
        arn = f"{ECS_ARN}:service-deployment/{cluster}/{name}/{key[:20]}"
        sd = ServiceDeployment(arn, service_arn, cluster_arn, target=revision.arn, **given)
        history = self._of_service.setdefault((cluster, name), [])
        if history:
            history[-1].stop(now, SUPERSEDED_REASON)
        history.append(sd)
        self._deployments[arn] = sd
        if sd.fails:
            sd.tasks = [
                f"{ECS_ARN}:task/{cluster}/{key}{i:02d}"
                for i in range(breaker_threshold(sd.desired))
            ]
            self._tasks.update((task, (sd, i)) for i, task in enumerate(sd.tasks))
            self._failing.append(sd)
        return sd

    def _advance_service(self, cluster: str, name: str, now: float) -> None:
        """Bring the service's legacy state up to `now` (FakeEcs does it)."""
        raise NotImplementedError

    # -- service deployments -------------------------------------------------------------------
    @accounted
    def describe_service_deployments(self, serviceDeploymentArns: list[str]) -> dict[str, Any]:
        op = "DescribeServiceDeployments"
        self._enter(op, len(serviceDeploymentArns))
        if not 1 <= len(serviceDeploymentArns) <= MAX_DESCRIBE:
            raise client_error(
                op, "InvalidParameterException", f"Specify 1 to {MAX_DESCRIBE} ARNs."
            )
        now, found, failures = self.clock.now(), [], []
        with self.lock:
            for arn in serviceDeploymentArns:
                sd = self._deployments.get(arn)
                if sd is None:
                    failures.append({"arn": arn, "reason": "MISSING"})
                else:
                    found.append(sd.document(now, self._stamp))
        return {"serviceDeployments": found, "failures": failures}

    @accounted
    def list_service_deployments(
        self,
        service: str,
        cluster: str = "default",
        status: list[str] | None = None,
        createdAt: dict[str, Any] | None = None,
        nextToken: str | None = None,
        maxResults: int | None = None,
    ) -> dict[str, Any]:
        op = "ListServiceDeployments"
        self._enter(op)
        if not 1 <= (maxResults or 20) <= 100 or not set(status or ()) <= STATUSES:
            raise client_error(op, "InvalidParameterException", "Invalid parameter.")
        after = _seconds(createdAt["after"]) if createdAt and "after" in createdAt else None
        before = _seconds(createdAt["before"]) if createdAt and "before" in createdAt else None
        now = self.clock.now()
        with self.lock:
            history = self._of_service.get((name_of(cluster), name_of(service)))
            if history is None:
                raise client_error(op, "ServiceNotFoundException", "Service not found.")
            chosen = [
                sd
                for sd in reversed(history)
                if (not status or sd.status(now) in status)
                and (after is None or self._epoch + sd.created >= after)
                and (before is None or self._epoch + sd.created <= before)
            ]
            page, token = paginate(chosen, nextToken, maxResults or 20, op)
            response: dict[str, Any] = {
                "serviceDeployments": [sd.brief(now, self._stamp) for sd in page]
            }
        if token is not None:
            response["nextToken"] = token
        return response

    @accounted
    def describe_service_revisions(self, serviceRevisionArns: list[str]) -> dict[str, Any]:
        op = "DescribeServiceRevisions"
        self._enter(op, len(serviceRevisionArns))
        if not 1 <= len(serviceRevisionArns) <= MAX_DESCRIBE:
            raise client_error(
                op, "InvalidParameterException", f"Specify 1 to {MAX_DESCRIBE} ARNs."
            )
        found, failures = [], []
        with self.lock:
            for arn in serviceRevisionArns:
                revision = self._service_revisions.get(arn)
                if revision is None:
                    failures.append({"arn": arn, "reason": "MISSING"})
                else:
                    found.append(revision.document(self._stamp))
        return {"serviceRevisions": found, "failures": failures}

    @accounted
    def stop_service_deployment(
        self, serviceDeploymentArn: str, stopType: str = "ROLLBACK"
    ) -> dict[str, Any]:
        op = "StopServiceDeployment"
        self._enter(op)
        if stopType != "ROLLBACK":
            raise client_error(op, "InvalidParameterException", "The fake supports ROLLBACK only.")
        now = self.clock.now()
        with self.lock:
            sd = self._deployments.get(serviceDeploymentArn)
            if sd is None:
                raise client_error(
                    op, "ServiceDeploymentNotFoundException", "Service deployment not found."
                )
            status = sd.status(now)
            if status not in ("PENDING", "IN_PROGRESS") or sd.source is None:
                raise client_error(op, "ConflictException", f"The service deployment is {status}.")
            sd.roll_back(now)
            parts = serviceDeploymentArn.split("/")
            self._advance_service(parts[1], parts[2], now)
        return {"serviceDeploymentArn": serviceDeploymentArn}
