"""What a service runs now, read once per deploy, and which of its tags the worker wrote.

`read_current` makes the one to three reads every action starts from; `trusted_previous`
and `sealed_key` read the worker's own tags through their MAC (`deploy.trust`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from deployworker.aws.ecs import Ecs, register_input_shape
from deployworker.deploy import trust
from deployworker.deploy.pin import unpinned
from deployworker.deploy.plan import DEPLOY_KEY_TAG, PREVIOUS_TAG, current_images, tag_map
from deployworker.errors import invalid
from deployworker.rollout.locate import listed
from deployworker.rollout.revisions import PER_CALL, Rollouts


def family_of(task_definition_arn: str) -> str:
    """`family` from `arn:aws:ecs:region:account:task-definition/family:revision`."""
    return task_definition_arn.rsplit("/", 1)[-1].rsplit(":", 1)[0]


@dataclass(frozen=True)
class Current:
    """What a service runs now, read once per deploy."""

    service: dict[str, Any]
    arn: str
    task_definition: dict[str, Any]
    tags: dict[str, str]
    latest_arn: str
    latest_tags: dict[str, str]
    latest_task_definition: dict[str, Any]

    @property
    def images(self) -> dict[str, str]:
        """Container name to image of the running revision."""
        return current_images(self.task_definition)


def read_current(ecs: Ecs, cluster: str, service: str) -> Current:
    """DescribeServices, then the family's newest revision and, if different, the running one.

    Describing the family by name returns its newest revision: usually the one the
    service runs (one call, not two), or one a deploy registered before a crash.
    """
    described = ecs.describe_service(cluster, service)
    arn = str(described["taskDefinition"])
    latest, latest_tags = ecs.describe_task_definition(family_of(arn))
    latest_arn = str(latest["taskDefinitionArn"])
    if latest_arn == arn:
        task_definition, tags = latest, latest_tags
    else:
        task_definition, tags = ecs.describe_task_definition(arn)
    return Current(
        described, arn, task_definition, tag_map(tags), latest_arn, tag_map(latest_tags), latest
    )


def sealed_key(
    key: bytes | None, task_definition: Mapping[str, Any], tags: Mapping[str, str]
) -> str:
    """The deploy key a revision carries, if its MAC holds ("" when it does not)."""
    return trust.trusted(key, task_definition, tags, register_input_shape()).get(DEPLOY_KEY_TAG, "")


def trusted_previous(current: Current, tag_key: bytes | None) -> str | None:
    """The running revision's `previous`, if the worker wrote it (its MAC holds)."""
    found = trust.trusted(tag_key, current.task_definition, current.tags, register_input_shape())
    return found.get(PREVIOUS_TAG)


def older(arn: str, than: str) -> bool:
    """Whether revision `arn` is an earlier revision of the family `than` belongs to."""
    family, number = arn.rsplit(":", 1)
    other, running = than.rsplit(":", 1)
    return family == other and int(number) < int(running)


def check_same_images(
    task_definition: Mapping[str, Any], requested: Mapping[str, str] | None, where: str
) -> None:
    """Refuse a deploy key that comes back with other images than its revision runs.

    A pinned digest may differ (the tag was resolved again); the tag may not. Raises
    `Rejection` naming both images."""
    ran = current_images(task_definition)
    for name, image in sorted((requested or {}).items()):
        had = ran.get(name, "")
        if had != image and unpinned(had) != unpinned(image):
            raise invalid(
                f"{where} was already used for {name}={had}; this message asks for "
                f"{name}={image}. A deploy_id names one deploy of a service: send the "
                "corrected image with a new deploy_id"
            )


def running_images(
    ecs: Ecs,
    cluster: str,
    service: str,
    since: float,
    images: Mapping[str, str],
    rollouts: Rollouts | None = None,
) -> list[str]:
    """The task definitions of the service's deployments created since `since` whose
    service revision runs `images` (tags compared without digests), newest first. The
    service revision lists its images, so no revision that runs others is described.
    The deployments are always listed; what each rolls out comes from `rollouts` where
    it is known (the worker's own deployments, revisions described before)."""
    wanted = {(name, unpinned(image)) for name, image in images.items()}
    briefs = listed(ecs, cluster, service, datetime.fromtimestamp(since, UTC))
    by_revision: dict[str, str] = {}  # target revision -> its newest deployment, newest first
    for brief in briefs:
        arn = str(brief.get("targetServiceRevisionArn") or "")
        if arn and len(by_revision) < PER_CALL:
            by_revision.setdefault(arn, str(brief.get("serviceDeploymentArn") or ""))
    memory = rollouts if rollouts is not None else Rollouts()
    known = {arn: memory.of_deployment(d) for arn, d in by_revision.items()}
    described = memory.of_revisions(ecs, [arn for arn, what in known.items() if what is None])
    found = [known[arn] or described.get(arn) for arn in by_revision]
    return [
        what.task_definition
        for what in found
        if what is not None and wanted <= {(name, unpinned(image)) for name, image in what.images}
    ]
