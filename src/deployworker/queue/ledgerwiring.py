"""Wiring the ledger into the worker: its recorder, the events it hears, the receive hook.

Only `app` calls these; with no `ledger_table` set, none of it exists and nothing is
written.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import replace

from prometheus_client import CollectorRegistry, Counter

from deployworker.aws._ratelimit import Limiter
from deployworker.aws.dynamodb import DEFAULT_LEDGER_BUDGETS, LedgerTable
from deployworker.aws.factory import Factory
from deployworker.aws.sqs import Message
from deployworker.intake.admit import Intake
from deployworker.ledger.write import LedgerWriter
from deployworker.observe.events import DeployEvent, SnsEvents
from deployworker.queue.recording import Recorder
from deployworker.settings import Settings


class RecordedEvents(SnsEvents):
    """The deploy events every stage emits, told to the ledger too (and published to
    the events topic when one is set)."""

    def __init__(self, inner: SnsEvents | None, recorder: Recorder) -> None:
        self._inner = inner
        self._recorder = recorder
        self.recorder = recorder  # public: tests flush its writer

    def emit(self, event: DeployEvent) -> None:
        """Record, then publish."""
        self._recorder.event(event)
        if self._inner is not None:
            self._inner.emit(event)

    def start(self) -> None:
        """Start the ledger's writer and the publisher."""
        self._recorder.writer.start()
        if self._inner is not None:
            self._inner.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop both, writing and publishing what is queued."""
        if self._inner is not None:
            self._inner.stop(timeout)
        self._recorder.writer.stop(timeout)

    def publish(self, event: DeployEvent) -> None:
        """Publish one event now (to the topic, when one is set)."""
        if self._inner is not None:
            self._inner.publish(event)


def build_recorder(
    settings: Settings, aws: Factory, intake: Intake, registry: CollectorRegistry | None = None
) -> Recorder | None:
    """The ledger's recorder when `ledger_table` is set (None: the ledger is off); its
    writes are counted in `deployworker_ledger_writes_total{result}` on `registry`
    (written, refused: already there or past it, failed: the message stays, dropped)."""
    if not settings.ledger_table:
        return None
    table = settings.ledger_table
    region = table.split(":")[3] if table.startswith("arn:") else settings.region
    factory = replace(aws, region=region or aws.region)
    name = table.rsplit("/", 1)[-1]
    limiter = Limiter(DEFAULT_LEDGER_BUDGETS)
    ledger = LedgerTable(factory.client("dynamodb"), factory.caller("dynamodb", limiter), name)
    replica = settings.session_name or f"{socket.gethostname()}-{os.getpid()}"
    writes = Counter(
        "deployworker_ledger_writes",
        "Deploy ledger writes by result (failed: the message is left for redelivery).",
        ["result"],
        registry=registry,
    )
    for result in ("written", "refused", "failed", "dropped"):
        writes.labels(result)
    ttl = settings.ledger_ttl_days * 86_400
    writer = LedgerWriter(ledger, replica, ttl, on_write=lambda r: writes.labels(r).inc())
    return Recorder(writer, intake)


def on_received(
    count: Callable[[float], None], recorder: Recorder | None
) -> Callable[[Message], None]:
    """What the worker does with each message it receives: count it, and tell the
    ledger where its record is."""

    def received(message: Message) -> None:
        count(message.sent_at)
        if recorder is not None:
            recorder.received(message)

    return received
