"""Votes go to the approvals handler by their group, and never take part in superseding."""

from __future__ import annotations

import json
from typing import Any, cast

from deployworker.aws.sqs import Message
from deployworker.deploy.supersede import drop_superseded, group_in_order
from deployworker.intake.parse import parse_message
from deployworker.outcome import Outcome, Result
from deployworker.queue.route import Router

DEPLOY = json.dumps(
    {"cluster": "prod", "service": "web", "container": "app", "image": "r/web:1", "deploy_id": "a"}
)


class Recorder:
    """Stands in for the pipeline and the approvals handler: records what reached it."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.seen: list[str] = []

    def start(self, message: Message, done: Any) -> None:
        self.seen.append(message.message_id)
        done(Result(Outcome.NOOP, self.name))

    def handle(self, message: Message) -> Result:
        self.seen.append(message.message_id)
        return Result(Outcome.NOOP, self.name)

    def abandon(self, message: Message, reason: str) -> None:
        self.seen.append(f"abandon {message.message_id}")

    def admissible(self, message: Message) -> Any:
        return parse_message(message.body)  # every deploy here is valid and allowed

    def supersede(self, message: Message, request: Any, newer: Message) -> Result:
        return Result(Outcome.SUPERSEDED, f"by {newer.message_id}")


def message(message_id: str, group: str, body: str = DEPLOY) -> Message:
    return Message(message_id, f"r-{message_id}", body, group_id=group)


def test_the_group_decides_the_handler() -> None:
    pipeline, approvals = Recorder("pipeline"), Recorder("approvals")
    router = Router(cast(Any, pipeline), approvals)
    results: list[Result] = []
    for m in (message("d1", "prod/web"), message("v1", "prod/web/approvals")):
        router.start(m, results.append)
    assert router.handle(message("v2", "prod/api/approvals")).reason == "approvals"
    router.abandon(message("v1", "prod/web/approvals"), "lost")
    router.abandon(message("d1", "prod/web"), "lost")
    assert [r.reason for r in results] == ["pipeline", "approvals"]
    assert pipeline.seen == ["d1", "abandon d1"]
    assert approvals.seen == ["v1", "v2"]


def test_without_an_approvals_handler_everything_goes_to_the_pipeline() -> None:
    pipeline = Recorder("pipeline")
    router = Router(cast(Any, pipeline), None)
    assert router.handle(message("v1", "prod/web/approvals")).reason == "pipeline"


def test_votes_are_never_admissible_as_deploys_so_they_neither_supersede_nor_are_superseded() -> (
    None
):
    router = Router(cast(Any, Recorder("pipeline")), Recorder("approvals"))
    # Even a deploy-shaped body sent in an approvals group is a vote, not a deploy.
    vote = message("v1", "prod/web/approvals")
    assert router.admissible(vote) is None
    batch = [message("d1", "prod/web"), vote, message("d2", "prod/web")]
    groups = group_in_order(batch)
    assert [[m.message_id for m in g] for g in groups] == [["d1", "d2"], ["v1"]]
    settled: list[tuple[str, str]] = []
    kept = drop_superseded(batch, router, lambda m, r: settled.append((m.message_id, r.reason)))
    assert [m.message_id for m in kept] == ["v1", "d2"]
    assert settled == [("d1", "by d2")]
