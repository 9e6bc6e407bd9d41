"""moto's DynamoDB conditional writes are atomic under local mode's patch, as on AWS:
a rejection and a concurrent `queued` of the same new record end `rejected`, whichever
lands first (the ledger's conditions refuse `queued` after a final state)."""

from __future__ import annotations

import threading
import uuid

from conftest import World
from deployworker.ledger import read
from deployworker.ledger.record import Transition
from deployworker.ledger.states import State
from deployworker.ledger.write import LedgerWriter


def test_a_rejection_racing_a_queued_write_is_never_lost(world: World) -> None:
    table = world.ledger()
    target = f"race/{uuid.uuid4().hex}"
    writers = [LedgerWriter(table, "a"), LedgerWriter(table, "b")]
    images = {f"c{n}": f"repo/img:{n}" for n in range(20)}  # a write with work in it
    for n in range(40):
        transitions = [
            Transition(target, str(n), State.QUEUED, message_id="m", images=images),
            Transition(target, str(n), State.REJECTED, message_id="m", rejected=True),
        ]
        threads = [
            threading.Thread(target=w.record, args=(t,))
            for w, t in zip(writers, transitions, strict=True)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    states = [e.state for e in read.history(table, target, 100)]
    assert states == [State.REJECTED] * 40
