"""One message, start to outcome: parse → allowlist → plan/apply → watch → (rollback).

`Pipeline.handle` never raises: every path ends in a `Result` for `settle`.
Deploys of one service are serialised in-process as well, because two message
groups could name the same service.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import replace

import structlog

from deployworker.allowlist import Allowlist, Entry, check_scope, decide
from deployworker.apply import Applied, apply_deploy, apply_rollback, deployment_on
from deployworker.assess import State
from deployworker.aws.ecs import Ecs
from deployworker.aws.sqs import Message
from deployworker.errors import (
    PermanentAwsError,
    Rejection,
    RejectionKind,
    RetryableAwsError,
)
from deployworker.events import DeployEvent, Emit, discard
from deployworker.failpoints import failpoint
from deployworker.outcome import Outcome, Result
from deployworker.parse import DeployRequest, parse_request, unwrap
from deployworker.signing import SIGNATURE_ATTRIBUTE, verify
from deployworker.watch import Watcher

log = structlog.get_logger("deployworker.pipeline")
Log = structlog.typing.FilteringBoundLogger


def _deploy_id(request: DeployRequest, message: Message) -> str:
    """The idempotency key: the message's deploy_id, else SQS's deduplication id."""
    return request.deploy_id or message.dedup_id or message.message_id


def _fields(request: DeployRequest, message: Message) -> dict[str, object]:
    """The log fields every line about this deploy carries."""
    fields: dict[str, object] = {
        "deploy_id": _deploy_id(request, message),
        "cluster": request.cluster_ref.name,
        "service": request.service_ref.name,
        "image": ",".join(str(ref) for ref in request.targets.values()) or None,
        "action": request.action,
    }
    if request.source is not None:
        fields["source"] = request.source.model_dump(exclude_none=True)
    return fields


# The one terminal event each message's deploy ends with.
TERMINAL_EVENTS = {
    Outcome.DEPLOYED: "converged",
    Outcome.NOOP: "noop",
    Outcome.FAILED: "failed",
    Outcome.ROLLED_BACK: "rolled_back",
    Outcome.REJECTED_INVALID: "rejected",
    Outcome.REJECTED_NOT_ALLOWED: "rejected",
}


def event_of(kind: str, result: Result, request: DeployRequest | None = None) -> DeployEvent:
    """A deploy event from a result; a parsed request fills in what the result withholds."""
    images = result.images or (
        {k: str(v) for k, v in request.targets.items()} if request is not None else {}
    )
    return DeployEvent(
        type=kind,
        deploy_id=result.deploy_id,
        cluster=result.cluster or (request.cluster_ref.name if request else None),
        service=result.service or (request.service_ref.name if request else None),
        image=",".join(images.values()) or None,
        outcome=None if kind in ("received", "registered") else result.outcome.value,
        reason=result.reason or None,
        duration=round(result.duration, 3) if result.duration else None,
        task_definition=result.task_definition,
        source=request.source.model_dump(exclude_none=True) if request and request.source else None,
    )


def _rejected(rejection: Rejection) -> Outcome:
    if rejection.kind == RejectionKind.INVALID:
        return Outcome.REJECTED_INVALID
    return Outcome.REJECTED_NOT_ALLOWED


class Pipeline:
    """Turns a received message into a `Result`, doing the deploy on the way."""

    def __init__(
        self,
        ecs: Ecs,
        watcher: Watcher,
        allowlist: Callable[[], Allowlist],
        default_timeout: float,
        region: str | None = None,
        account: str | None = None,
        emit: Emit = discard,
        signing_key: bytes | None = None,
        signing_max_age: float = 86_400,
    ) -> None:
        self._ecs = ecs
        self._watcher = watcher
        self._allowlist = allowlist
        self._default_timeout = default_timeout
        self._region = region
        self._account = account
        self._emit = emit
        self._signing_key = signing_key
        self._signing_max_age = signing_max_age
        self._locks: defaultdict[tuple[str, str], threading.Lock] = defaultdict(threading.Lock)
        self._locks_guard = threading.Lock()

    def _lock(self, cluster: str, service: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks[(cluster, service)]

    def handle(self, message: Message) -> Result:
        """Process `message` to an outcome. Never raises.

        Log fields are bound as context variables for the duration, so every line
        this thread logs meanwhile (adapter retries included) carries the deploy_id.
        """
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(
            message_id=message.message_id,
            group_id=message.group_id,
            deploy_id=message.dedup_id or message.message_id,
        )
        try:
            result, request = self._handle(message)
        finally:
            structlog.contextvars.clear_contextvars()
        kind = TERMINAL_EVENTS.get(result.outcome)
        if kind is not None:
            self._emit(event_of(kind, result, request))
        return result

    def _handle(self, message: Message) -> tuple[Result, DeployRequest | None]:
        failpoint("received")
        started = time.monotonic()
        request: DeployRequest | None = None
        try:
            request = self._parse(message)
            structlog.contextvars.bind_contextvars(**_fields(request, message))
            self._emit(
                event_of(
                    "received", Result(Outcome.RETRIED, "", _deploy_id(request, message)), request
                )
            )
            check_scope(request, self._region, self._account)
            decision = decide(self._allowlist(), request)
        except Rejection as rejection:
            outcome = _rejected(rejection)
            log.warning("message.rejected", outcome=outcome.value, reason=rejection.reason)
            deploy_id = _deploy_id(request, message) if request else None
            return Result(outcome, rejection.reason, deploy_id), request
        deploy_id = _deploy_id(request, message)
        cluster, service = request.cluster_ref.name, request.service_ref.name
        images = {name: str(ref) for name, ref in request.targets.items()}
        source = request.source.model_dump(exclude_none=True) if request.source else None
        base = Result(Outcome.FAILED, "", deploy_id, cluster, service, images, source=source)
        log.info("deploy.accepted")
        with self._lock(cluster, service):
            result = self._deploy(request, decision.entry, deploy_id, message, base, log)
        result = replace(result, duration=time.monotonic() - started)
        level = "info" if result.outcome in (Outcome.DEPLOYED, Outcome.NOOP) else "warning"
        getattr(log, level)(
            "deploy.finished",
            outcome=result.outcome.value,
            reason=result.reason,
            duration_seconds=round(result.duration, 3),
        )
        return result, request

    def _parse(self, message: Message) -> DeployRequest:
        """Unwrap, check the signature when one is required, then validate."""
        unwrapped = unwrap(message.body)
        if self._signing_key is not None:
            signature = unwrapped.attributes.get(SIGNATURE_ATTRIBUTE) or message.attributes.get(
                SIGNATURE_ATTRIBUTE
            )
            verify(unwrapped.text, signature, self._signing_key, time.time(), self._signing_max_age)
        return parse_request(unwrapped)

    def _deploy(
        self,
        request: DeployRequest,
        entry: Entry,
        deploy_id: str,
        message: Message,
        base: Result,
        bound: Log,
    ) -> Result:
        try:
            if request.action == "rollback":
                applied: Applied | None = apply_rollback(self._ecs, request, message.sent_at, bound)
            else:
                applied = apply_deploy(self._ecs, request, deploy_id, bound)
            if applied is None:
                return replace(base, outcome=Outcome.NOOP, reason="service already runs the image")
            if not applied.resumed and request.action == "deploy":
                self._emit(
                    event_of("registered", replace(base, task_definition=applied.target), request)
                )
            return self._follow(request, entry, applied, base, bound)
        except Rejection as rejection:
            bound.warning("deploy.rejected", reason=rejection.reason)
            return replace(base, outcome=_rejected(rejection), reason=rejection.reason)
        except RetryableAwsError as exc:
            bound.warning("deploy.retry_later", error=str(exc))
            return replace(base, outcome=Outcome.RETRIED, reason=str(exc))
        except PermanentAwsError as exc:
            bound.error("deploy.aws_error", error=str(exc))
            return replace(base, outcome=Outcome.FAILED, reason=str(exc), dead_letter=True)
        except Exception as exc:  # a bug must not kill the worker; redrive is the backstop
            bound.exception("deploy.crashed")
            return replace(base, outcome=Outcome.RETRIED, reason=f"internal error: {exc!r}")

    def _follow(
        self, request: DeployRequest, entry: Entry, applied: Applied, base: Result, bound: Log
    ) -> Result:
        cluster, service = base.cluster or "", base.service or ""
        timeout = float(entry.timeout or self._default_timeout)
        base = replace(base, task_definition=applied.target)
        if applied.deployment_id is None:
            return replace(base, reason="no deployment found for the new revision")
        verdict = self._watcher.wait(cluster, service, applied.deployment_id, timeout)
        if verdict is None:
            return replace(base, outcome=Outcome.RELEASED, reason="worker shutting down")
        if verdict.state == State.CONVERGED:
            bound.info("deploy.converged", deployment_id=applied.deployment_id)
            failpoint("converged")
            return replace(base, outcome=Outcome.DEPLOYED, reason=verdict.reason)
        bound.warning("deploy.failed", deployment_id=applied.deployment_id, reason=verdict.reason)
        failed = replace(base, outcome=Outcome.FAILED, reason=verdict.reason)
        if request.action == "rollback":
            return failed
        if verdict.rollback_deployment is not None:
            bound.info("rollback.by_circuit_breaker", deployment_id=verdict.rollback_deployment)
            rollback_id: str | None = verdict.rollback_deployment
        elif entry.rollback and applied.previous:
            updated = self._ecs.update_service(cluster, service, applied.previous)
            rollback_id = deployment_on(updated, applied.previous)
            bound.info(
                "rollback.started", task_definition=applied.previous, deployment_id=rollback_id
            )
        else:
            return failed
        if rollback_id is None:
            return replace(failed, reason=f"{verdict.reason}; rollback deployment not found")
        back = self._watcher.wait(cluster, service, rollback_id, timeout)
        if back is None:
            return replace(base, outcome=Outcome.RELEASED, reason="worker shutting down")
        if back.state == State.CONVERGED:
            bound.info("rollback.converged", deployment_id=rollback_id)
            return replace(base, outcome=Outcome.ROLLED_BACK, reason=verdict.reason)
        return replace(failed, reason=f"{verdict.reason}; rollback failed: {back.reason}")
