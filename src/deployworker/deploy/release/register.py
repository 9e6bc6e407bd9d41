"""One new revision per family per release, registered once however often the
message comes back.

A redelivered release finds its revision by the deploy-key tag: on a slot that
already runs it, or as the family's newest revision; only a family with neither is
registered. The revision's tags record what every slot ran before (`release-was:`),
so the rollback of a resumed release knows where to go. With a tag key, a revision is
registered sealed (`deploy.trust`, as `apply` seals a service's), so a later rollback of
one member alone trusts its `previous`; and an earlier revision counts only when its
deploy key's MAC holds (a revision pre-staged with a predicted key is not adopted).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import structlog

from deployworker.aws.ecs import Ecs, register_input_shape
from deployworker.deploy import trust
from deployworker.deploy.apply import deploy_tags
from deployworker.deploy.plan import DEPLOY_KEY_TAG, MAC_TAG, PREVIOUS_TAG, plan_deploy, tag_map
from deployworker.deploy.release.slots import (
    RELEASE_MAC_TAG,
    RELEASE_TAG,
    WAS_TAG,
    Slot,
    release_tags,
    was_tags,
)
from deployworker.deploy.tagseal import same
from deployworker.errors import invalid
from deployworker.failpoints import failpoint
from deployworker.intake.message import Source

log = structlog.get_logger("deployworker.release")


@dataclass(frozen=True)
class Revision:
    """A family's new revision for this release and its tags."""

    family: str
    arn: str
    tags: dict[str, str]
    registered: bool  # by this delivery (False: found, from an earlier one)

    def previous(self, slot: Slot) -> str:
        """What `slot` ran before this release."""
        if slot.current != self.arn:
            return slot.current
        return self.tags.get(WAS_TAG + slot.id) or self.tags.get(PREVIOUS_TAG, slot.current)


class Registrar:
    """Finds or registers each family's revision."""

    def __init__(self, ecs: Ecs, tag_key: bytes | None = None) -> None:
        self._ecs = ecs
        self._tag_key = tag_key
        self._described: dict[str, tuple[dict[str, Any], dict[str, str]]] = {}

    def _describe(self, arn: str) -> tuple[dict[str, Any], dict[str, str]]:
        if arn not in self._described:
            task_definition, tags = self._ecs.describe_task_definition(arn)
            self._described[arn] = task_definition, tag_map(tags)
        return self._described[arn]

    def revisions(
        self,
        slots: Sequence[Slot],
        images: Mapping[str, Mapping[str, str]],
        key: str,
        deploy_id: str,
        release: str,
        source: Source | None,
        register: bool = True,
    ) -> dict[str, Revision]:
        """Family to its revision for this release; a family whose slots already run
        the images gets none, and with `register` False only revisions found count.
        Raises `Rejection` for a container a family lacks."""
        found: dict[str, Revision] = {}
        for family, wanted in images.items():
            mine = [s for s in slots if s.family == family]
            args = (mine, family, wanted, key, deploy_id, release, source)
            revision = self._one(*args) if register else self._found(mine, family, key)
            if revision is not None:
                found[family] = revision
        return found

    def _one(
        self,
        slots: Sequence[Slot],
        family: str,
        images: Mapping[str, str],
        key: str,
        deploy_id: str,
        release: str,
        source: Source | None,
    ) -> Revision | None:
        earlier = self._found(slots, family, key)
        if earlier is not None:
            return earlier
        # The slots of a family may run different revisions: the first member's is the
        # base (the others get its settings with the new images).
        base = slots[0]
        task_definition, tags = self._describe(base.current)
        ours = was_tags(slots, family)
        ours[RELEASE_TAG] = release
        sealing = {}
        if self._tag_key is not None:  # room for the MACs; filled in below
            sealing = {MAC_TAG: trust.PLACEHOLDER, RELEASE_MAC_TAG: trust.PLACEHOLDER}
        plan = plan_deploy(
            task_definition,
            [{"key": k, "value": v} for k, v in tags.items()],
            images,
            deploy_tags(source, key, deploy_id, base.current, {**ours, **sealing}),
            register_input_shape(),
        )
        if plan is None:
            return None
        kept = {t["key"] for t in plan.register_input.get("tags", [])}
        if not set(ours) <= kept:
            raise invalid(
                f"task definition family {family} has too many tags for a release: it needs "
                f"{len(ours)} of ECS's 50 to record where each member goes back to"
            )
        register_input = self._sealed(plan.register_input)
        arn = self._ecs.register_task_definition(register_input)
        log.info("release.registered", family=family, task_definition=arn, previous=base.current)
        failpoint("registered")
        registered = {t["key"]: t["value"] for t in register_input["tags"]}
        return Revision(family, arn, registered, True)

    def _sealed(self, register_input: dict[str, Any]) -> dict[str, Any]:
        """`register_input` with its MACs: `deploy-key` and `previous` (as a service's),
        and the release's own tags (`release-mac`), both bound to the content."""
        sealed = trust.sealed(self._tag_key, register_input)
        if self._tag_key is None:
            return sealed
        tags = {t["key"]: t["value"] for t in sealed["tags"]}
        mac = trust.seal(self._tag_key, sealed, release_tags(tags))
        sealed["tags"] = [
            {**t, "value": mac} if t["key"] == RELEASE_MAC_TAG else t for t in sealed["tags"]
        ]
        return sealed

    def _found(self, slots: Sequence[Slot], family: str, key: str) -> Revision | None:
        """The revision an earlier delivery registered: on a slot, or the family's newest."""
        for slot in slots:
            task_definition, tags = self._describe(slot.current)
            if self._key_of(task_definition, tags) == key:
                return Revision(family, slot.current, self._kept(task_definition, tags), False)
        latest, latest_tags = self._describe(family)
        if self._key_of(latest, latest_tags) == key:
            arn = str(latest["taskDefinitionArn"])
            return Revision(family, arn, self._kept(latest, latest_tags), False)
        return None

    def _kept(self, task_definition: Mapping[str, Any], tags: dict[str, str]) -> dict[str, str]:
        """`tags` without the `release-was:` ones when their MAC does not hold (a member
        then goes back to the sealed `previous`)."""
        if self._tag_key is None:
            return tags
        content = trust.content(task_definition, register_input_shape())
        mac = trust.seal(self._tag_key, content, release_tags(tags))
        if same(mac, tags.get(RELEASE_MAC_TAG, "")):
            return tags
        log.warning(
            "release.was_untrusted", task_definition=task_definition.get("taskDefinitionArn")
        )
        return {k: v for k, v in tags.items() if not k.startswith(WAS_TAG)}

    def _key_of(self, task_definition: Mapping[str, Any], tags: Mapping[str, str]) -> str:
        """A revision's deploy key, if the worker sealed it (any, without a tag key)."""
        shape = register_input_shape()
        return trust.trusted(self._tag_key, task_definition, tags, shape).get(DEPLOY_KEY_TAG, "")
