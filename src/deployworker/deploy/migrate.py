"""Pre-deploy migration: one task from the new revision, run once per deploy.

The task starts with `startedBy` derived from the deploy_id, and an earlier task
with that value is looked for first, so a redelivered message waits for the
migration already under way (or done) instead of running it twice.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import structlog

from deployworker.aws.ecs import Ecs
from deployworker.intake.entries import Migrate

ESSENTIAL_EXIT = "EssentialContainerExited"


class MigrationFailed(Exception):
    """The migration task did not exit 0; the service must not be touched."""

    def __init__(self, reason: str, task_arn: str | None, exit_code: int | None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.task_arn = task_arn
        self.exit_code = exit_code


def started_by(deploy_id: str) -> str:
    """A valid, stable `startedBy` for a deploy_id (letters, digits, hyphens; ≤ 36)."""
    return "dw-" + hashlib.sha256(deploy_id.encode()).hexdigest()[:32]


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


def run_kwargs(
    service: Mapping[str, Any], target: str, migrate: Migrate, tag: str
) -> dict[str, Any]:
    """RunTask input: the new revision, placed as the service places its tasks (pure)."""
    kwargs: dict[str, Any] = {
        "cluster": service["clusterArn"],
        "taskDefinition": target,
        "startedBy": tag,
        "overrides": {
            "containerOverrides": [{"name": migrate.container, "command": list(migrate.command)}]
        },
    }
    if service.get("capacityProviderStrategy"):
        kwargs["capacityProviderStrategy"] = service["capacityProviderStrategy"]
    elif service.get("launchType"):
        kwargs["launchType"] = service["launchType"]
    if service.get("networkConfiguration"):
        kwargs["networkConfiguration"] = service["networkConfiguration"]
    if service.get("platformVersion") and service.get("launchType") == "FARGATE":
        kwargs["platformVersion"] = service["platformVersion"]
    return kwargs


@dataclass
class Migrator:
    """Runs migration tasks and waits for them to stop."""

    ecs: Ecs
    interval: float
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep

    def run(
        self, service: Mapping[str, Any], target: str, migrate: Migrate, deploy_id: str
    ) -> None:
        """Run (or rejoin) the migration for `deploy_id`; raises `MigrationFailed`."""
        log = structlog.get_logger("deployworker.migrate")
        cluster = str(service["clusterArn"])
        tag = started_by(deploy_id)
        earlier = self.ecs.tasks_started_by(cluster, tag)
        if earlier:
            task_arn = earlier[0]
            log.info("migrate.resumed", task_arn=task_arn, started_by=tag)
        else:
            task_arn = str(
                self.ecs.run_task(**run_kwargs(service, target, migrate, tag))["taskArn"]
            )
            log.info("migrate.started", task_arn=task_arn, started_by=tag, task_definition=target)
        deadline = self.clock() + migrate.timeout
        while True:
            task = self.ecs.describe_task(cluster, task_arn)
            if task.get("lastStatus") == "STOPPED":
                ok, reason, exit_code = verdict(task, migrate.container)
                if not ok:
                    log.warning(
                        "migrate.failed", task_arn=task_arn, reason=reason, exit_code=exit_code
                    )
                    raise MigrationFailed(reason, task_arn, exit_code)
                log.info("migrate.succeeded", task_arn=task_arn)
                return
            if self.clock() >= deadline:
                self.ecs.stop_task(cluster, task_arn, "deployworker: migration timed out")
                reason = f"migration timed out after {migrate.timeout}s"
                log.warning("migrate.failed", task_arn=task_arn, reason=reason)
                raise MigrationFailed(reason, task_arn, None)
            self.sleep(self.interval)
