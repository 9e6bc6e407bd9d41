"""Deploy events for ChatOps and CI: one JSON document per step, published to SNS.

Publishing happens on a background thread from a bounded queue, so a slow or
failing events topic never slows a deploy; what cannot be published is logged
and counted instead.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import structlog

from deployworker.aws.sns import Sns
from deployworker.errors import AwsError
from deployworker.observe.chatbot import attributes, chatbot

log = structlog.get_logger("deployworker.events")


@dataclass(frozen=True)
class DeployEvent:
    """One step of one deploy, as published."""

    type: str
    deploy_id: str | None = None
    cluster: str | None = None
    service: str | None = None
    image: str | None = None
    outcome: str | None = None
    reason: str | None = None
    duration: float | None = None
    task_definition: str | None = None
    source: dict[str, str] | None = None
    # Failed and rolled-back deploys: ECS's reason, service events, stopped tasks.
    evidence: dict[str, object] | None = None
    # Gate events: the stage, measured values, approvers, deadline, the approve command.
    gate: dict[str, object] | None = None
    # Releases: the release, and each member's state in its outcome event.
    release: str | None = None
    members: dict[str, str] | None = None
    # `approval_received`: the vote (action, comment, principal, person, role, result).
    approval: dict[str, object] | None = None
    # Ledger only: the rollout's service deployment, images before, deadline; its traffic.
    rollout: dict[str, object] | None = None
    time: float = field(default_factory=time.time)

    def to_json(self) -> str:
        """The published body: only the fields that are set."""
        document = {k: v for k, v in asdict(self).items() if v is not None}
        document["version"] = 1
        return json.dumps(document, sort_keys=True)


Emit = Callable[[DeployEvent], None]
# Events for the deploy ledger (and so the board) only: never published.
LEDGER_ONLY = frozenset({"gate_progress", "rollout_started", "rollout_progress"})


def discard(_: DeployEvent) -> None:
    """The emitter used when no events topic is configured."""


class SnsEvents:
    """Publishes events to an SNS topic (standard or FIFO) from a background thread."""

    def __init__(
        self,
        sns: Sns,
        topic_arn: str,
        capacity: int = 1000,
        on_drop: Callable[[], None] = lambda: None,
        format: str = "json",
    ) -> None:
        self._sns = sns
        # `chatbot`: AWS Chatbot's custom-notification shape instead of our own document.
        self._render = chatbot if format == "chatbot" else DeployEvent.to_json
        self._topic_arn = topic_arn
        self._fifo = topic_arn.endswith(".fifo")
        self._queue: queue.Queue[DeployEvent | None] = queue.Queue(maxsize=capacity)
        self._on_drop = on_drop
        self._thread: threading.Thread | None = None

    def emit(self, event: DeployEvent) -> None:
        """Queue an event; never blocks the caller."""
        if event.type in LEDGER_ONLY:
            return
        try:
            self._queue.put_nowait(event)
        except queue.Full:
            log.warning("events.dropped", type=event.type, reason="queue full")
            self._on_drop()

    def start(self) -> None:
        """Start publishing."""
        self._thread = threading.Thread(target=self._loop, name="events", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Publish what is queued (within `timeout`), then stop."""
        self._queue.put(None)
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        while (event := self._queue.get()) is not None:
            self.publish(event)

    def publish(self, event: DeployEvent) -> None:
        """Publish one event now."""
        body = self._render(event)
        # Filter policies route on these without parsing the body.
        kwargs: dict[str, Any] = {"attributes": attributes(event)}
        if self._fifo:
            kwargs["group_id"] = f"{event.cluster or 'unknown'}/{event.service or 'unknown'}"
            kwargs["dedup_id"] = f"{event.deploy_id or 'none'}:{event.type}:{event.time:.6f}"[:128]
        try:
            self._sns.publish(self._topic_arn, body, **kwargs)
        except AwsError as exc:
            log.warning("events.publish_failed", type=event.type, error=str(exc))
            self._on_drop()
