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

from deployworker.act import Actor
from deployworker.allowlist import Allowlist, Entry, check_scope, decide
from deployworker.apply import Applied, deployment_on
from deployworker.assess import State
from deployworker.aws.ecs import Ecs
from deployworker.aws.sqs import Message
from deployworker.errors import (
    PermanentAwsError,
    Rejection,
    RetryableAwsError,
)
from deployworker.events import Emit, discard
from deployworker.failpoints import failpoint
from deployworker.message import DeployRequest
from deployworker.migrate import MigrationFailed
from deployworker.outcome import Outcome, Result
from deployworker.parse import parse_request, unwrap
from deployworker.reporting import (
    TERMINAL_EVENTS,
    deploy_id_of,
    event_of,
    log_fields,
    rejected_outcome,
)
from deployworker.signing import SIGNATURE_ATTRIBUTE, verify
from deployworker.watch import Watcher

log = structlog.get_logger("deployworker.pipeline")
Log = structlog.typing.FilteringBoundLogger


class Pipeline:
    """Turns a received message into a `Result`, doing the deploy on the way."""

    def __init__(
        self,
        ecs: Ecs,
        actor: Actor,
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
        self._actor = actor
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
            structlog.contextvars.bind_contextvars(**log_fields(request, message))
            self._emit(
                event_of(
                    "received", Result(Outcome.RETRIED, "", deploy_id_of(request, message)), request
                )
            )
            check_scope(request, self._region, self._account)
            decision = decide(self._allowlist(), request)
        except Rejection as rejection:
            outcome = rejected_outcome(rejection)
            log.warning("message.rejected", outcome=outcome.value, reason=rejection.reason)
            deploy_id = deploy_id_of(request, message) if request else None
            return Result(outcome, rejection.reason, deploy_id), request
        deploy_id = deploy_id_of(request, message)
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

    def admissible(self, message: Message) -> DeployRequest | None:
        """The request in `message` if it is valid and allowed now; None otherwise.
        Side-effect free: used to decide superseding before anything runs."""
        try:
            request = self._parse(message)
            check_scope(request, self._region, self._account)
            decide(self._allowlist(), request)
        except Rejection:
            return None
        return request

    def supersede(self, message: Message, request: DeployRequest, newer: Message) -> Result:
        """The outcome of a deploy replaced, before it ran, by a newer one in the same batch."""
        fields = log_fields(request, message)
        reason = f"superseded by message {newer.message_id}"
        structlog.get_logger("deployworker.pipeline").info(
            "deploy.superseded", reason=reason, **fields
        )
        result = Result(
            Outcome.SUPERSEDED,
            reason,
            deploy_id_of(request, message),
            request.cluster_ref.name,
            request.service_ref.name,
            {k: str(v) for k, v in request.targets.items()},
        )
        self._emit(event_of("superseded", result, request))
        return result

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
            applied = self._actor.apply(request, entry, deploy_id, message.sent_at, bound)
            if applied is None:
                return replace(base, outcome=Outcome.NOOP, reason="service already runs the image")
            if not applied.resumed and request.action in ("deploy", "promote"):
                self._emit(
                    event_of("registered", replace(base, task_definition=applied.target), request)
                )
            return self._follow(request, entry, applied, base, bound)
        except Rejection as rejection:
            bound.warning("deploy.rejected", reason=rejection.reason)
            return replace(base, outcome=rejected_outcome(rejection), reason=rejection.reason)
        except MigrationFailed as failed:
            reason = f"{failed.reason} (task {failed.task_arn}, exit code {failed.exit_code})"
            return replace(base, outcome=Outcome.MIGRATION_FAILED, reason=reason)
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
