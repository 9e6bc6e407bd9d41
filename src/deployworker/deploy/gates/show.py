"""How a gate's progress is shown: one line, and the revision tag `status` reads (pure).

The gate's state lives in the worker's memory, so another process (`status --wait`,
a second replica) learns it from the tag `deployworker:gate` on the deploy's revision:
`<stage> <state> <text>`, encoded with `tagtext`. A revision whose entry has a
`converged` gate is registered with `converged pending`, so `status` never calls a
deploy succeeded between the rollout's end and the gate's first step.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from deployworker.deploy import tagtext
from deployworker.deploy.gates.decide import Action, Decision
from deployworker.intake.entries import Entry
from deployworker.intake.gates import CONVERGED, Approval

GATE_TAG = "deployworker:gate"
# States a gate tag can carry; the first three mean "not decided yet".
UNDECIDED = ("pending", "running", "awaiting")


@dataclass(frozen=True)
class Shown:
    """A gate's state as tagged: where it sits, how it stands, one line about it."""

    stage: str
    state: str
    text: str

    @property
    def undecided(self) -> bool:
        """Whether the gate has not ended yet."""
        return self.state in UNDECIDED


def role_name(arn: str) -> str:
    """`release-managers` from `arn:aws:iam::123456789012:role/release-managers`."""
    return arn.rsplit("/", 1)[-1]


def clock_text(epoch: float) -> str:
    """`14:05Z`."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%H:%MZ")


def approval_text(needed: int, approval: Approval, deadline: float) -> str:
    """`awaiting 1 approval (release-managers) until 14:05Z`."""
    roles = ", ".join(role_name(a) for a in approval.approvers)
    noun = "approval" if needed == 1 else "approvals"
    return f"awaiting {needed} {noun} ({roles}) until {clock_text(deadline)}"


def line(decision: Decision, approval: Approval | None) -> str:
    """The gate's progress in one line: `analysis error-ratio 3/5 ok`, the approval
    it waits for, or how it ended (the decision's reason, with the measured values)."""
    if decision.action is Action.MEASURE:
        parts = []
        for v in decision.verdicts:
            health = "ok" if v.failures == 0 else f"{v.failures} failed"
            parts.append(f"{v.name} {v.taken}/{v.count} {health}")
        return "analysis " + ", ".join(parts)
    if decision.action is Action.AWAIT and decision.tally is not None and approval is not None:
        return approval_text(decision.tally.needed, approval, decision.tally.deadline)
    return decision.reason


def state_of(decision: Decision) -> str:
    """The tag's state word: running, awaiting, passed (it continued) or failed."""
    if decision.action is Action.MEASURE:
        return "running"
    if decision.action is Action.AWAIT:
        return "awaiting"
    return "passed" if decision.action is Action.CONTINUE else "failed"


def tag(stage: str, state: str, text: str) -> dict[str, str]:
    """The tag (one key; the text is cut to fit one value)."""
    value = tagtext.encode(f"{stage} {state} {text}")
    if len(value) > tagtext.MAX_VALUE:
        value = value[: tagtext.MAX_VALUE]
        plus = value.rfind(tagtext.ESCAPE, tagtext.MAX_VALUE - 3)
        value = value[:plus] if plus >= 0 else value  # no escape cut in half
    return {GATE_TAG: value}


def read(tags: dict[str, str]) -> Shown | None:
    """The gate state a revision's tags carry, if any."""
    value = tags.get(GATE_TAG)
    if not value:
        return None
    stage, _, rest = tagtext.decode(value).partition(" ")
    state, _, text = rest.partition(" ")
    return Shown(stage, state or "pending", text)


def registration_tags(entry: Entry) -> dict[str, str]:
    """Tags a new revision gets for its entry's gates: `converged pending` when the
    deploy is verified after it converges."""
    if any(g.at == CONVERGED for g in entry.gates):
        return tag(CONVERGED, "pending", "verification after the rollout")
    return {}
