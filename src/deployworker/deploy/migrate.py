"""Pre-deploy migration: one task from the new revision, run once per deploy.

Three guards keep a migration from running twice. RunTask carries a `clientToken`
derived from the deploy's key (cluster, service, deploy_id), so a retried call starts
no second task. Its `startedBy` derives from the same key, so a redelivered message
waits for the migration already under way instead of starting one. And a migration
that succeeded tags its revision `deployworker:migrated`: ListTasks forgets stopped
tasks within hours, the tag does not, so a DLQ redrive days later skips it.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import structlog

from deployworker.aws.ecs import Ecs, input_shape, register_input_shape
from deployworker.aws.held import still_held
from deployworker.deploy import trust
from deployworker.deploy.plan import project, tag_map
from deployworker.intake.entries import Migrate

ESSENTIAL_EXIT = "EssentialContainerExited"
MIGRATED_TAG = trust.MIGRATED_TAG


class MigrationFailed(Exception):
    """The migration task did not exit 0; the service must not be touched."""

    def __init__(self, reason: str, task_arn: str | None, exit_code: int | None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.task_arn = task_arn
        self.exit_code = exit_code


def client_token(cluster: str, service: str, deploy_id: str) -> str:
    """RunTask's `clientToken` for a deploy: 64 hex characters, as ECS allows (pure)."""
    return hashlib.sha256("\0".join((cluster, service, deploy_id)).encode()).hexdigest()


def started_by(cluster: str, service: str, deploy_id: str) -> str:
    """A valid, stable `startedBy` for a deploy (letters, digits, hyphens; ≤ 36)."""
    return "dw-" + client_token(cluster, service, deploy_id)[:32]


def _names(service: Mapping[str, Any]) -> tuple[str, str]:
    return str(service["clusterArn"]).rsplit("/", 1)[-1], str(service["serviceName"])


def verdict(task: Mapping[str, Any], container: str) -> tuple[bool, str, int | None]:
    """(succeeded, reason, exit code) of a STOPPED task (pure)."""
    containers = list(task.get("containers") or [])
    mine = next((c for c in containers if c.get("name") == container), None)
    stop_code = task.get("stopCode")
    if stop_code not in (None, ESSENTIAL_EXIT):
        reason = f"task stopped with {stop_code}: {task.get('stoppedReason', '')}".rstrip(": ")
        return False, reason, mine.get("exitCode") if mine else None
    if mine is None:
        return False, f"container {container} is not in the task", None
    exit_code = mine.get("exitCode")
    if exit_code is None:
        return False, f"container {container} has no exit code ({mine.get('reason', '')})", None
    if exit_code != 0:
        return False, f"container {container} exited with code {exit_code}", int(exit_code)
    return True, "exited with code 0", 0


def launch_volumes(service: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The service's `configuredAtLaunch` volumes (its PRIMARY deployment's
    ServiceVolumeConfigurations) as RunTask's TaskVolumeConfigurations (pure)."""
    deployments: list[dict[str, Any]] = list(service.get("deployments") or [])
    primary = next((d for d in deployments if d.get("status") == "PRIMARY"), {})
    volumes = primary.get("volumeConfigurations") or []
    shape = input_shape("RunTask").members["volumeConfigurations"]  # type: ignore[attr-defined]
    return list(project(volumes, shape))


def run_kwargs(
    service: Mapping[str, Any], target: str, migrate: Migrate, tag: str, token: str
) -> dict[str, Any]:
    """RunTask input: the new revision, placed as the service places its tasks (pure)."""
    kwargs: dict[str, Any] = {
        "cluster": service["clusterArn"],
        "taskDefinition": target,
        "startedBy": tag,
        "clientToken": token,
        "overrides": {
            "containerOverrides": [{"name": migrate.container, "command": list(migrate.command)}]
        },
    }
    if service.get("capacityProviderStrategy"):
        kwargs["capacityProviderStrategy"] = service["capacityProviderStrategy"]
    elif service.get("launchType"):
        kwargs["launchType"] = service["launchType"]
    for field in ("networkConfiguration", "placementConstraints", "placementStrategy"):
        if service.get(field):
            kwargs[field] = service[field]
    if service.get("platformVersion") and service.get("launchType") == "FARGATE":
        kwargs["platformVersion"] = service["platformVersion"]
    volumes = launch_volumes(service)
    if volumes:
        kwargs["volumeConfigurations"] = volumes
    return kwargs


@dataclass
class Migrator:
    """Runs migration tasks and waits for them to stop."""

    ecs: Ecs
    interval: float
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    tag_key: bytes | None = None  # `migrated` counts only with its MAC (`deploy.trust`)

    def run(
        self, service: Mapping[str, Any], target: str, migrate: Migrate, deploy_id: str
    ) -> None:
        """Run (or rejoin) the migration for `deploy_id`; raises `MigrationFailed`."""
        log = structlog.get_logger("deployworker.migrate")
        cluster = str(service["clusterArn"])
        revision, tags = self.ecs.describe_task_definition(target)
        shape = register_input_shape()
        done = trust.migrated(self.tag_key, revision, tag_map(tags), shape)
        if done is not None:
            log.info("migrate.skipped", task_definition=target, task_arn=done)
            return
        key = (*_names(service), deploy_id)
        tag = started_by(*key)
        earlier = self.ecs.tasks_started_by(cluster, tag)
        if earlier:
            task_arn = earlier[0]
            log.info("migrate.resumed", task_arn=task_arn, started_by=tag)
        else:
            kwargs = run_kwargs(service, target, migrate, tag, client_token(*key))
            task_arn = str(self.ecs.run_task(**kwargs)["taskArn"])
            log.info("migrate.started", task_arn=task_arn, started_by=tag, task_definition=target)
        deadline = self.clock() + migrate.timeout
        while True:
            still_held()  # a copy lost while the migration runs stops waiting for it
            task = self.ecs.describe_task(cluster, task_arn)
            if task.get("lastStatus") == "STOPPED":
                ok, reason, exit_code = verdict(task, migrate.container)
                if not ok:
                    log.warning(
                        "migrate.failed", task_arn=task_arn, reason=reason, exit_code=exit_code
                    )
                    raise MigrationFailed(reason, task_arn, exit_code)
                # Before UpdateService: a redelivery from here on finds the tag.
                sealed = trust.migrated_tags(self.tag_key, revision, task_arn, shape)
                self.ecs.tag_resource(target, sealed)
                log.info("migrate.succeeded", task_arn=task_arn)
                return
            if self.clock() >= deadline:
                self.ecs.stop_task(cluster, task_arn, "deployworker: migration timed out")
                reason = f"migration timed out after {migrate.timeout}s"
                log.warning("migrate.failed", task_arn=task_arn, reason=reason)
                raise MigrationFailed(reason, task_arn, None)
            self.sleep(self.interval)
