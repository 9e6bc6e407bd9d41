"""Superseding: of several deploys of one service waiting in one batch, only the newest runs.

`superseded` is pure; `drop_superseded` applies it to a received batch. An older
deploy is superseded only by a newer one that is itself valid and allowed, for the
same service (or release), covering at least the same containers, with no other
action (a rollback, say) between them: order is kept wherever it matters.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from deployworker.aws.sqs import Message
from deployworker.deploy.reporting import deploy_id_of
from deployworker.intake.message import DeployRequest
from deployworker.intake.release_message import ReleaseRequest
from deployworker.outcome import Outcome, Result

# A release message: superseded, per release, like a deploy of one service.
Request = DeployRequest | ReleaseRequest


def _service(request: Request) -> tuple[str, str]:
    if isinstance(request, ReleaseRequest):
        return "release/", request.release  # no cluster name holds a slash
    return request.cluster_ref.name, request.service_ref.name


def _covers(newer: Request, older: Request) -> bool:
    """Whether `newer` changes at least the containers `older` does (a release's
    `image` changes every container)."""
    if isinstance(newer, ReleaseRequest) and isinstance(older, ReleaseRequest):
        return newer.image is not None or set(newer.images or {}) >= set(older.images or {})
    if isinstance(newer, DeployRequest) and isinstance(older, DeployRequest):
        return set(newer.targets) >= set(older.targets)
    return False


def superseded(batch: Sequence[tuple[str, Request | None]]) -> dict[str, str]:
    """Map each superseded message id to the id of the newer message that replaces it.

    `batch` is one group's messages in order, each with its request when it is
    valid and allowed (None otherwise: such a message never supersedes anything).
    """
    replaced: dict[str, str] = {}
    for index, (message_id, request) in enumerate(batch):
        if request is None or request.action != "deploy":
            continue
        for newer_id, newer in batch[index + 1 :]:
            if newer is None or _service(newer) != _service(request):
                continue
            if newer.action != "deploy":
                break  # another action in between: both must run, in order
            if _covers(newer, request):
                replaced[message_id] = newer_id
                break
    return replaced


def superseded_result(message: Message, request: DeployRequest, newer: Message) -> Result:
    """The outcome of `message`'s deploy, replaced before it ran by `newer`'s."""
    return Result(
        Outcome.SUPERSEDED,
        f"superseded by message {newer.message_id}",
        deploy_id_of(request, message),
        request.cluster_ref.name,
        request.service_ref.name,
        {k: str(v) for k, v in request.targets.items()},
    )


def group_in_order(messages: list[Message]) -> list[list[Message]]:
    """Split a receive batch by MessageGroupId, keeping each group's order."""
    groups: dict[str, list[Message]] = {}
    for message in messages:
        groups.setdefault(message.group_id or message.message_id, []).append(message)
    return list(groups.values())


class Judge(Protocol):
    """What superseding needs from the pipeline."""

    def admissible(self, message: Message) -> Request | None: ...

    def supersede(self, message: Message, request: Request, newer: Message) -> Result: ...


# The runner's pending settlements: newer message id -> the older ones it replaces.
Waiting = dict[str, list[tuple[Message, Request]]]


def split_superseded(messages: list[Message], judge: Judge) -> tuple[list[Message], Waiting]:
    """The messages of one group's batch to run, in order, and for each the older ones
    it replaces. Those are settled only once it has an outcome: if it is rejected (at
    apply, say), they run after all, so a deploy is never lost to one that never ran."""
    requests = [(m.message_id, judge.admissible(m)) for m in messages]
    replaced = superseded(requests)
    waiting: Waiting = {}
    for (message_id, request), message in zip(requests, messages, strict=True):
        if message_id in replaced and request is not None:
            newer = replaced[message_id]
            while newer in replaced:  # replaced in turn: the one that runs answers for it
                newer = replaced[newer]
            waiting.setdefault(newer, []).append((message, request))
    return [m for m in messages if m.message_id not in replaced], waiting


def drop_superseded(
    messages: list[Message], judge: Judge, settle: Callable[[Message, Result], None]
) -> list[Message]:
    """Settle at once the deploys of one group's batch that a newer message replaces;
    return the rest, in order."""
    kept, waiting = split_superseded(messages, judge)
    by_id = {m.message_id: m for m in messages}
    for newer, olders in waiting.items():
        for message, request in olders:
            settle(message, judge.supersede(message, request, by_id[newer]))
    return kept
