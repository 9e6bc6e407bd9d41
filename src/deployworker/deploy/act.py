"""Chooses how a request is applied, by its action, and applies it.

deploy and promote (and redeploy with digest pinning) register a revision with new
images; rollback and a plain redeploy only update the service. Digest pinning
and the pre-deploy migration hook in here, so every path gets them alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import structlog

from deployworker.aws.ecr import Ecr
from deployworker.aws.ecs import Ecs
from deployworker.deploy.actions import (
    apply_forced_redeploy,
    apply_rollback,
    promote_images,
    promoted_from_tag,
    redeploy_images,
)
from deployworker.deploy.apply import Applied, Current, apply_deploy, deploy_tags, read_current
from deployworker.deploy.migrate import Migrator
from deployworker.deploy.pin import NonEcr, pin_images
from deployworker.deploy.plan import deploy_key
from deployworker.errors import not_allowed
from deployworker.intake.entries import Entry
from deployworker.intake.message import DeployRequest

Log = structlog.typing.FilteringBoundLogger


def check_controller(service: Mapping[str, Any]) -> None:
    """Refuse services whose deployments ECS does not run itself, before anything is
    registered, migrated or updated: UpdateService with a task definition fails for
    them, so starting would only half-deploy. Raises `Rejection` (not_allowed)."""
    kind = str((service.get("deploymentController") or {}).get("type") or "ECS")
    if kind == "ECS":
        return
    name = f"{str(service.get('clusterArn', '')).rsplit('/', 1)[-1]}/{service.get('serviceName')}"
    raise not_allowed(
        f"service {name} uses the {kind} deployment controller, which deployworker does not "
        "drive; use the ECS controller (strategy ROLLING, or BLUE_GREEN, LINEAR or CANARY "
        "for blue/green traffic shifting) to deploy it with deployworker"
    )


@dataclass
class Actor:
    """Applies requests; holds the adapters and settings the actions need."""

    ecs: Ecs
    migrator: Migrator
    ecr: Ecr
    region: str | None = None
    account: str | None = None
    non_ecr: NonEcr = "reject"

    def apply(
        self, request: DeployRequest, entry: Entry, deploy_id: str, sent_at: float, log: Log
    ) -> Applied | None:
        """Start the change `request` asks for; None when there is nothing to change.

        Raises `Rejection` for a request that turns out impossible, `MigrationFailed`
        when the pre-deploy migration fails, and `AwsError` for AWS failures.
        """
        cluster, service = request.cluster_ref.name, request.service_ref.name
        current = read_current(self.ecs, cluster, service)
        check_controller(current.service)
        applied = self._apply(request, entry, deploy_id, sent_at, log, current)
        if applied is None:
            return None
        return replace(applied, configuration=current.service.get("deploymentConfiguration"))

    def _apply(
        self,
        request: DeployRequest,
        entry: Entry,
        deploy_id: str,
        sent_at: float,
        log: Log,
        current: Current,
    ) -> Applied | None:
        extra: Mapping[str, str] = {}
        requested: dict[str, str] | None = None
        if request.action == "rollback":
            return apply_rollback(self.ecs, request, current, sent_at, log)
        if request.action == "redeploy" and not entry.pin_digest:
            return apply_forced_redeploy(self.ecs, request, current, sent_at, log)
        if request.action == "redeploy":
            images = redeploy_images(entry, current)
        elif request.action == "promote" and request.promote_from is not None:
            source = read_current(
                self.ecs, request.promote_from.cluster, request.promote_from.service
            )
            images = promote_images(entry, source, current)
            extra = promoted_from_tag(source)
        else:
            images = {name: str(ref) for name, ref in request.targets.items()}
            requested = images
        if entry.pin_digest:
            images = pin_images(images, self.ecr, self.region, self.account, self.non_ecr)
            log.info("deploy.pinned", images=images)
        key = deploy_key(request.cluster_ref.name, request.service_ref.name, deploy_id)
        tags = deploy_tags(request.source, key, deploy_id, current.arn, extra)

        def migrate(service_doc: Mapping[str, Any], target: str) -> None:
            if entry.migrate is not None:
                self.migrator.run(service_doc, target, entry.migrate, deploy_id)

        return apply_deploy(self.ecs, current, images, tags, log, migrate, requested, sent_at)
