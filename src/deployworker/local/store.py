"""Where simulated service deployments and revisions live: on moto's ECS backend.

The `Store` hangs off the backend object, so moto's reset (which rebuilds the
backend's `__dict__`) forgets it with everything else. `LOCK` serialises the
simulator thread with moto's request threads: every read or change of a store, or
of a service's deployments, happens under it.
"""

from __future__ import annotations

import string
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from moto.moto_api._internal import mock_random

from deployworker.local.servicedeploy import ServiceDeployment

LOCK = threading.RLock()
_ATTR = "_deployworker_service_deployments"
_ID_CHARS = string.ascii_letters + string.digits


@dataclass
class Tracked:
    """A service deployment, the moto service it deploys, and its legacy deployment ids."""

    deployment: ServiceDeployment
    service: Any
    legacy_id: str | None = None  # the PRIMARY entry of `deployments` this one started
    rollback_legacy_id: str | None = None  # the entry its rollback started
    notified: str = "PENDING"  # the status its last ECS event told of
    hooks_told: set[str] = field(default_factory=set)  # hooks whose waiting was told


@dataclass
class Store:
    """Service deployments (in creation order) and service revisions of one backend."""

    deployments: dict[str, Tracked] = field(default_factory=dict)
    revisions: dict[str, dict[str, Any]] = field(default_factory=dict)
    # service ARN -> the revision it runs when no deployment is under way
    stable: dict[str, str] = field(default_factory=dict)

    def of_service(self, service_arn: str) -> list[Tracked]:
        """The service's deployments, newest first."""
        mine = [
            t for t in self.deployments.values() if t.deployment.ident.service_arn == service_arn
        ]
        return mine[::-1]


_stores: list[tuple[Any, Store]] = []


def store(backend: Any) -> Store:
    """The backend's store, made on first use."""
    found: Store | None = getattr(backend, _ATTR, None)
    if found is None:
        found = Store()
        setattr(backend, _ATTR, found)
        _stores.append((backend, found))
    return found


def live_stores() -> list[tuple[Any, Store]]:
    """Every (backend, store) still in use; a reset backend's old store is dropped."""
    _stores[:] = [(b, s) for b, s in _stores if getattr(b, _ATTR, None) is s]
    return list(_stores)


def new_arn(backend: Any, kind: str, service: Any) -> str:
    """An ARN for a service-revision or service-deployment of `service`."""
    if kind == "service-revision":
        ident = str(mock_random.randint(10**18, 10**19 - 1))
    else:
        ident = "".join(mock_random.choice(_ID_CHARS) for _ in range(21))
    return (
        f"arn:aws:ecs:{backend.region_name}:{backend.account_id}:{kind}/"
        f"{service.cluster_name}/{service.name}/{ident}"
    )


def new_revision(backend: Any, service: Any, now: datetime) -> dict[str, Any]:
    """Record a service revision of what `service` is set to run now; returns it."""
    task_definition = backend.describe_task_definition(service.task_definition)
    images = [
        {"containerName": str(c.get("name", "")), "image": str(c.get("image", ""))}
        for c in task_definition.container_definitions
    ]
    revision = {
        "serviceRevisionArn": new_arn(backend, "service-revision", service),
        "serviceArn": service.arn,
        "clusterArn": service.cluster_arn,
        "taskDefinition": task_definition.arn,
        "launchType": service.launch_type,
        "platformVersion": service.platform_version,
        "platformFamily": None if service.launch_type == "EC2" else "Linux",
        "loadBalancers": list(service.load_balancers or []),
        "serviceRegistries": list(service.service_registries or []),
        "networkConfiguration": service.network_configuration or None,
        "containerImages": images,
        "guardDutyEnabled": False,
        "createdAt": now,
    }
    revision = {k: v for k, v in revision.items() if v is not None}
    store(backend).revisions[revision["serviceRevisionArn"]] = revision
    return revision
