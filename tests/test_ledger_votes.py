"""Votes, gates and `--wait`'s progress lines in the deploy ledger."""

from __future__ import annotations

from typing import Any

from conftest import REPO, World, deploy, wait_for
from deployworker.cli.follow import Follow, follow_ledger
from deployworker.cli.history import line
from deployworker.ledger import read
from deployworker.ledger.record import Transition
from deployworker.ledger.states import State
from deployworker.ledger.write import LedgerWriter
from deployworker.queue.ledgerwiring import RecordedEvents
from test_approvals import gated, session, vote


def test_a_vote_is_recorded_on_its_deploys_record(world: World) -> None:
    before = world.service()
    table = world.ledger()
    app = world.app(world.allowlist([gated()]), ledger_table=table.table)
    app.start()
    world.send(deploy(f"{REPO}:2-hang", deploy_id="build-7", source={"commit": "abc"}))
    wait_for(lambda: world.describe()["taskDefinition"] != before)
    vote(world, session(world, "release-managers", "alice"), "build-7", comment="looks fine")

    def voted() -> Any:
        assert isinstance(app.events, RecordedEvents)
        app.events.recorder.writer.flush(5)
        entry = read.entry(table, "prod/web", "build-7")
        return entry if entry is not None and entry.votes else None

    entry = wait_for(voted)
    assert entry.state == State.IN_PROGRESS
    assert entry.votes[0]["action"] == "approve"
    assert entry.votes[0]["comment"] == "looks fine"
    assert "assumed-role/release-managers/alice" in str(entry.votes[0])
    assert [e.state for e in read.in_flight(table)] == [State.IN_PROGRESS]
    assert "alice" in line(entry) and "abc" in line(entry)


def test_wait_prints_a_line_per_transition_and_every_30_s_while_nothing_changes(
    world: World, capsys: Any
) -> None:
    table = world.ledger()
    writer = LedgerWriter(table, "r1")
    writer.record(Transition("prod/web", "slow", State.QUEUED, message_id="m"))
    now = [0.0]
    script = {40.0: State.IN_PROGRESS, 100.0: State.PAUSED, 170.0: State.DEPLOYED}

    def sleep(seconds: float) -> None:
        now[0] += 10.0
        if now[0] in script:
            reasons = {State.PAUSED: "gate: error rate", State.DEPLOYED: "successful"}
            reason = reasons.get(script[now[0]])
            writer.record(Transition("prod/web", "slow", script[now[0]], reason=reason))

    follow = Follow("prod", "web", "prod/web", "slow", wait=True, timeout=600, interval=10)
    code = follow_ledger(table, None, follow, clock=lambda: now[0], sleep=sleep)
    out = capsys.readouterr().out.splitlines()
    assert code == 0
    assert out == [
        "prod/web deploy slow: pending: queued",
        "prod/web deploy slow: still pending after 30s",
        "prod/web deploy slow: in_progress",
        "prod/web deploy slow: still in_progress after 1m10s",
        "prod/web deploy slow: paused: gate: error rate",
        "prod/web deploy slow: still paused after 2m10s",
        "prod/web deploy slow: still paused after 2m40s",
        "prod/web deploy slow: deployed: successful",
    ]
