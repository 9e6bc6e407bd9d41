"""Chooses how a request is applied, by its action, and applies it.

deploy and promote (and redeploy with digest pinning) register a revision with new
images; rollback and a plain redeploy only update the service. Digest pinning
and the pre-deploy migration hook in here, so every path gets them alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
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
from deployworker.deploy.apply import Applied, apply_deploy, deploy_tags, read_current
from deployworker.deploy.migrate import Migrator
from deployworker.deploy.pin import NonEcr, pin_images
from deployworker.intake.entries import Entry
from deployworker.intake.message import DeployRequest

Log = structlog.typing.FilteringBoundLogger


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
        extra: Mapping[str, str] = {}
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
        if entry.pin_digest:
            images = pin_images(images, self.ecr, self.region, self.account, self.non_ecr)
            log.info("deploy.pinned", images=images)
        tags = deploy_tags(request.source, deploy_id, current.arn, extra)

        def migrate(service_doc: Mapping[str, Any], target: str) -> None:
            if entry.migrate is not None:
                self.migrator.run(service_doc, target, entry.migrate, deploy_id)

        return apply_deploy(self.ecs, current, images, tags, deploy_id, log, migrate)
