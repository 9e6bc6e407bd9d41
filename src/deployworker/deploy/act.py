"""Chooses how a request is applied, by its action, and applies it.

deploy and promote (and redeploy with digest pinning) register a revision with new
images; rollback and a plain redeploy only update the service. Digest pinning
and the pre-deploy migration hook in here, so every path gets them alike.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import structlog

from deployworker.aws.ecr import Ecr
from deployworker.aws.ecs import Ecs
from deployworker.deploy import retag
from deployworker.deploy.actions import (
    apply_forced_redeploy,
    apply_rollback,
    promote_images,
    promoted_from_tag,
    redeploy_images,
)
from deployworker.deploy.apply import Applied, Current, apply_deploy, deploy_tags, read_current
from deployworker.deploy.gates.show import registration_tags
from deployworker.deploy.migrate import Migrator
from deployworker.deploy.pin import NonEcr, Registry, pin_images
from deployworker.deploy.plan import deploy_key
from deployworker.errors import not_allowed
from deployworker.intake.budget import duration_text, over_budget
from deployworker.intake.entries import Entry
from deployworker.intake.gates import CONVERGED
from deployworker.intake.message import DeployRequest
from deployworker.rollout.deadline import minimum
from deployworker.rollout.revisions import Rollouts

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
    default_timeout: float = 900.0  # DEPLOY_TIMEOUT_SECONDS, for entries without a timeout
    # A promotion's source in another account or region (alias or id, region): its ECS.
    sources: Callable[[str | None, str | None], Ecs] | None = None
    # An entry's `registry_account` (alias or id): its id and its ECR by region.
    registries: Callable[[str], Registry] | None = None
    # The key of the MAC on the worker's own tags (`deploy.trust`); None: tags unsealed.
    tag_key: bytes | None = None
    # With signing: how far back a fresh message's deploy_id is looked for, so a replay
    # of an older deploy is refused instead of downgrading (`apply.apply_deploy`).
    replay_window: float = 0.0
    # What service revisions and the worker's own deployments roll out (never changes).
    rollouts: Rollouts = field(default_factory=Rollouts)

    def check_budget(
        self, request: DeployRequest, entry: Entry, configuration: Mapping[str, Any] | None
    ) -> None:
        """Refuse, before any write, a deploy whose deadline (raised to what the service's
        strategy needs) cannot fit in the time SQS holds one message. Raises `Rejection`."""
        configured = float(entry.timeout or self.default_timeout)
        need = minimum(configuration)
        deadline = max(configured, need.seconds)
        undoing = request.action == "rollback"  # no migration, and no rollback of a rollback
        migration = entry.migrate.timeout if entry.migrate is not None and not undoing else 0
        # A gate at a hook waits inside the hook's timeout, which `need` holds already;
        # a converged gate runs after the rollout, on top of it.
        verify = 0 if undoing else sum(g.seconds for g in entry.gates if g.at == CONVERGED)
        reason = over_budget(deadline, migration, entry.rollback and not undoing, verify)
        if reason is None:
            return
        if need.seconds > configured:
            parts = ", ".join(f"{k} {duration_text(v)}" for k, v in need.parts.items())
            raised = duration_text(need.seconds)
            reason = (
                f"its deploymentConfiguration raises the deadline to {raised} ({parts}); "
                f"the deploy {reason}"
            )
        raise not_allowed(f"{request.cluster_ref.name}/{request.service_ref.name}: {reason}")

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
        self.check_budget(request, entry, current.service.get("deploymentConfiguration"))
        applied = self._apply(request, entry, deploy_id, sent_at, log, current)
        if applied is None:
            return None
        desired = current.service.get("desiredCount")
        return replace(
            applied,
            configuration=current.service.get("deploymentConfiguration"),
            desired_count=int(desired) if desired is not None else None,
            before=None if applied.resumed else current.images,
        )

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
            return apply_rollback(self.ecs, request, entry, current, sent_at, log, self.tag_key)
        gated = registration_tags(entry)  # `status` must see a converged gate
        if request.action == "redeploy" and not entry.pin_digest:
            return apply_forced_redeploy(self.ecs, request, current, sent_at, log, gated)
        if request.action == "redeploy":
            images = redeploy_images(entry, current)
        elif request.action == "promote" and request.promote_from is not None:
            origin = request.promote_from
            there = origin.account is not None or origin.region is not None
            ecs = (
                self.sources(origin.account, origin.region) if there and self.sources else self.ecs
            )
            source = read_current(ecs, origin.cluster, origin.service)
            images = promote_images(entry, source, current)
            extra = promoted_from_tag(source)
        else:
            images = {name: str(ref) for name, ref in request.targets.items()}
            requested = images
        if entry.pin_digest:
            named = entry.registry_account
            registry = self.registries(named) if named and self.registries else None
            images = pin_images(images, self.ecr, self.region, self.account, self.non_ecr, registry)
            log.info("deploy.pinned", images=images)
        key = deploy_key(request.cluster_ref.name, request.service_ref.name, deploy_id)
        extra = {**extra, **gated}
        tags = deploy_tags(request.source, key, deploy_id, current.arn, extra)

        def migrate(service_doc: Mapping[str, Any], target: str) -> None:
            if entry.migrate is not None:
                self.migrator.run(service_doc, target, entry.migrate, deploy_id)

        applied = apply_deploy(
            self.ecs,
            current,
            images,
            tags,
            log,
            migrate,
            requested,
            sent_at,
            self.tag_key,
            self.replay_window,
            self.rollouts,
        )
        if applied is not None:
            return applied
        why = retag.check(self.ecs, self.ecr, current, images, self.region)
        if not why:
            return None
        log.info("deploy.tag_re_resolved", containers=why)
        forced = apply_forced_redeploy(self.ecs, request, current, sent_at, log, gated)
        detail = "; ".join(f"{name}: {reason}" for name, reason in why.items())
        return replace(forced, note=f"{retag.REASON} ({detail})")
