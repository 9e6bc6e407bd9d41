"""An approval message, start to outcome: parse, check, verify who sent it, record it.

A vote counts only from an assumed-role session of a role a gate of the service lists,
as STS names it when the worker executes the vote's caller proof. Verified votes are
tagged on the deploy's revision (`ballot`, `book`), `on_recorded` wakes the gate at
once, and the message is deleted (`vote_recorded`); a vote for a deploy the service
has moved on from is deleted as `vote_late`; a vote whose deploy is not registered yet
comes back after the retry back-off while its proof is fresh. Everything else goes to
the DLQ with the reason. A vote for another account or region is tagged there (its
proof is still verified by the worker's own STS).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import structlog

from deployworker.aws.callerproof import CallerProof
from deployworker.aws.ecs import Ecs
from deployworker.aws.sqs import Message
from deployworker.deploy.approvals.ballot import earlier_vote, next_vote_tag, room_reason
from deployworker.deploy.approvals.book import Located, Places, locate, record_vote
from deployworker.deploy.approvals.votes import Vote, approver_role, person
from deployworker.deploy.job import Done, bound, report, result_of_error
from deployworker.errors import NotFoundError, PermanentAwsError, Rejection, not_allowed
from deployworker.failpoints import failpoint
from deployworker.intake.accounts import Target
from deployworker.intake.allowlist import find_entry
from deployworker.intake.approval import (
    ApprovalRequest,
    approval_target,
    binding_of,
    check_approval_group,
    check_audience,
    parse_approval,
)
from deployworker.intake.entries import Allowlist
from deployworker.intake.parse import unwrap
from deployworker.intake.proof import check_proof
from deployworker.observe.events import DeployEvent, Emit, discard
from deployworker.outcome import Outcome, Result

log = structlog.get_logger("deployworker.approvals")


class Approvals:
    """Handles approval messages; `start` has the pipeline's contract (never raises,
    `done` exactly once)."""

    def __init__(
        self,
        ecs: Ecs,
        proofs: CallerProof,
        allowlist: Callable[[], Allowlist],
        emit: Emit = discard,
        on_vote: Callable[[str], None] = lambda _: None,
        on_recorded: Callable[[str, str, str], None] = lambda *_: None,
        max_age: float = 300.0,
        retry_backoff: float = 30.0,
        clock: Callable[[], float] = time.time,
        places: Places | None = None,
        audiences: tuple[str, ...] = (),  # where votes are sent to this worker
        tag_key: bytes | None = None,  # seals each vote's tag (`deploy.tagseal`)
    ) -> None:
        self._audiences = audiences
        self._tag_key = tag_key
        self._ecs = ecs  # home's; `places` gives other targets' (None: home only)
        self._places = places
        self._proofs = proofs
        self._allowlist = allowlist
        self._emit = emit
        self._on_vote = on_vote
        self._on_recorded = on_recorded  # (cluster, service, deploy_id): wakes its gate
        self._max_age = max_age
        self._retry_backoff = retry_backoff
        self._clock = clock

    def start(self, message: Message, done: Done) -> None:
        """Process one approval message to its outcome; `done(result)` runs once."""
        report(done, self.handle(message))

    def handle(self, message: Message) -> Result:
        """The outcome of one approval message. Never raises."""
        fields: dict[str, Any] = {"message_id": message.message_id, "group_id": message.group_id}
        step: list[str] = ["invalid"]  # the metric's result if this step refuses the vote
        request: ApprovalRequest | None = None
        vote: dict[str, Any] = {}
        with bound(fields):
            try:
                request = parse_approval(unwrap(message.body))
                fields.update(self._fields(request))
                structlog.contextvars.bind_contextvars(**fields)
                result = self._vote(message, request, step, vote)
                log.info("approval.received", result=step[0], reason=result.reason, **vote)
            except Exception as exc:
                base = Result(Outcome.FAILED, "", request.deploy_id if request else None)
                result = result_of_error(base, exc)
                if not isinstance(exc, Rejection):
                    step[0] = "retried" if result.outcome == Outcome.RETRIED else "aws_error"
                log.warning("approval.refused", result=step[0], reason=result.reason, **vote)
            self._on_vote(step[0])
            if request is not None:
                self._event(request, result, step[0], vote)
            return result

    @staticmethod
    def _fields(request: ApprovalRequest) -> dict[str, Any]:
        return {k: getattr(request, k) for k in ("cluster", "service", "deploy_id", "action")}

    def _approvers(
        self, request: ApprovalRequest, allowlist: Allowlist, target: Target | None
    ) -> tuple[str, ...]:
        """Every approver role the service's gates list. Raises `Rejection`."""
        home = self._places.home_target if self._places is not None else None
        entry = find_entry(allowlist, request.cluster, request.service, target, home)
        if entry is None:
            where = f"{request.cluster}/{request.service}" + (f" in {target}" if target else "")
            raise not_allowed(f"service {where} is not in the allowlist")
        roles = [r for g in entry.gates if g.approval for r in g.approval.approvers]
        if not roles:
            raise not_allowed(
                f"no gate of {request.cluster}/{request.service} asks for an approval"
            )
        return tuple(dict.fromkeys(roles))

    def _vote(
        self, message: Message, request: ApprovalRequest, step: list[str], vote: dict[str, Any]
    ) -> Result:
        allowlist = self._allowlist()
        home = self._places.home_target if self._places is not None else None
        target = approval_target(request, allowlist.accounts, home)
        check_approval_group(request, message.group_id, target)
        check_audience(request, self._audiences)
        step[0] = "no_gate"
        approvers = self._approvers(request, allowlist, target)
        step[0] = "bad_proof"
        now = self._clock()
        proof = request.proof
        try:
            signed = check_proof(
                proof.headers,
                proof.body,
                binding_of(request),
                self._proofs.host,
                self._proofs.region,
                now,
                self._max_age,
            )
        except Rejection as rejection:
            if message.receive_count > 1:  # came back because its deploy was not found
                raise not_allowed(
                    f"no deploy {request.deploy_id} of {request.cluster}/{request.service} "
                    f"was found while the vote's proof was fresh ({rejection.reason})"
                ) from None
            raise
        try:
            principal = self._proofs.verify(proof.headers, proof.body)
        except PermanentAwsError as exc:
            raise not_allowed(f"STS refused the proof: {exc.code}: {exc.message}") from None
        role = approver_role(principal, approvers)
        vote.update(principal=principal, person=person(principal), role=role, signed_at=signed)
        if role is None:
            step[0] = "unlisted"
            raise not_allowed(
                f"{principal} is not an assumed-role session of a listed approver role "
                f"({', '.join(approvers)})"
            )
        step[0] = "no_deploy"
        ecs = self._places.ecs_in(target) if self._places and target else self._ecs
        try:
            found = locate(ecs, request.cluster, request.service, request.deploy_id, self._tag_key)
        except NotFoundError as exc:
            raise not_allowed(f"service {request.cluster}/{request.service}: {exc}") from None
        base = Result(Outcome.VOTE_RECORDED, "", request.deploy_id)
        if found is None:
            return self._not_yet(request, signed, now, base, step)
        base = replace(base, task_definition=found.arn)
        return self._record(ecs, request, found, principal, now, base, step)

    def _not_yet(
        self, request: ApprovalRequest, signed: float, now: float, base: Result, step: list[str]
    ) -> Result:
        """No revision for the deploy yet: back to the queue while the proof stays fresh."""
        where = f"deploy {request.deploy_id} of {request.cluster}/{request.service}"
        if now + self._retry_backoff - signed > self._max_age:
            raise not_allowed(f"no {where} found before the vote's proof expires")
        step[0] = "not_yet"
        log.info("approval.not_yet", retry_in=self._retry_backoff)
        return replace(base, outcome=Outcome.RETRIED, reason=f"no {where} registered yet")

    def _record(
        self,
        ecs: Ecs,
        request: ApprovalRequest,
        found: Located,
        principal: str,
        now: float,
        base: Result,
        step: list[str],
    ) -> Result:
        who = person(principal)
        if not found.live:
            step[0] = "late"
            reason = f"{found.arn} is no longer the service's target: the deploy has ended"
            return replace(base, outcome=Outcome.VOTE_LATE, reason=reason)
        earlier = earlier_vote(found.tags, principal)
        if earlier is not None:
            step[0] = "duplicate"
            reason = f"{who} already voted {earlier.action}; a person's first vote stands"
            return replace(base, reason=reason)
        key = next_vote_tag(found.tags)
        if key is None:
            step[0] = "full"
            raise not_allowed(room_reason(found.tags))
        vote = Vote(request.action, principal, now, request.comment)
        record_vote(ecs, found, key, vote, self._tag_key)
        failpoint("vote_recorded")  # a crash here: the redelivery finds it, adds nothing
        step[0] = "counted"
        self._on_recorded(request.cluster, request.service, request.deploy_id)
        return replace(base, reason=f"{request.action} by {who} recorded as {key}")

    def _event(
        self, request: ApprovalRequest, result: Result, step: str, vote: dict[str, Any]
    ) -> None:
        approval: dict[str, object] = {
            "action": request.action,
            "comment": request.comment,
            "result": step,
            **vote,
        }
        self._emit(
            DeployEvent(
                type="approval_received",
                deploy_id=request.deploy_id,
                cluster=request.cluster,
                service=request.service,
                outcome=result.outcome.value,
                reason=result.reason or None,
                task_definition=result.task_definition,
                approval=approval,
            )
        )
