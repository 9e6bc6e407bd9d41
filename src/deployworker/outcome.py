"""The vocabulary of endings: what happened to a message, and why."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Outcome(StrEnum):
    """Every message ends with exactly one of these."""

    DEPLOYED = "deployed"
    NOOP = "noop"
    FAILED = "failed"
    ROLLED_BACK = "rolled_back"
    # A newer service deployment that the worker did not create replaced ours; the
    # worker changed nothing after seeing it.
    OVERTAKEN = "overtaken"
    REJECTED_INVALID = "rejected_invalid"
    REJECTED_NOT_ALLOWED = "rejected_not_allowed"
    MIGRATION_FAILED = "migration_failed"
    SUPERSEDED = "superseded"
    RETRIED = "retried"
    # Shutdown handed the message back before it had an outcome; another replica resumes it.
    RELEASED = "released"
    # An approval: its verified vote is recorded on the deploy's revision.
    VOTE_RECORDED = "vote_recorded"
    # An approval for a deploy the service has moved on from: deleted, not recorded.
    VOTE_LATE = "vote_late"


# Outcomes after which the message is deleted from the work queue.
FINAL = frozenset(
    {Outcome.DEPLOYED, Outcome.NOOP, Outcome.FAILED, Outcome.ROLLED_BACK, Outcome.OVERTAKEN}
    | {Outcome.MIGRATION_FAILED, Outcome.SUPERSEDED}
    | {Outcome.VOTE_RECORDED, Outcome.VOTE_LATE}
    | {Outcome.REJECTED_INVALID, Outcome.REJECTED_NOT_ALLOWED}
)
# Outcomes that send the message to the dead-letter queue first.
DEAD_LETTER = frozenset({Outcome.REJECTED_INVALID, Outcome.REJECTED_NOT_ALLOWED})


@dataclass(frozen=True, slots=True)
class Result:
    """The end of one message. `cluster`/`service` are set only once the allowlist
    accepted them, so they are safe to use as metric labels."""

    outcome: Outcome
    reason: str = ""
    deploy_id: str | None = None
    cluster: str | None = None
    service: str | None = None
    images: dict[str, str] = field(default_factory=dict)
    duration: float = 0.0
    task_definition: str | None = None
    dead_letter: bool = False
    source: dict[str, str] | None = None
    # Why a deploy failed, as ECS tells it: its reason, recent service events and the
    # stopped tasks of the new revision (see `deploy.evidence`). Never holds secrets.
    evidence: dict[str, object] | None = None
    # Set for a release message once the allowlist accepted it (a safe metric label).
    release: str | None = None
    # What the service ran before this deploy, and the service deployment that rolls it
    # out: known once applied (a resumed deploy leaves `images_before` empty).
    images_before: dict[str, str] = field(default_factory=dict)
    deployment: str | None = None

    @property
    def deletes(self) -> bool:
        """Whether the message leaves the work queue."""
        return self.outcome in FINAL or self.dead_letter

    @property
    def dead_letters(self) -> bool:
        """Whether the message goes to the DLQ before leaving."""
        return self.outcome in DEAD_LETTER or self.dead_letter
