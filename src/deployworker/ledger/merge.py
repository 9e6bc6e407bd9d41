"""Transitions of one record queued together, written as one conditional write (pure).

A deploy tells the ledger it was registered and, a moment later, that its rollout
started (its service deployment, deadline and images before): two writes to one item
within milliseconds. The background writer drains what is queued and merges
consecutive transitions of one record where one write, under the later transition's
condition, leaves the record as the two writes in a row would:

- a state followed by a state of the same or a higher rank that writes every fact the
  earlier one does: the later state, with the earlier one's time kept (`at_<state>`),
  the condition the later one's (where the record was already past the earlier state,
  only that time is written beyond what the later write alone would write);
- a state of the highest rank before the final ones followed by facts only (the
  rollout's): the facts ride on the state's write, under its condition;
- facts followed by facts: both, the later winning.

Votes (appended, never replaced) and rejections (their own condition) are never
merged, nor are transitions of two messages, nor final states (written at once by
`settle`, not queued). Where the two writes would differ only in a field the later one
also sets, the later value wins, as it would have.
"""

from __future__ import annotations

from dataclasses import fields, replace
from typing import Any

from deployworker.ledger.record import Transition
from deployworker.ledger.states import FINAL, RANK

# The highest rank a record has before it ends (in progress, paused, awaiting approval).
TOP_IN_FLIGHT = max(rank for state, rank in RANK.items() if state not in FINAL)
_KEEP_FIRST = frozenset({"images_before"})  # written if absent: the first one counts
_OWN = frozenset({"state", "at", "earlier"})


def mergeable(a: Transition, b: Transition) -> bool:
    """Whether `b`, queued after `a`, can be written together with it as one write."""
    if (a.target, a.deploy_id, a.message_id) != (b.target, b.deploy_id, b.message_id):
        return False
    if a.vote is not None or b.vote is not None or a.rejected or b.rejected:
        return False
    if a.state in FINAL or b.state in FINAL:
        return False
    if a.state is None:
        return b.state is None  # facts then facts; facts then a state may differ
    if b.state is None:
        # A facts-only write lands on any record that exists and has not ended; a
        # state's write, only where the record is at most that state's rank: the same
        # records exactly when that rank is the highest before the end.
        return RANK[a.state] == TOP_IN_FLIGHT
    # Where the earlier state's write alone is refused (the record is past it), the later
    # one still lands: so the earlier may carry no fact the later does not overwrite.
    return RANK[b.state] >= RANK[a.state] and _covered(a, b)


def _covered(a: Transition, b: Transition) -> bool:
    """Whether every fact `a` writes, `b` writes too (and over it)."""
    for f in fields(Transition):
        if f.name in _OWN or f.name == "rejected":
            continue
        if getattr(a, f.name) is not None and (f.name in _KEEP_FIRST or getattr(b, f.name) is None):
            return False
    return True


def merge(a: Transition, b: Transition) -> Transition:
    """`a` then `b` (`mergeable`) as one transition."""
    values: dict[str, Any] = {}
    for f in fields(Transition):
        if f.name in _OWN:
            continue
        first, then = getattr(a, f.name), getattr(b, f.name)
        if f.name in _KEEP_FIRST:
            values[f.name] = first if first is not None else then
        else:
            values[f.name] = then if then is not None else first
    earlier = dict(a.earlier)
    for state, at in b.earlier.items():
        earlier[state] = min(at, earlier.get(state, at))
    if a.state is not None:
        earlier[a.state] = min(a.at, earlier.get(a.state, a.at))
    moved = b.state if b.state is not None else a.state
    return replace(b, **values, state=moved, earlier=earlier)


def coalesce(queued: list[Transition]) -> list[Transition]:
    """The writes for `queued` (oldest first): each record's consecutive mergeable
    transitions as one. Each record's writes keep their order."""
    out: list[Transition] = []
    last: dict[tuple[str, str], int] = {}  # record -> index in `out` of its latest write
    for t in queued:
        key = (t.target, t.deploy_id)
        index = last.get(key)
        if index is not None and mergeable(out[index], t):
            out[index] = merge(out[index], t)
        else:
            last[key] = len(out)
            out.append(t)
    return out
