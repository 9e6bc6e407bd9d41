"""The ledger's states: which a record may move to, and which never change (pure).

A record's `rank` only grows. Every write is conditional on the stored rank being at
most the new one (and below `FINAL_RANK` unless the write is the same final state), so
a stale replica or a redelivered copy can never move a record backwards, and a final
state never goes back to `in_progress`.
"""

from __future__ import annotations

from enum import StrEnum

from deployworker.outcome import Outcome


class State(StrEnum):
    """Where a message stands in the ledger."""

    QUEUED = "queued"
    IN_PROGRESS = "in_progress"
    PAUSED = "paused"
    AWAITING_APPROVAL = "awaiting_approval"
    # A copy handed back (shutdown, a lost heartbeat): another replica resumes it.
    RELEASED = "released"
    DEPLOYED = "deployed"
    NOOP = "noop"
    ROLLED_BACK = "rolled_back"
    FAILED = "failed"
    MIGRATION_FAILED = "migration_failed"
    OVERTAKEN = "overtaken"
    SUPERSEDED = "superseded"
    REJECTED = "rejected"


FINAL_RANK = 9
RANK: dict[State, int] = {
    State.QUEUED: 0,
    State.IN_PROGRESS: 1,
    State.PAUSED: 1,
    State.AWAITING_APPROVAL: 1,
    State.RELEASED: 1,
} | {
    state: FINAL_RANK
    for state in (
        State.DEPLOYED,
        State.NOOP,
        State.ROLLED_BACK,
        State.FAILED,
        State.MIGRATION_FAILED,
        State.OVERTAKEN,
        State.SUPERSEDED,
        State.REJECTED,
    )
}
FINAL = frozenset(state for state, rank in RANK.items() if rank == FINAL_RANK)
IN_FLIGHT = frozenset(RANK) - FINAL

# The ledger state each message outcome ends in; outcomes not here write no state
# (`retried` stays where it was; votes are appended to their deploy's record).
OUTCOME_STATES: dict[Outcome, State] = {
    Outcome.DEPLOYED: State.DEPLOYED,
    Outcome.NOOP: State.NOOP,
    Outcome.FAILED: State.FAILED,
    Outcome.ROLLED_BACK: State.ROLLED_BACK,
    Outcome.OVERTAKEN: State.OVERTAKEN,
    Outcome.MIGRATION_FAILED: State.MIGRATION_FAILED,
    Outcome.SUPERSEDED: State.SUPERSEDED,
    Outcome.REJECTED_INVALID: State.REJECTED,
    Outcome.REJECTED_NOT_ALLOWED: State.REJECTED,
    Outcome.RELEASED: State.RELEASED,
}

# Deploy events (`observe.events.DeployEvent.type`) that move a record to a state.
EVENT_STATES: dict[str, State] = {
    "received": State.QUEUED,
    "registered": State.IN_PROGRESS,
    "release_started": State.IN_PROGRESS,
    "gate_started": State.PAUSED,
    "approval_requested": State.AWAITING_APPROVAL,
    "gate_passed": State.IN_PROGRESS,
    "gate_failed": State.IN_PROGRESS,
}


def state_of(outcome: Outcome) -> State | None:
    """The ledger state a message's outcome ends in (None: the outcome writes none)."""
    return OUTCOME_STATES.get(outcome)


def may_follow(stored: State | None, new: State) -> bool:
    """Whether a record in `stored` may move to `new` (the rule the conditional
    write enforces in DynamoDB for one message's writes, stated in Python for tests
    and fakes; `record.update_request` adds the rules between two messages)."""
    if stored is None:
        return True
    if stored in FINAL:
        return False
    return RANK[stored] <= RANK[new]
