"""The deploy ledger end to end: the worker writes every transition of every message,
the outcome before the message leaves the queue, and never moves a record backwards."""

from __future__ import annotations

from typing import Any

from botocore.awsrequest import AWSResponse

from conftest import REPO, World, default_entry, deploy, drain, metric
from deployworker.app import App
from deployworker.aws.sqs import Message
from deployworker.deploy.reporting import event_of
from deployworker.ledger import read
from deployworker.ledger.record import Entry
from deployworker.ledger.states import State
from deployworker.observe.events import DeployEvent
from deployworker.outcome import Outcome, Result
from deployworker.queue.ledgerwiring import RecordedEvents
from injected import error_response


def recorded(app: App) -> RecordedEvents:
    assert isinstance(app.events, RecordedEvents)
    assert app.events.recorder.writer.flush(10)
    return app.events


def test_a_deploy_is_recorded_from_queued_to_deployed(world: World) -> None:
    world.service()
    table = world.ledger()
    app = world.app(ledger_table=table.table)
    source = {"commit": "abc123", "actor": "ci"}
    world.send(deploy(f"{REPO}:2.0", deploy_id="led-1", source=source))
    drain(app)
    recorded(app)

    entry = read.entry(table, "prod/web", "led-1")
    assert entry is not None
    assert entry.state == State.DEPLOYED
    assert list(entry.transitions) == ["queued", "in_progress", "deployed"]
    assert entry.images == {"app": f"{REPO}:2.0"}
    assert entry.task_definition == world.describe()["taskDefinition"]
    assert entry.source == source
    assert entry.replica == app.events.recorder.writer.replica  # type: ignore[union-attr]
    assert entry.duration is not None and entry.duration > 0
    assert [e.deploy_id for e in read.history(table, "prod/web")] == ["led-1"]
    assert world.queue_depth() == 0


def test_history_is_newest_first_and_a_rejection_has_its_record(world: World) -> None:
    world.service()
    table = world.ledger()
    app = world.app(ledger_table=table.table)
    for n in (1, 2):
        world.send(deploy(f"{REPO}:{n}.0", deploy_id=f"h-{n}"))
        drain(app)
    world.send(deploy("evil.example.com/app:1", deploy_id="h-evil"))
    drain(app)
    recorded(app)

    assert [e.deploy_id for e in read.history(table, "prod/web")] == ["h-evil", "h-2", "h-1"]
    rejected = read.entry(table, "prod/web", "h-evil")
    assert rejected is not None and rejected.state == State.REJECTED
    assert "evil.example.com/app" in rejected.reason
    assert [e.deploy_id for e in read.rejected(table)] == ["h-evil"]
    assert {e.deploy_id for e in read.recent(table)} == {"h-1", "h-2"}
    assert read.in_flight(table) == []
    assert len(world.dead_letters()) == 1


def test_the_outcome_is_written_before_the_message_is_deleted(world: World) -> None:
    world.service()
    table = world.ledger()
    app = world.app(ledger_table=table.table, retry_backoff_seconds=1)
    failing = [True]
    calls: list[bytes] = []

    def refuse_final(request: Any, **_: Any) -> AWSResponse | None:
        if b'"deployed"' in request.body and failing[0]:
            calls.append(request.body)
            return error_response(500, "InternalServerError")
        return None

    client = app.events.recorder.writer.table.client  # type: ignore[union-attr]
    client.meta.events.register_first("before-send.dynamodb.UpdateItem", refuse_final)
    world.send(deploy(f"{REPO}:2.0", deploy_id="first"))
    drain(app, rounds=1)
    recorded(app)

    assert len(calls) == 3  # the adapter's retries (aws_attempts=3), then it gave up
    assert metric(app, "deployworker_ledger_writes_total", result="failed") == 1
    entry = read.entry(table, "prod/web", "first")
    assert entry is not None and entry.state == State.IN_PROGRESS
    assert world.queue_depth() == 1  # not deleted: its outcome is not written

    failing[0] = False
    revisions = world.revisions()
    for _ in range(40):
        if drain(app, rounds=1):
            break
        app.heartbeat.stop()  # nothing to extend; the back-off is 1 s
        import time

        time.sleep(0.25)
    recorded(app)
    entry = read.entry(table, "prod/web", "first")
    assert entry is not None and entry.state == State.DEPLOYED
    assert world.queue_depth() == 0
    assert world.revisions() == revisions  # the redelivery registered nothing new


def test_a_stale_replica_never_moves_a_final_record_back(world: World) -> None:
    world.service()
    table = world.ledger()
    allowlist = world.allowlist([default_entry()])
    first = world.app(allowlist, ledger_table=table.table)
    stale = world.app(allowlist, ledger_table=table.table)
    body = deploy(f"{REPO}:3.0", deploy_id="stale")
    world.send(body)
    # The stale replica holds an old copy of the same message, and is slow.
    copy = Message("old-copy", "old-receipt", _json(body), "prod/web", "stale")
    stale_events = recorded(stale)
    stale_events.recorder.received(copy)
    drain(first)
    recorded(first)
    assert _state(table) == State.DEPLOYED

    base = Result(Outcome.FAILED, "", "stale", "prod", "web", {"app": f"{REPO}:3.0"})
    for kind in ("received", "registered", "gate_started", "approval_requested"):
        stale.events.emit(event_of(kind, base))  # type: ignore[union-attr]
    stale.events.emit(DeployEvent("gate_passed", "stale", "prod", "web", gate={"at": "x"}))  # type: ignore[union-attr]
    recorded(stale)
    assert stale.settler is not None
    assert stale.events.recorder.final(copy, base) is True  # type: ignore[union-attr]
    released = Result(Outcome.RELEASED, "shutting down", "stale", "prod", "web")
    stale.events.recorder.final(copy, released)  # type: ignore[union-attr]
    recorded(stale)

    entry = read.entry(table, "prod/web", "stale")
    assert entry is not None
    assert entry.state == State.DEPLOYED
    assert "in_progress" in entry.transitions and "released" not in entry.transitions
    assert read.in_flight(table) == []


def _state(table: Any) -> State | None:
    entry: Entry | None = read.entry(table, "prod/web", "stale")
    return entry.state if entry else None


def _json(body: dict[str, Any]) -> str:
    import json

    return json.dumps(body)
