"""Superseding: of several deploys of one service waiting in one batch, only the newest runs.

Pure. An older deploy is superseded only by a newer one that is itself valid and
allowed, for the same service, covering at least the same containers, with no
other action (a rollback, say) between them: order is kept wherever it matters.
"""

from __future__ import annotations

from collections.abc import Sequence

from deployworker.aws.sqs import Message
from deployworker.message import DeployRequest
from deployworker.outcome import Outcome, Result
from deployworker.reporting import deploy_id_of


def _service(request: DeployRequest) -> tuple[str, str]:
    return request.cluster_ref.name, request.service_ref.name


def superseded(batch: Sequence[tuple[str, DeployRequest | None]]) -> dict[str, str]:
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
            if set(newer.targets) >= set(request.targets):
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
