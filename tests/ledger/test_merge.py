"""Transitions queued together are written as one where that leaves the record as the
writes in a row would, against moto's DynamoDB; and a deploy's ledger costs fewer writes."""

from __future__ import annotations

import uuid
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import REPO, World, deploy, drain
from deployworker.aws.dynamodb import LedgerTable
from deployworker.ledger import read
from deployworker.ledger.merge import coalesce, merge, mergeable
from deployworker.ledger.record import Entry, Transition
from deployworker.ledger.states import FINAL, State
from deployworker.ledger.write import LedgerWriter
from deployworker.queue.ledgerwiring import RecordedEvents

IN_FLIGHT = [s for s in State if s not in FINAL]


class UpdateItems:
    """The UpdateItem calls a ledger table's client makes."""

    def __init__(self, table: LedgerTable) -> None:
        self.count = 0
        table.client.meta.events.register("before-call.dynamodb.UpdateItem", self._count)

    def _count(self, **_: Any) -> None:
        self.count += 1


def test_which_transitions_merge() -> None:
    def t(state: State | None, **kw: Any) -> Transition:
        return Transition("prod/web", "d", state, message_id="m", **kw)

    assert mergeable(t(State.QUEUED), t(State.IN_PROGRESS))
    assert mergeable(
        t(State.QUEUED, images={"app": "a"}), t(State.IN_PROGRESS, images={"app": "a"})
    )
    # The record may be past `queued` already: then only the later write would land.
    assert not mergeable(t(State.QUEUED, reason="r"), t(State.IN_PROGRESS))
    assert mergeable(t(State.IN_PROGRESS), t(State.PAUSED))
    assert mergeable(t(State.IN_PROGRESS), t(None, deployment="x"))
    assert mergeable(t(None, traffic=10.0), t(None, traffic=20.0))
    assert not mergeable(t(State.IN_PROGRESS), t(State.QUEUED))  # the later one is refused
    assert not mergeable(
        t(State.QUEUED), t(None, deployment="x")
    )  # facts land where queued may not
    assert not mergeable(t(None, deployment="x"), t(State.QUEUED))
    assert not mergeable(t(State.IN_PROGRESS), t(None, vote={"voter": "a"}))
    assert not mergeable(t(State.IN_PROGRESS), t(State.DEPLOYED))
    other = Transition("prod/web", "d", State.IN_PROGRESS, message_id="other")
    assert not mergeable(t(State.QUEUED), other)
    assert not mergeable(t(State.QUEUED), Transition("prod/api", "d", State.IN_PROGRESS))

    queued = t(State.QUEUED, at=1.0)
    started = t(State.IN_PROGRESS, at=2.0, task_definition="td:2", images_before={"app": "first"})
    facts = t(None, at=3.0, deployment="x", images_before={"app": "second"})
    one = merge(merge(queued, started), facts)
    assert one.state == State.IN_PROGRESS and one.at == 3.0
    assert one.earlier == {State.QUEUED: 1.0, State.IN_PROGRESS: 2.0}
    assert (one.task_definition, one.deployment) == ("td:2", "x")
    assert one.images_before == {"app": "first"}  # written if absent: the first one counts
    elsewhere = Transition("prod/api", "d", State.QUEUED)
    assert coalesce([queued, elsewhere, started, facts]) == [one, elsewhere]


def _stored(table: LedgerTable, target: str) -> Entry | None:
    return read.entry(table, target, "d")


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    before=st.one_of(st.none(), st.sampled_from(list(State))),
    before_own=st.booleans(),
    first=st.one_of(st.none(), st.sampled_from(IN_FLIGHT)),
    then=st.one_of(st.none(), st.sampled_from(IN_FLIGHT)),
    first_only=st.booleans(),
)
def test_a_merged_write_leaves_the_record_as_the_two_writes_would(
    world: World,
    before: State | None,
    before_own: bool,
    first: State | None,
    then: State | None,
    first_only: bool,
) -> None:
    table = world.ledger()  # created once; later examples find it
    writer = LedgerWriter(table, "r")
    # `first_only`: the earlier transition carries a fact the later one does not.
    extra = 5.0 if first_only else None
    a = Transition("", "d", first, at=1.0, message_id="m", deployment="a", traffic=extra)
    b = Transition("", "d", then, at=2.0, message_id="m", deployment="b", reason="then")
    if not mergeable(a, b):
        return
    one, two = f"svc/{uuid.uuid4().hex}", f"svc/{uuid.uuid4().hex}"
    for target in (one, two):
        if before is not None:  # the record as another copy (or message) left it
            writer.record(
                Transition(
                    target,
                    "d",
                    before,
                    at=0.5,
                    message_id="m" if before_own else "x",
                    rejected=before == State.REJECTED,
                )
            )
    writer.record(Transition(one, "d", a.state, **_facts(a)))
    writer.record(Transition(one, "d", b.state, **_facts(b)))
    writer.record(Transition(two, "d", **_facts(merge(a, b), state=True)))
    in_a_row, merged = _stored(table, one), _stored(table, two)
    assert (in_a_row is None) == (merged is None)
    if in_a_row is None or merged is None:
        return
    assert merged.state == in_a_row.state
    assert (merged.deployment, merged.traffic) == (in_a_row.deployment, in_a_row.traffic)
    assert merged.reason == in_a_row.reason
    # Where the earlier write alone was refused, the merged one may add its time too.
    assert set(in_a_row.transitions) <= set(merged.transitions)
    assert set(merged.transitions) <= set(in_a_row.transitions) | {str(a.state)}


def _facts(t: Transition, state: bool = False) -> dict[str, Any]:
    keep = ("at", "message_id", "deployment", "reason", "traffic", "earlier")
    facts = {k: getattr(t, k) for k in keep}
    return {**facts, "state": t.state} if state else facts


def test_transitions_queued_together_are_one_write(world: World) -> None:
    table = world.ledger()
    writer = LedgerWriter(table, "r")
    writes = UpdateItems(table)
    writer.start()
    try:
        writer.offer(Transition("prod/web", "together", State.QUEUED, message_id="m"))
        writer.offer(Transition("prod/web", "together", State.IN_PROGRESS, message_id="m"))
        writer.offer(Transition("prod/web", "together", None, message_id="m", deployment="x"))
        assert writer.flush(10)
    finally:
        writer.stop()
    entry = read.entry(table, "prod/web", "together")
    assert entry is not None and entry.state == State.IN_PROGRESS
    assert list(entry.transitions) == ["queued", "in_progress"]
    assert entry.deployment == "x"
    assert writes.count == 1


def test_a_deploy_writes_its_ledger_record_at_most_three_times(world: World) -> None:
    # received (queued); registered and the rollout's start (one write); the outcome.
    world.service()
    table = world.ledger()
    app = world.app(ledger_table=table.table)
    assert isinstance(app.events, RecordedEvents)
    writes = UpdateItems(app.events.recorder.writer.table)
    world.send(deploy(f"{REPO}:2.0", deploy_id="few-writes"))
    drain(app)
    assert app.events.recorder.writer.flush(10)

    entry = read.entry(table, "prod/web", "few-writes")
    assert entry is not None and entry.state == State.DEPLOYED
    assert list(entry.transitions) == ["queued", "in_progress", "deployed"]
    assert entry.deployment is not None and entry.images_before
    assert entry.deadline_at is not None
    assert writes.count <= 3
