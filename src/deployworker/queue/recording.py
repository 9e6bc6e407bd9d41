"""What the ledger is told: each message's record from receipt to its outcome.

`Recorder` knows each held message's ledger key (its target, as the message group
names it, and its deploy_id) from the moment it is received, so deploy events, which
name only a cluster and service, land on the right record. `final` is what `settle`
calls before it deletes a message: False means the outcome is not written, and the
message must stay for redelivery.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from deployworker.aws.sqs import Message
from deployworker.errors import Rejection
from deployworker.intake.admit import Intake, canonical_group
from deployworker.intake.parse import parse_request, unwrap
from deployworker.ledger.read import release_key, target_key
from deployworker.ledger.record import Transition
from deployworker.ledger.states import EVENT_STATES, FINAL, State, state_of
from deployworker.ledger.write import LedgerWriter
from deployworker.observe.events import DeployEvent
from deployworker.outcome import Outcome, Result

UNPARSED = "unparsed"  # the target of a message whose body could not be read


@dataclass(frozen=True)
class Known:
    """A held message's record key and what its body says about it."""

    target: str
    deploy_id: str
    message_id: str
    digest: str
    cluster: str | None = None
    service: str | None = None
    action: str | None = None
    images: dict[str, str] | None = None


def rollout_facts(rollout: Mapping[str, object] | None) -> dict[str, Any]:
    """A `rollout_started`/`rollout_progress` event's facts as `Transition` fields."""
    if not rollout:
        return {}
    before = rollout.get("images_before")
    numbers = {k: rollout.get(k) for k in ("deadline_at", "timeout", "traffic")}
    return {
        "images_before": {str(k): str(v) for k, v in before.items()}
        if isinstance(before, Mapping)
        else None,
        "deployment": str(rollout["deployment"]) if rollout.get("deployment") else None,
        **{k: float(v) if isinstance(v, int | float) else None for k, v in numbers.items()},
    }


def digest_of(text: str) -> str:
    """SHA-256 (hex) of a deploy message's text: `publish --wait` knows its own."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def describe(message: Message, intake: Intake) -> Known:
    """The record a message belongs to, as far as its body can be read."""
    fallback = message.dedup_id or message.message_id
    try:
        unwrapped = unwrap(message.body)
    except Rejection:
        return Known(UNPARSED, fallback, message.message_id, digest_of(message.body))
    digest = digest_of(unwrapped.text)
    try:
        request = parse_request(unwrapped)
    except Rejection:
        return Known(UNPARSED, fallback, message.message_id, digest)
    cluster, service = request.cluster_ref.name, request.service_ref.name
    try:
        target = canonical_group(request, None, intake.target_of(request), intake.home)
    except Rejection:  # a target the allowlist does not know: as the message names it
        target = target_key(cluster, service, request.account, request.region)
    deploy_id = request.deploy_id or fallback
    images = {name: str(ref) for name, ref in request.targets.items()} or None
    return Known(
        target, deploy_id, message.message_id, digest, cluster, service, request.action, images
    )


class Recorder:
    """Turns received messages, deploy events and outcomes into ledger transitions."""

    def __init__(self, writer: LedgerWriter, intake: Intake) -> None:
        self._writer = writer
        self.writer = writer
        self._intake = intake
        self._lock = threading.Lock()
        self._by_message: dict[str, Known] = {}
        self._by_deploy: dict[tuple[str, str, str], Known] = {}

    def received(self, message: Message) -> None:
        """Remember where `message`'s record is (writes nothing: `received` does)."""
        known = describe(message, self._intake)
        with self._lock:
            self._by_message[message.message_id] = known
            if known.cluster and known.service:
                self._by_deploy[(known.cluster, known.service, known.deploy_id)] = known

    def event(self, event: DeployEvent) -> None:
        """A deploy event: move its record (queued, in progress, paused, awaiting
        approval) or add to it (gate progress, a vote), in the background."""
        vote = event.approval if event.type == "approval_received" else None
        state = EVENT_STATES.get(event.type)
        if event.type.startswith("release.") and event.type != "release.registered":
            return
        if event.type.startswith("release."):
            state = State.IN_PROGRESS
        facts = vote is not None or event.gate is not None or event.rollout is not None
        if (state is None and not facts) or not event.deploy_id:
            return
        if vote is not None and event.outcome != Outcome.VOTE_RECORDED.value:
            return
        known = self._known_deploy(event.cluster, event.service, event.deploy_id)
        if event.release and not event.cluster:
            target = release_key(event.release)
        elif known is not None:
            target = known.target
        elif event.cluster and event.service:
            target = target_key(event.cluster, event.service)
        else:
            return
        self._writer.offer(
            Transition(
                target,
                event.deploy_id,
                state,
                at=event.time,
                message_id=known.message_id if known else None,
                digest=known.digest if known else None,
                replica=self._writer.replica,
                reason=event.reason,
                cluster=event.cluster,
                service=event.service,
                action=known.action if known else None,
                release=event.release,
                images=known.images if known else None,
                task_definition=event.task_definition,
                source=event.source,
                gate=event.gate,
                vote=vote,
                **rollout_facts(event.rollout),
            )
        )

    def final(self, message: Message, result: Result) -> bool:
        """Write `result` to its record before the message leaves the queue. True when
        written (or already there); False: keep the message for redelivery."""
        with self._lock:
            known = self._by_message.get(message.message_id)
        if known is None:
            known = describe(message, self._intake)
        if result.deletes or result.outcome == Outcome.RELEASED:
            self._forget(message, known)
        state = state_of(result.outcome)
        if state is None or (state == State.SUPERSEDED and self._copy_held(message, known)):
            return True  # nothing to write; or a newer copy of this deploy writes its outcome
        target = release_key(result.release) if result.release else known.target
        transition = Transition(
            target,
            result.deploy_id or known.deploy_id,
            state,
            message_id=message.message_id,
            digest=known.digest,
            replica=self._writer.replica,
            reason=result.reason,
            cluster=result.cluster or known.cluster,
            service=result.service or known.service,
            action=known.action,
            release=result.release,
            images=result.images or None,
            task_definition=result.task_definition,
            evidence=result.evidence,
            source=result.source,
            duration=result.duration or None,
            images_before=result.images_before or None,
            deployment=result.deployment,
            rejected=state == State.REJECTED,
        )
        if state not in FINAL:
            self._writer.offer(transition)
            return True
        return self._writer.record(transition)

    def _known_deploy(
        self, cluster: str | None, service: str | None, deploy_id: str
    ) -> Known | None:
        with self._lock:
            return self._by_deploy.get((cluster or "", service or "", deploy_id))

    def _copy_held(self, message: Message, known: Known) -> bool:
        """Whether another held message is the same deploy (a redelivered copy)."""
        with self._lock:
            return any(
                (k.target, k.deploy_id) == (known.target, known.deploy_id)
                and k.message_id != message.message_id
                for k in self._by_message.values()
            )

    def _forget(self, message: Message, known: Known) -> None:
        with self._lock:
            self._by_message.pop(message.message_id, None)
            if known.cluster and known.service:
                self._by_deploy.pop((known.cluster, known.service, known.deploy_id), None)
