"""moto's ECS backend, patched to run simulated service deployments.

UpdateService of an ECS-controller service with a new task definition (or a forced
deployment) records a service revision and starts a `ServiceDeployment`, stopping
any older one still under way, and starts a legacy PRIMARY deployment beside it;
CODE_DEPLOY and EXTERNAL services refuse a new task definition, as ECS does. `tick`
moves every deployment on and `apply` carries out the effects on moto's service.
RunTask and ListTasks are patched too (see `_run_task`, `_list_tasks`), and
DeleteService deletes the service's service deployments, as ECS does.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any, Protocol

from moto.core.utils import utcnow
from moto.ecs.exceptions import InvalidParameterException
from moto.ecs.models import EC2ContainerServiceBackend

from deployworker.local import digests, ecsevents, evidence, legacy
from deployworker.local.effects import (
    FAILED,
    FAILED_TASKS,
    ROLLBACK,
    ROLLED_BACK,
    STOPPED,
    SUCCEEDED,
    Effect,
    Identity,
)
from deployworker.local.rules import Rules
from deployworker.local.servicedeploy import ServiceDeployment
from deployworker.local.stages import plan
from deployworker.local.store import LOCK, Store, Tracked, live_stores, new_arn, new_revision, store

NO_TASK_DEFINITION_UPDATE = {
    "CODE_DEPLOY": "Unable to update task definition on services with a CODE_DEPLOY deployment "
    "controller. Use AWS CodeDeploy to trigger a new deployment.",
    "EXTERNAL": "Unable to update task definition on services with a EXTERNAL deployment "
    "controller. Use task sets to trigger a new deployment.",
}


class Simulation(Protocol):
    """What the patches need of the simulator: its current rules and its clock."""

    rules: Rules
    clock: Callable[[], float]


_active: Simulation | None = None
_PATCHED = ("update_service", "run_task", "list_tasks", "delete_service")
_ORIGINAL: dict[str, Any] = {name: getattr(EC2ContainerServiceBackend, name) for name in _PATCHED}


def controller(service: Any) -> str:
    """The service's deploymentController type."""
    return str((service.deployment_controller or {}).get("type") or "ECS")


def on_create(backend: Any, service: Any) -> None:
    """CreateService's first revision and its deployment, SUCCESSFUL at once."""
    if controller(service) != "ECS" or service.task_definition is None:
        return
    now = utcnow()
    revision = new_revision(backend, service, now)["serviceRevisionArn"]
    ident = Identity(
        new_arn(backend, "service-deployment", service),
        service.arn,
        service.cluster_arn,
        revision,
        (),
    )
    config = getattr(service, "deployment_configuration", None) or {}
    first = ServiceDeployment.completed(ident, config, service.desired_count, now)
    found = store(backend)
    found.stable[service.arn] = revision
    legacy_id = service.deployments[0]["id"] if service.deployments else None
    found.deployments[ident.arn] = Tracked(first, service, legacy_id)
    service.current_service_deployment = ident.arn


def _start(backend: Any, service: Any, legacy_id: str) -> None:
    rules = _active.rules if _active is not None else Rules()
    found, now = store(backend), utcnow()
    target = new_revision(backend, service, now)
    older = [t for t in found.of_service(service.arn) if not t.deployment.finished]
    sources: list[str] = []
    for arn in [found.stable.get(service.arn), *(t.deployment.ident.target for t in older)]:
        if arn and arn not in sources and arn != target["serviceRevisionArn"]:
            sources.append(arn)
    images = [str(image["image"]) for image in target["containerImages"]]
    config = getattr(service, "deployment_configuration", None) or {}
    ident = Identity(
        new_arn(backend, "service-deployment", service),
        service.arn,
        service.cluster_arn,
        target["serviceRevisionArn"],
        tuple(sources),
    )
    timing = rules.timing()
    deployment = ServiceDeployment(
        ident, config, plan(config, timing), rules.fate(images), service.desired_count, timing, now
    )
    for superseded in older:
        superseded.deployment.supersede(ident.arn, now)
    found.deployments[ident.arn] = Tracked(deployment, service, legacy_id)
    service.current_service_deployment = ident.arn


def _update_service(self: Any, service_properties: dict[str, Any]) -> Any:
    cluster = service_properties.get("cluster", "default")
    name = str(service_properties["service"]).split("/")[-1]
    before = self._get_service(cluster, name)
    kind = controller(before)
    if service_properties.get("task_definition") and kind in NO_TASK_DEFINITION_UPDATE:
        raise InvalidParameterException(NO_TASK_DEFINITION_UPDATE[kind])
    with LOCK:
        before_task_definition = before.task_definition
        before_deployments = [dict(d) for d in before.deployments]
        before_config = getattr(before, "deployment_configuration", None) or {}
        force = bool(service_properties.get("force_new_deployment"))
        service = _ORIGINAL["update_service"](self, service_properties)
        if service_properties.get("deployment_configuration"):
            # ECS keeps the settings an update leaves out; moto replaces the whole object.
            service.deployment_configuration = {
                **before_config,
                **service_properties["deployment_configuration"],
            }
        changed = force or service.task_definition != before_task_definition
        if _active is not None and kind == "ECS" and changed:
            _start(self, service, legacy.start(service, before_deployments))
    return service


def _run_task(self: Any, *args: Any, **kwargs: Any) -> Any:
    # moto reports exit code 0 for every task; a command override matching the fail
    # pattern exits 1, so migrations can fail in local mode and in tests.
    tasks = _ORIGINAL["run_task"](self, *args, **kwargs)
    digests.fill(tasks)
    overrides = kwargs.get("overrides") or (args[3] if len(args) > 3 else None) or {}
    pattern = _active.rules.task_fail_pattern if _active is not None else None
    commands = [" ".join(o.get("command") or []) for o in overrides.get("containerOverrides") or []]
    if pattern and any(re.search(pattern, c) for c in commands):
        for task in tasks:
            for container in task.containers:
                container.exitCode = 1
    return tasks


def _list_tasks(self: Any, *args: Any, **kwargs: Any) -> Any:
    # moto ignores serviceName (its services start no tasks); the simulator's tasks of a
    # service carry the group ECS gives them, `service:<name>`.
    tasks = _ORIGINAL["list_tasks"](self, *args, **kwargs)
    service_name = kwargs.get("service_name") or (args[4] if len(args) > 4 else None)
    if service_name:
        group = f"service:{str(service_name).split('/')[-1]}"
        tasks = [t for t in tasks if t.group == group]
    return tasks


def _delete_service(self: Any, *args: Any, **kwargs: Any) -> Any:
    # ECS deletes a service's service deployments with it: afterwards they are MISSING
    # to DescribeServiceDeployments, finished or not.
    service = _ORIGINAL["delete_service"](self, *args, **kwargs)
    with LOCK:
        found = store(self)
        for arn in [a for a, t in found.deployments.items() if t.service is service]:
            del found.deployments[arn]
    return service


def apply(backend: Any, found: Store, tracked: Tracked, effects: list[Effect]) -> None:
    """Carry out a deployment's effects on its moto service. Callers hold LOCK."""
    service, deployment = tracked.service, tracked.deployment
    prefix = f"(service {service.name})"
    for effect in effects:
        if effect.kind == FAILED:
            legacy.fail(service, tracked.legacy_id, effect.reason, FAILED_TASKS)
            revision = found.revisions[deployment.ident.target]
            evidence.failed_tasks(
                backend, service, revision["taskDefinition"], tracked.legacy_id or "", FAILED_TASKS
            )
            evidence.event(service, f"{prefix} deployment failed: tasks failed to start.")
        elif effect.kind == ROLLBACK and deployment.rollback is not None:
            legacy.fail(service, tracked.legacy_id, effect.reason)
            source = deployment.rollback["serviceRevisionArn"]
            service.task_definition = found.revisions[source]["taskDefinition"]
            tracked.rollback_legacy_id = legacy.start(service, list(service.deployments))
            evidence.event(service, f"{prefix} rolling back to {source}: {effect.reason}")
        elif effect.kind == ROLLED_BACK:
            legacy.complete(service, tracked.rollback_legacy_id)
            evidence.event(service, f"{prefix} has reached a steady state.")
        elif effect.kind == STOPPED:
            legacy.fail(service, tracked.legacy_id, effect.reason)
            evidence.event(service, f"{prefix} deployment stopped: {effect.reason}")
        elif effect.kind == SUCCEEDED:
            legacy.complete(service, tracked.legacy_id)
            found.stable[service.arn] = deployment.ident.target
            evidence.event(service, f"{prefix} (deployment {tracked.legacy_id}) completed.")
            evidence.event(service, f"{prefix} has reached a steady state.")


def now() -> float:
    """The installed simulator's monotonic time, which calls from the API act at."""
    return _active.clock() if _active is not None else time.monotonic()


def tick(mono: float) -> None:
    """Move every unfinished deployment of every backend on to `mono`, then put the
    ECS events their changes of status send (outside the lock: moto delivers them)."""
    events: list[ecsevents.Pending] = []
    with LOCK:
        now = utcnow()
        for backend, found in live_stores():
            for tracked in list(found.deployments.values()):
                if not tracked.deployment.finished:
                    apply(backend, found, tracked, tracked.deployment.tick(mono, now))
                    events += ecsevents.changes(backend.account_id, backend.region_name, tracked)
    ecsevents.publish(events)


def install(simulation: Simulation) -> None:
    """Patch moto's backend; `simulation.rules` is read at every use."""
    global _active  # noqa: PLW0603 - moto's backend is process-wide, so is the patch
    _active = simulation
    patches = (_update_service, _run_task, _list_tasks, _delete_service)
    for name, patch in zip(_PATCHED, patches, strict=True):
        setattr(EC2ContainerServiceBackend, name, patch)


def uninstall(simulation: Simulation) -> None:
    """Restore moto's own methods, if `simulation` is the one installed."""
    global _active  # noqa: PLW0603 - moto's backend is process-wide, so is the patch
    if _active is simulation:
        _active = None
        for name, original in _ORIGINAL.items():
            setattr(EC2ContainerServiceBackend, name, original)
