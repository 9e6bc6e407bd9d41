"""Where a deploy's votes live: its revision's tags, found by the deploy key.

`locate` finds the revision a deploy registered (tagged `deployworker:deploy-key`) among
the service's current revision, the revisions of its ECS deployments and the family's
newest (registered, not yet rolled out). `TagVoteBook` is the gate runner's vote book
(`deploy.gates.contract.VoteBook`, the one definition of that protocol): it reads the
votes back from those tags, so a vote received by one replica is seen by the replica
running the gate, and survives any crash once tagged. Each vote's value is sealed
with the worker's tag key (`deploy.tagseal`): a vote tag written by anyone else, or
copied from another revision, is not read, so a vote is only what the worker recorded
after STS named the voter.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from deployworker.aws.ecs import Ecs
from deployworker.deploy.approvals.ballot import encode_vote, is_vote_tag, votes_in
from deployworker.deploy.approvals.votes import Vote
from deployworker.deploy.plan import DEPLOY_KEY_TAG, deploy_key, tag_map
from deployworker.deploy.tagseal import ROOM, opened_tags, seal
from deployworker.errors import NotFoundError
from deployworker.intake.accounts import Target


class Places(Protocol):
    """Where deploys live: the worker's own (account, region), and each one's ECS (in
    another account, through its role), so a vote is tagged where its deploy runs."""

    @property
    def home_target(self) -> Target | None: ...

    def ecs_in(self, target: Target | None) -> Ecs: ...


@dataclass(frozen=True, slots=True)
class Located:
    """A deploy's revision, its tags (votes whose seal does not hold left out), and
    whether it is still the service's target (False: the service moved on, by a
    rollback, a newer deploy or someone else)."""

    arn: str
    tags: dict[str, str]
    live: bool


def _family(arn: str) -> str:
    return arn.rsplit("/", 1)[-1].rsplit(":", 1)[0]


def locate(
    ecs: Ecs, cluster: str, service: str, deploy_id: str, tag_key: bytes | None = None
) -> Located | None:
    """The revision deploy (cluster, service, deploy_id) registered, or None when there
    is none near the service (not registered yet, or long replaced). Its votes are
    read with `tag_key` (`deploy.tagseal`).

    Raises `NotFoundError` when the service does not exist.
    """
    key = deploy_key(cluster, service, deploy_id)
    described = ecs.describe_service(cluster, service)
    target = str(described["taskDefinition"])
    candidates = dict.fromkeys(
        [target, *(str(d["taskDefinition"]) for d in described.get("deployments") or [])]
    )
    for arn in candidates:
        tags = ecs.list_tags_for_resource(arn)
        if tags.get(DEPLOY_KEY_TAG) == key:
            return Located(arn, opened_tags(tag_key, arn, tags, is_vote_tag), arn == target)
    newest, newest_tags = ecs.describe_task_definition(_family(target))
    tags = tag_map(newest_tags)
    if tags.get(DEPLOY_KEY_TAG) == key:
        # Registered and not rolled out yet (a migration runs, or UpdateService is next).
        arn = str(newest["taskDefinitionArn"])
        return Located(arn, opened_tags(tag_key, arn, tags, is_vote_tag), True)
    return None


def record_vote(ecs: Ecs, found: Located, key: str, vote: Vote, tag_key: bytes | None) -> None:
    """Tag `vote` on the deploy's revision as tag `key`, sealed with `tag_key`."""
    value = encode_vote(vote, reserve=ROOM if tag_key is not None else 0)
    ecs.tag_resource(found.arn, {key: seal(tag_key, found.arn, key, value)})


class TagVoteBook:
    """`VoteBook` over revision tags. Remembers each deploy's revision (a deploy key
    names one revision for good), so a read after the first is one ListTagsForResource."""

    def __init__(self, ecs: Ecs, tag_key: bytes | None = None) -> None:
        self._ecs = ecs
        self._tag_key = tag_key  # votes are read only where their seal holds
        self._lock = threading.Lock()
        self._revisions: dict[tuple[str, str, str], str] = {}

    def votes(self, cluster: str, service: str, deploy_id: str) -> Sequence[Vote]:
        """Every vote recorded for the deploy, oldest first; empty when none (or when
        its revision cannot be found). Raises `AwsError` when ECS cannot be read."""
        key = (cluster, service, deploy_id)
        with self._lock:
            arn = self._revisions.get(key)
        if arn is None:
            try:
                found = locate(self._ecs, cluster, service, deploy_id, self._tag_key)
            except NotFoundError:
                return []
            if found is None:
                return []
            with self._lock:
                self._revisions[key] = found.arn
            return votes_in(found.tags)
        tags = self._ecs.list_tags_for_resource(arn)
        return votes_in(opened_tags(self._tag_key, arn, tags, is_vote_tag))
