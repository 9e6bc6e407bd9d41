"""The in-memory ECS fake: task definitions, services, and simulated rollouts.

A rollout shows both as the service's legacy `deployments` and as a service
deployment (`bench.fake_deployments_api`); a rollback, whether the circuit
breaker's or StopServiceDeployment's, adds a legacy deployment of the previous
revision and keeps the service deployment's ARN.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from typing import Any

from bench.fake_deployments import ServiceDeployment, deployment_configuration
from bench.fake_deployments_api import DeploymentsApi
from bench.fake_task_definitions import TaskDefinitionsApi
from bench.fake_tasks import TasksApi
from bench.fakeaws import (
    ECS_ARN,
    ECS_LIMITS,
    Deployment,
    Ledger,
    SimClock,
    _Fake,
    accounted,
    client_error,
)


def _revision(arn: str) -> int:
    return int(arn.rsplit(":", 1)[-1])


@dataclass
class Service:
    cluster: str
    name: str
    task_definition: str
    desired: int = 2
    rollback: bool = False  # the circuit breaker rolls a failed rollout back
    deployments: list[Deployment] = field(default_factory=list)
    history: list[Deployment] = field(default_factory=list)  # every deployment, in order
    current: ServiceDeployment | None = None  # the latest service deployment
    revision: str | None = None  # the service revision it runs (or is rolling out)


class FakeEcs(TaskDefinitionsApi, DeploymentsApi, TasksApi, _Fake):
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
        self._rollbacks = random.Random(seed + 1)  # apart, so rollouts draw as they always did
        self._init_deployments(seed)
        self._init_task_definitions()
        self.services: dict[tuple[str, str], Service] = {}

    # -- seeding (not counted as calls) ------------------------------------------------------
    def seed_service(
        self, cluster: str, name: str, image: str, container: str = "app", rollback: bool = False
    ) -> None:
        arn = self._register(
            {
                "family": f"{cluster}-{name}",
                "containerDefinitions": [
                    {"name": container, "image": image, "essential": True, "memory": 256}
                ],
            }
        )
        service = Service(cluster, name, arn, rollback=rollback)
        service.deployments.append(Deployment("ecs-svc/0", arn, 0.0, 0.0, False, state="COMPLETED"))
        self.services[(cluster, name)] = service
        now = self.clock.now()
        service.current = self._deploy(service, arn, "ecs-svc/0", now, now, fails=False)

    # -- the API -----------------------------------------------------------------------------
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
                        {"arn": f"{ECS_ARN}:service/{cluster}/{name}", "reason": "MISSING"}
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
        service.current = self._deploy(
            service, target, deployment.id, now, now + duration, deployment.fails
        )
        service.task_definition = target

    def _deploy(
        self, service: Service, target: str, legacy_id: str, now: float, end: float, fails: bool
    ) -> ServiceDeployment:
        sd = self._new_deployment(
            service.cluster,
            service.name,
            target,
            self._images(target),
            source=service.revision,
            created=now,
            finish_at=end,
            fails=fails,
            auto_rollback=service.rollback,
            desired=service.desired,
            rollback_seconds=self._rollbacks.uniform(*self._converge),
            legacy_id=legacy_id,
        )
        service.revision = sd.target
        return sd

    def _advance_service(self, cluster: str, name: str, now: float) -> None:
        self._advance(self.services[(cluster, name)], now)

    def _advance(self, service: Service, now: float) -> None:
        """Finish rollouts whose time has come: ECS drops the old deployments on success."""
        sd = service.current
        if (
            sd
            and sd.rollback_at is not None
            and sd.rollback_at <= now
            and not sd.legacy_rolled_back
        ):
            self._roll_back(service, sd, sd.rollback_at)
        for deployment in service.deployments:
            if deployment.state == "IN_PROGRESS" and now >= deployment.finish_at:
                deployment.state = "FAILED" if deployment.fails else "COMPLETED"
        primary = service.deployments[0]
        if primary.state == "COMPLETED":
            service.deployments = [primary]

    def _roll_back(self, service: Service, sd: ServiceDeployment, at: float) -> None:
        """The rollback of `sd` (begun at `at`) as the legacy deployments show it."""
        sd.legacy_rolled_back = True
        for old in service.deployments:
            old.status = "ACTIVE"
            if old.id == sd.legacy_id and old.state == "IN_PROGRESS":
                old.state, old.finish_at = "FAILED", min(old.finish_at, at)
                old.reason = sd.rollback_reason
        service.revision = sd.source or sd.target
        source = self._service_revisions[service.revision].task_definition
        back = Deployment(
            f"ecs-svc/{uuid.uuid4().int % 10**19:019d}",
            source,
            at,
            at + sd.rollback_seconds,
            False,
            registered=False,
        )
        service.deployments.insert(0, back)
        service.history.append(back)
        service.task_definition = source

    def _document(self, service: Service) -> dict[str, Any]:
        self._advance(service, self.clock.now())
        assert service.current is not None  # seeding starts one
        return {
            "serviceName": service.name,
            "serviceArn": f"{ECS_ARN}:service/{service.cluster}/{service.name}",
            "clusterArn": f"{ECS_ARN}:cluster/{service.cluster}",
            "status": "ACTIVE",
            "taskDefinition": service.task_definition,
            "desiredCount": service.desired,
            "runningCount": service.desired,
            "deployments": [d.document(service.desired) for d in service.deployments],
            "deploymentConfiguration": deployment_configuration(service.rollback),
            "currentServiceDeployment": service.current.arn,
        }

    # -- for the report ----------------------------------------------------------------------
    def catch_up(self) -> None:
        """Bring every service's deployments up to now: a worker that follows service
        deployments may not describe the services that ECS rolled back itself."""
        with self.lock:
            for service in self.services.values():
                self._advance(service, self.clock.now())

    def last_finished(self, cluster: str, service: str, now: float) -> Deployment | None:
        """The service's most recent deployment whose rollout had ended by `now`."""
        with self.lock:
            self._advance(self.services[(cluster, service)], now)
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
