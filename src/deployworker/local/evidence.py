"""What a failed deployment leaves behind in moto, as it does in ECS.

When the circuit breaker trips, ECS has started tasks of the failing revision and
seen them exit: they stay visible as STOPPED tasks (ListTasks with desiredStatus
STOPPED, DescribeTasks with stoppedReason, stopCode and each container's exit code),
and the service's `events` tell the story, newest first. Callers hold `store.LOCK`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from moto.core.utils import utcnow
from moto.ecs.models import Container, Task
from moto.moto_api._internal import mock_random

STOPPED_REASON = "Essential container in task exited"
STOP_CODE = "EssentialContainerExited"
CONTAINER_REASON = "Essential container exited with code 1"
_MAX_EVENTS = 100  # ECS keeps the latest 100 events


def event(service: Any, message: str) -> None:
    """Add a service event, newest first."""
    entry = {"id": str(mock_random.uuid4()), "createdAt": utcnow(), "message": message}
    # A new list, never an update in place: moto may be serialising the old one.
    service.events = [entry, *service.events][:_MAX_EVENTS]


def _containers(task: Task, task_definition: Any) -> list[Container]:
    # moto gives a task one container, the first of its definition; ECS runs them all.
    containers = []
    for definition in task_definition.container_definitions:
        container = Container(task_definition)
        container.task_arn = task.task_arn
        container.name = definition.get("name")
        container.image = definition.get("image")
        container.last_status = "STOPPED"
        container.exitCode = 1
        container.reason = CONTAINER_REASON
        containers.append(container)
    return containers


def failed_tasks(
    backend: Any, service: Any, task_definition_arn: str, started_by: str, count: int
) -> list[str]:
    """Add `count` STOPPED tasks of the revision whose containers exited 1; returns ARNs."""
    task_definition = backend.describe_task_definition(task_definition_arn)
    cluster = backend.clusters[service.cluster_name]
    arns = []
    for _ in range(count):
        task = Task(
            cluster,
            task_definition,
            None,
            None,
            backend,
            group=f"service:{service.name}",
            launch_type=service.launch_type or "",
            started_by=started_by,
            networking_configuration=service.network_configuration or None,
        )
        stopped = utcnow()
        started = stopped - timedelta(seconds=5)
        task.last_status = task.desired_status = "STOPPED"
        task.stopped_reason = STOPPED_REASON
        task.containers = _containers(task, task_definition)
        for name, value in {
            "stop_code": STOP_CODE,
            "created_at": started,
            "started_at": started,
            "stopping_at": stopped,
            "execution_stopped_at": stopped,
            "stopped_at": stopped,
        }.items():
            setattr(task, name, value)
        # Copies, never updates in place: moto's request threads may be iterating them.
        tasks = {**backend.tasks.get(cluster.name, {}), task.task_arn: task}
        backend.tasks = {**backend.tasks, cluster.name: tasks}
        event(service, f"(service {service.name}) has started 1 tasks: (task {task.id}).")
        arns.append(task.task_arn)
    ids = " ".join(f"(task {arn.split('/')[-1]})" for arn in arns)
    event(service, f"(service {service.name}) has stopped {count} running tasks: {ids}.")
    return arns
