"""The fake ECS's EventBridge events: which a rollout sends, when they reach the events
queue, their shape (the local simulator's), and the faults the benchmark injects."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from typing import Any

import pytest

from bench import fake_events
from bench.fake_ecs import FakeEcs
from bench.fake_event_emitter import DELAY, EventEmitter, Faults
from bench.fake_sqs import EVENTS_URL, FakeSqs
from bench.fakeaws import Ledger, ManualClock
from deployworker.local import ecsevents, eventshapes
from deployworker.rollout.events import Result, follow_index, match

REPO = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/app"
ROLLOUT = 60.0  # every rollout and rollback takes this long (simulated seconds)


def make_ecs(clock: ManualClock, rollback: bool = False) -> FakeEcs:
    ecs = FakeEcs(clock, Ledger(), latency=0.0, converge=(ROLLOUT, ROLLOUT))
    ecs.seed_service("c", "s", f"{REPO}:v1", rollback=rollback)
    return ecs


def deploy(ecs: FakeEcs, tag: str) -> str:
    """Register `tag` and point the service at it; returns the service deployment's ARN."""
    arn = ecs.register_task_definition(
        family="c-s", containerDefinitions=[{"name": "app", "image": f"{REPO}:{tag}"}]
    )["taskDefinition"]["taskDefinitionArn"]
    return str(ecs.update_service("c", "s", arn)["service"]["currentServiceDeployment"])


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


def test_a_circuit_breaker_stop_sends_failed_and_a_newer_deployment_nothing() -> None:
    assert eventshapes.transitions("IN_PROGRESS", "STOPPED", breaker_stop=True) == [
        (eventshapes.FAILED, False)
    ]
    assert eventshapes.transitions("IN_PROGRESS", "STOPPED") == []


def _keys(value: Any) -> Any:
    """The shape of a JSON document: its keys, nested."""
    if isinstance(value, dict):
        return {k: _keys(v) for k, v in value.items()}
    return type(value).__name__ if not isinstance(value, list) else [_keys(v) for v in value]


def test_events_have_the_local_simulators_shape(clock: ManualClock) -> None:
    ecs = make_ecs(clock)
    arn = deploy(ecs, "v2")
    sd = ecs._deployments[arn]
    stamp = datetime(2026, 1, 1, tzinfo=UTC)
    for name in (eventshapes.IN_PROGRESS, eventshapes.COMPLETED, eventshapes.FAILED):
        ours = fake_events.message(
            fake_events.Change(name, False, 0.0), sd, "123456789012", "eu-west-1", stamp
        )
        pending = ecsevents.Pending(
            "123456789012", "eu-west-1", sd.service_arn, name, sd.legacy_id, stamp, False
        )
        theirs = ecsevents.message(pending)
        theirs["time"] = "2026-01-01T00:00:00Z"  # moto's SQS target writes it so
        assert _keys(ours) == _keys(theirs)
        assert ours["detail"] | {"updatedAt": ""} == theirs["detail"] | {"updatedAt": ""}


def received(sqs: FakeSqs) -> list[dict[str, Any]]:
    out = []
    while messages := sqs.receive_message(EVENTS_URL, 10, 0, 30).get("Messages", []):
        out += [json.loads(m["Body"]) for m in messages]
    return out


def run_rollout(clock: ManualClock, faults: Faults, tag: str = "v2") -> tuple[str, FakeSqs]:
    """One rollout, stepped through in 0.1 s; returns its ARN and the events queue."""
    ecs = make_ecs(clock, rollback=True)
    sqs = FakeSqs(clock, Ledger(), latency=0.0)
    emitter = EventEmitter(ecs, sqs, faults)
    emitter.start()
    emitter.stop()  # stepped by hand from here
    arn = deploy(ecs, tag)
    for _ in range(int((2 * ROLLOUT + 30) * 10)):
        clock.t += 0.1
        emitter.step(clock.t)
    return arn, sqs


def test_a_rollout_sends_in_progress_then_completed_which_the_worker_matches(
    clock: ManualClock,
) -> None:
    arn, sqs = run_rollout(clock, Faults())
    events = received(sqs)
    assert [e["detail"]["eventName"] for e in events] == [
        eventshapes.IN_PROGRESS,
        eventshapes.COMPLETED,
    ]
    followed = follow_index([arn])
    assert {match(e, followed).result for e in events} == {Result.SERVICE}


def test_a_rolled_back_rollout_sends_failed_then_the_rollbacks_events(clock: ManualClock) -> None:
    _, sqs = run_rollout(clock, Faults(), tag="v2-fail")
    assert [(e["detail"]["eventName"], e["detail"]["eventType"]) for e in received(sqs)] == [
        (eventshapes.IN_PROGRESS, "INFO"),
        (eventshapes.FAILED, "ERROR"),
        (eventshapes.IN_PROGRESS, "INFO"),
        (eventshapes.COMPLETED, "INFO"),
    ]


def test_events_arrive_after_the_delivery_delay(clock: ManualClock) -> None:
    ecs = make_ecs(clock)
    sqs = FakeSqs(clock, Ledger(), latency=0.0)
    emitter = EventEmitter(ecs, sqs, Faults())
    emitter.start()
    emitter.stop()
    deploy(ecs, "v2")
    while not [d for d in emitter.log if d.name == eventshapes.COMPLETED and d.delivered]:
        clock.t += 0.1
        emitter.step(clock.t)
    for delivery in emitter.log:
        assert delivery.delivered is not None
        assert DELAY[0] <= delivery.delivered - delivery.changed <= DELAY[1] + 0.1


def test_dropped_events_never_arrive(clock: ManualClock) -> None:
    _, sqs = run_rollout(clock, Faults(drop=1.0))
    assert received(sqs) == []


def test_duplicated_events_arrive_twice_and_reordered_ones_out_of_order(
    clock: ManualClock,
) -> None:
    _, sqs = run_rollout(clock, Faults(duplicate=1.0))
    names = [e["detail"]["eventName"] for e in received(sqs)]
    assert sorted(names) == sorted([eventshapes.IN_PROGRESS, eventshapes.COMPLETED] * 2)
    ordered = FakeSqs(clock, Ledger(), latency=0.0)
    shuffled = FakeSqs(clock, Ledger(), latency=0.0, shuffle=random.Random(3))
    for n in range(30):
        ordered.put_event(str(n))
        shuffled.put_event(str(n))
    first = [m["Body"] for m in shuffled.receive_message(EVENTS_URL, 10, 0, 30)["Messages"]]
    assert first != [m["Body"] for m in ordered.receive_message(EVENTS_URL, 10, 0, 30)["Messages"]]


def test_the_events_queue_deletes_in_batches(clock: ManualClock) -> None:
    sqs = FakeSqs(clock, Ledger(), latency=0.0)
    sqs.put_event("a")
    sqs.put_event("b")
    messages = sqs.receive_message(EVENTS_URL, 10, 0, 0)["Messages"]
    entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]
    assert sqs.delete_message_batch(EVENTS_URL, entries)["Failed"] == []
    clock.t += 1
    assert sqs.receive_message(EVENTS_URL, 10, 0, 0) == {}
