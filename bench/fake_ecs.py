"""The in-memory ECS fake: task definitions, services, and simulated rollouts."""

from __future__ import annotations

import copy
import random
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from bench.fakeaws import (
    ACCOUNT,
    ECS_LIMITS,
    REGION,
    Deployment,
    Ledger,
    SimClock,
    _Fake,
    accounted,
    client_error,
)

PREFIX = f"arn:aws:ecs:{REGION}:{ACCOUNT}"


def _revision(arn: str) -> int:
    return int(arn.rsplit(":", 1)[-1])


@dataclass
class Service:
    cluster: str
    name: str
    task_definition: str
    desired: int = 2
    deployments: list[Deployment] = field(default_factory=list)
    history: list[Deployment] = field(default_factory=list)  # every deployment, in order


class FakeEcs(_Fake):
    """The ECS client methods the worker calls, on in-memory state."""

    def __init__(
        self,
        clock: SimClock,
        ledger: Ledger,
        latency: float = 0.040,
        converge: tuple[float, float] = (90.0, 150.0),
        seed: int = 7,
    ) -> None:
        super().__init__(clock, ledger, latency, ECS_LIMITS)
        self._converge = converge
        self._random = random.Random(seed)
        self._task_definitions: dict[str, dict[str, Any]] = {}
        self._tags: dict[str, list[dict[str, str]]] = {}
        self._latest: dict[str, str] = {}
        self._revisions: defaultdict[str, int] = defaultdict(int)
        self.services: dict[tuple[str, str], Service] = {}

    # -- seeding (not counted as calls) ------------------------------------------------------
    def seed_service(self, cluster: str, name: str, image: str, container: str = "app") -> None:
        arn = self._register(
            {
                "family": f"{cluster}-{name}",
                "containerDefinitions": [
                    {"name": container, "image": image, "essential": True, "memory": 256}
                ],
            }
        )
        service = Service(cluster, name, arn)
        service.deployments.append(Deployment("ecs-svc/0", arn, 0.0, 0.0, False, state="COMPLETED"))
        self.services[(cluster, name)] = service

    def _register(self, given: dict[str, Any]) -> str:
        family = str(given["family"])
        self._revisions[family] += 1
        revision = self._revisions[family]
        arn = f"{PREFIX}:task-definition/{family}:{revision}"
        document = {k: copy.deepcopy(v) for k, v in given.items() if k != "tags"}
        document.update(
            taskDefinitionArn=arn,
            revision=revision,
            status="ACTIVE",
            compatibilities=["EC2"],
            registeredAt=time.time(),
        )
        self._task_definitions[arn] = document
        self._tags[arn] = list(given.get("tags") or [])
        self._latest[family] = arn
        return arn

    # -- the API -----------------------------------------------------------------------------
    @accounted
    def register_task_definition(self, **given: Any) -> dict[str, Any]:
        self._enter("RegisterTaskDefinition")
        with self.lock:
            arn = self._register(given)
            document = copy.deepcopy(self._task_definitions[arn])
        return {"taskDefinition": document, "tags": given.get("tags") or []}

    @accounted
    def describe_task_definition(
        self, taskDefinition: str, include: list[str] | None = None
    ) -> dict[str, Any]:
        self._enter("DescribeTaskDefinition")
        with self.lock:
            arn = self._latest.get(taskDefinition, taskDefinition)
            if arn not in self._task_definitions:
                raise client_error(
                    "DescribeTaskDefinition",
                    "ClientException",
                    "Unable to describe task definition.",
                )
            response: dict[str, Any] = {
                "taskDefinition": copy.deepcopy(self._task_definitions[arn])
            }
            if include and "TAGS" in include:
                response["tags"] = [dict(t) for t in self._tags[arn]]
        return response

    @accounted
    def update_service(
        self,
        cluster: str,
        service: str,
        taskDefinition: str | None = None,
        forceNewDeployment: bool = False,
    ) -> dict[str, Any]:
        self._enter("UpdateService")
        with self.lock:
            found = self.services.get((cluster, service))
            if found is None:
                raise client_error(
                    "UpdateService", "ServiceNotFoundException", "Service not found."
                )
            target = taskDefinition or found.task_definition
            if target != found.task_definition or forceNewDeployment:
                self._start_rollout(found, target)
            document = self._document(found)
        return {"service": document}

    @accounted
    def describe_services(self, cluster: str, services: list[str]) -> dict[str, Any]:
        self._enter("DescribeServices", len(services))
        with self.lock:
            found, failures = [], []
            for name in services:
                service = self.services.get((cluster, name))
                if service is None:
                    failures.append(
                        {"arn": f"{PREFIX}:service/{cluster}/{name}", "reason": "MISSING"}
                    )
                else:
                    found.append(self._document(service))
        return {"services": found, "failures": failures}

    # -- rollouts ----------------------------------------------------------------------------
    def _start_rollout(self, service: Service, target: str) -> None:
        now = self.clock.now()
        self._advance(service, now)
        for old in service.deployments:
            old.status = "ACTIVE"
        image = self._task_definitions[target]["containerDefinitions"][0]["image"]
        duration = self._random.uniform(*self._converge)
        deployment = Deployment(
            f"ecs-svc/{uuid.uuid4().int % 10**19:019d}",
            target,
            now,
            now + duration,
            "fail" in image.rsplit(":", 1)[-1],
            registered=_revision(target) > _revision(service.task_definition),
        )
        service.deployments.insert(0, deployment)
        service.history.append(deployment)
        service.task_definition = target

    def _advance(self, service: Service, now: float) -> None:
        """Finish rollouts whose time has come: ECS drops the old deployments on success."""
        for deployment in service.deployments:
            if deployment.state == "IN_PROGRESS" and now >= deployment.finish_at:
                deployment.state = "FAILED" if deployment.fails else "COMPLETED"
        primary = service.deployments[0]
        if primary.state == "COMPLETED":
            service.deployments = [primary]

    def _document(self, service: Service) -> dict[str, Any]:
        self._advance(service, self.clock.now())
        return {
            "serviceName": service.name,
            "serviceArn": f"{PREFIX}:service/{service.cluster}/{service.name}",
            "clusterArn": f"{PREFIX}:cluster/{service.cluster}",
            "status": "ACTIVE",
            "taskDefinition": service.task_definition,
            "desiredCount": service.desired,
            "runningCount": service.desired,
            "deployments": [d.document(service.desired) for d in service.deployments],
        }

    # -- for the report ----------------------------------------------------------------------
    def last_finished(self, cluster: str, service: str, now: float) -> Deployment | None:
        """The service's most recent deployment whose rollout had ended by `now`."""
        with self.lock:
            ended = [d for d in self.services[(cluster, service)].history if d.finish_at <= now]
        return max(ended, key=lambda d: d.finish_at) if ended else None

    def image_history(self, cluster: str, service: str) -> list[str]:
        """Images of every deployment the service went through, in order."""
        with self.lock:
            history = self.services[(cluster, service)].history
            return [
                self._task_definitions[d.task_definition]["containerDefinitions"][0]["image"]
                for d in history
            ]
