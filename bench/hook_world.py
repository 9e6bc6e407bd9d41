"""The gated services of `bench.hook_gate`, on moto with the rollout simulator.

Services alternate LINEAR and CANARY, each pausing at PRE_PRODUCTION_TRAFFIC_SHIFT
with a gate there; `FirstAsked` is the gate's provider and notes when each service's
query was asked; `pauses` reads from the simulator when each PAUSE hook began to wait
(on ECS's clock), and `delays` pairs each pause with its gate's first measurement.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Any

import yaml

from deployworker.aws.clients import make_client
from deployworker.local.seed import container_definition
from deployworker.local.simulator import Rules
from deployworker.local.stages import PRE_PRODUCTION
from deployworker.local.store import LOCK, live_stores
from deployworker.rollout.analysis.measure import Measurement, PrometheusQuery, Query

REGION, CLUSTER = "eu-west-1", "bench"
REPO = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/web"
HOOK_MINUTES = 30  # ECS rolls back a hook nobody answers after 30 (simulated) minutes
RULES = Rules(converge_seconds=1.0, minute_seconds=1.0)  # one simulated minute: 1 s
QUERY_SECONDS = 0.3  # a real query takes a while; the hook waits meanwhile


def configuration(index: int) -> tuple[str, dict[str, Any], int]:
    """Service `index`'s strategy, deploymentConfiguration and the pauses ECS makes in
    it: PRE_PRODUCTION_TRAFFIC_SHIFT "is invoked before every traffic shift step" of a
    LINEAR or CANARY deployment (botocore 1.44, DeploymentLifecycleHook.lifecycleStages).
    Even: LINEAR in four 25 % steps; odd: CANARY, 5 % then the rest."""
    hook = {
        "targetType": "PAUSE",
        "lifecycleStages": [PRE_PRODUCTION],
        "timeoutConfiguration": {"timeoutInMinutes": HOOK_MINUTES, "action": "ROLLBACK"},
    }
    common = {"bakeTimeInMinutes": 0, "lifecycleHooks": [hook]}
    if index % 2 == 0:
        linear = {"stepPercent": 25.0, "stepBakeTimeInMinutes": 1}
        return "LINEAR", {"strategy": "LINEAR", "linearConfiguration": linear, **common}, 4
    canary = {"canaryPercent": 5.0, "canaryBakeTimeInMinutes": 1}
    return "CANARY", {"strategy": "CANARY", "canaryConfiguration": canary, **common}, 2


def query(service: str) -> str:
    """The gate's PromQL for `service`: the provider tells the services apart by it."""
    return f'errors{{service="{service}"}}'


class FirstAsked:
    """A healthy provider that notes when each query was asked, then answers after
    QUERY_SECONDS."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.asked: dict[str, list[float]] = {}

    def measure(self, query: Query) -> Measurement:
        assert isinstance(query, PrometheusQuery)
        with self.lock:
            self.asked.setdefault(query.expr, []).append(time.time())
        time.sleep(QUERY_SECONDS)
        return Measurement(0.0, time.time())


def seed(endpoint: str, deploys: int) -> str:
    """Cluster `bench` with a gated service per deploy (svc0, svc1, ...); the allowlist."""
    ecs = make_client("ecs", REGION, endpoint)
    ecs.create_cluster(clusterName=CLUSTER)
    entries = []
    for index in range(deploys):
        name, (_, config, _) = f"svc{index}", configuration(index)
        containers = [container_definition("app", f"{REPO}:1.0")]
        arn = ecs.register_task_definition(
            family=f"{CLUSTER}-{name}", containerDefinitions=containers
        )["taskDefinition"]["taskDefinitionArn"]
        ecs.create_service(
            cluster=CLUSTER,
            serviceName=name,
            taskDefinition=arn,
            desiredCount=2,
            deploymentConfiguration=config,
        )
        errors = {"name": "errors", "prometheus": query(name), "max": 0.01, "count": 1}
        gates = [{"at": PRE_PRODUCTION, "analysis": [errors]}]
        entries.append(
            {"cluster": CLUSTER, "service": name, "containers": ["app"], "images": [REPO]}
            | {"rollback": True, "gates": gates}
        )
    return yaml.safe_dump({"version": 1, "services": entries})


def pauses() -> dict[str, list[tuple[float, str]]]:
    """Every PAUSE hook the simulator opened, per service: when it began to wait (on
    ECS's clock: its expiresAt less its timeout) and how it ended, oldest first."""
    found: dict[str, list[tuple[float, str]]] = {}
    with LOCK:
        for _, store in live_stores():
            for tracked in store.deployments.values():
                for hook in tracked.deployment.hooks.details:
                    expires: datetime = hook["expiresAt"]  # moto's clock: naive UTC
                    expires = expires if expires.tzinfo else expires.replace(tzinfo=UTC)
                    opened = expires.timestamp() - HOOK_MINUTES * RULES.minute_seconds
                    found.setdefault(tracked.service.name, []).append((opened, hook["status"]))
    return {name: sorted(hooks) for name, hooks in found.items()}


def delays(opened: list[float], asked: list[float]) -> list[float | None]:
    """Each pause's delay to the first measurement after it and before the next pause
    opened; None for a pause whose gate never measured."""
    found: list[float | None] = []
    opened, asked = sorted(opened), sorted(asked)
    for index, start in enumerate(opened):
        end = opened[index + 1] if index + 1 < len(opened) else float("inf")
        first = next((t for t in asked if start <= t < end), None)
        found.append(None if first is None else first - start)
    return found
