"""The ledger's conditional writes, against moto's DynamoDB: whatever order two replicas
and a redelivered copy write in, a record only moves forward, and a final state stays."""

from __future__ import annotations

import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import World
from deployworker.aws.dynamodb import LedgerTable
from deployworker.ledger import read
from deployworker.ledger.record import Transition, update_request
from deployworker.ledger.states import FINAL, RANK, State, may_follow
from deployworker.ledger.write import LedgerWriter

STATES = list(State)


def test_the_order_of_states() -> None:
    assert may_follow(None, State.QUEUED)
    assert may_follow(State.QUEUED, State.IN_PROGRESS)
    assert may_follow(State.PAUSED, State.IN_PROGRESS)
    assert may_follow(State.IN_PROGRESS, State.ROLLED_BACK)
    assert not may_follow(State.IN_PROGRESS, State.QUEUED)
    for final in FINAL:
        assert all(not may_follow(final, state) for state in State)
    assert {s for s, r in RANK.items() if r == max(RANK.values())} == FINAL


def test_a_write_names_only_what_it_uses() -> None:
    # DynamoDB refuses unused expression names and values: every one must appear.
    for state in [None, *STATES]:
        for message_id in (None, "m"):
            request = update_request(
                Transition("t", "d", state, message_id=message_id, rejected=state == "rejected"),
                60,
            )
            text = request["UpdateExpression"] + " " + request["ConditionExpression"]
            assert all(name in text for name in request["ExpressionAttributeNames"])
            assert all(value in text for value in request["ExpressionAttributeValues"])


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.tuples(st.sampled_from(STATES), st.sampled_from(["a", "b"])), max_size=8))
def test_writes_in_any_order_only_move_forward(
    world: World, writes: list[tuple[State, str]]
) -> None:
    table = world.ledger()  # created once; later examples find it
    writers = {name: LedgerWriter(table, name) for name in ("a", "b")}
    target, model = f"svc/{uuid.uuid4().hex}", None
    for state, replica in writes:
        # One message: its rejection is a rejection of that same message.
        transition = Transition(
            target, "d", state, message_id="m", rejected=state == State.REJECTED
        )
        assert writers[replica].record(transition)
        if may_follow(model, state):
            model = state
        entry = read.entry(table, target, "d")
        assert (entry.state if entry else None) == model


def test_a_rejection_never_overwrites_another_message_and_an_admitted_one_replaces_it(
    world: World,
) -> None:
    table = world.ledger()  # created once; later examples find it
    writer = LedgerWriter(table, "r")
    writer.record(Transition("prod/web", "build-1", State.IN_PROGRESS, message_id="real"))
    writer.record(Transition("prod/web", "build-1", State.REJECTED, message_id="x", rejected=True))
    assert _state(table, "build-1") == State.IN_PROGRESS
    # A rejection squatting on a deploy_id before the real deploy arrives is replaced.
    writer.record(Transition("prod/web", "build-2", State.REJECTED, message_id="x", rejected=True))
    writer.record(Transition("prod/web", "build-2", State.QUEUED, message_id="real"))
    assert _state(table, "build-2") == State.REJECTED  # not yet admitted
    writer.record(Transition("prod/web", "build-2", State.IN_PROGRESS, message_id="real"))
    assert _state(table, "build-2") == State.IN_PROGRESS


def _state(table: LedgerTable, deploy_id: str) -> State | None:
    entry = read.entry(table, "prod/web", deploy_id)
    return entry.state if entry else None
