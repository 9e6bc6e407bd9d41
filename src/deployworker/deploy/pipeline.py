"""One message, start to outcome: parse → allowlist → plan/apply → watch → (rollback).

`Pipeline.start` does the short, active part of a deploy (parse, allowlist,
register, update) on the caller's thread, then hands the deployment to the
`Watcher` and returns: a deploy waiting for its rollout holds no thread. The
verdict resumes it on `dispatch` (a pool), and `done` gets the `Result` for
`settle`. No path raises: every one ends in exactly one `done(result)`.

Deploys of one service are serialised in-process as well, because two message
groups could name the same service; a deploy waiting its turn is a queue entry.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import structlog

from deployworker.aws.ecs import Ecs
from deployworker.aws.held import holding
from deployworker.aws.sqs import Message
from deployworker.deploy.act import Actor
from deployworker.deploy.gates.drive import GateDriver
from deployworker.deploy.job import (
    Done,
    Job,
    Router,
    bound,
    deadline,
    log_finished,
    report,
    result_of_error,
)
from deployworker.deploy.progress import on_progress
from deployworker.deploy.reporting import (
    TERMINAL_EVENTS,
    deploy_id_of,
    event_of,
    log_fields,
    rejected_outcome,
    rollout_started,
)
from deployworker.deploy.serial import Dispatch, KeyedSerial
from deployworker.deploy.supersede import Request, superseded_result
from deployworker.deploy.verdicts import Then, Verdicts
from deployworker.errors import Rejection
from deployworker.failpoints import failpoint
from deployworker.intake.admit import Intake
from deployworker.intake.entries import Allowlist
from deployworker.intake.message import DeployRequest
from deployworker.intake.release_message import ReleaseRequest
from deployworker.intake.signing import DEFAULT_MAX_AGE, Verifier
from deployworker.observe.events import Emit, discard
from deployworker.outcome import Outcome, Result
from deployworker.rollout.assess import Assessment
from deployworker.rollout.watch import Watcher

log = structlog.get_logger("deployworker.pipeline")


class Pipeline:
    """Turns a received message into a `Result`, doing the deploy on the way."""

    def __init__(
        self,
        ecs: Ecs,
        actor: Actor,
        watcher: Watcher,
        allowlist: Callable[[], Allowlist],
        default_timeout: float,
        dispatch: Dispatch,
        region: str | None = None,
        account: str | None = None,
        emit: Emit = discard,
        signing_key: Verifier | None = None,
        signing_max_age: float = DEFAULT_MAX_AGE,
        releases: Router | None = None,
        gates: GateDriver | None = None,
    ) -> None:
        self._ecs = ecs
        self.watcher = watcher  # public: the events queue wakes it
        self._intake = Intake(allowlist, region, account, signing_key, signing_max_age)
        self._default_timeout = default_timeout
        self._emit = emit
        self._actor = actor
        self._dispatch = dispatch
        self._serial = KeyedSerial(dispatch)
        self.gates = gates or GateDriver.default(ecs, dispatch, watcher.wake)  # public
        self._verdicts = Verdicts(ecs, self._follow, self.gates, self._guarded)
        self._lock = threading.Lock()
        self._jobs: dict[str, Job] = {}  # by receipt handle: each copy of a message is its own
        self._releases = releases

    # -- entry points ------------------------------------------------------------------------
    def handle(self, message: Message) -> Result:
        """Process `message` to an outcome, blocking until it has one. Never raises."""
        finished = threading.Event()
        results: list[Result] = []

        def done(result: Result) -> None:
            results.append(result)
            finished.set()

        self.start(message, done)
        finished.wait()
        return results[0]

    def start(self, message: Message, done: Done) -> None:
        """Begin processing `message`; `done(result)` runs exactly once, on this thread
        or on a dispatched one, when it has an outcome. Returns once the deploy is
        applied and being watched (or finished). Never raises."""
        fields: dict[str, Any] = {"message_id": message.message_id, "group_id": message.group_id}
        fields["deploy_id"] = message.dedup_id or message.message_id
        started = time.monotonic()
        with bound(fields):
            request: DeployRequest | None = None
            try:
                if self._releases is not None and self._releases.claims(message):
                    self._releases.start(message, done)
                    return
                failpoint("received")
                request = self._intake.parse(message)
                fields.update(log_fields(request, message))
                structlog.contextvars.bind_contextvars(**fields)
                decision = self._intake.admit(request, message.group_id)
                # Admitted first: a rejected sender's text never reaches ChatOps.
                received = Result(Outcome.RETRIED, "", deploy_id_of(request, message))
                self._emit(event_of("received", received, request))
            except Rejection as rejection:
                outcome = rejected_outcome(rejection)
                log.warning("message.rejected", outcome=outcome.value, reason=rejection.reason)
                deploy_id = deploy_id_of(request, message) if request else None
                result = Result(outcome, rejection.reason, deploy_id)
                self._emit_terminal(result, request)
                report(done, result)
                return
            except Exception as exc:  # a bug must not strand the message (nor hold its slot)
                log.exception("message.crashed")
                report(done, Result(Outcome.RETRIED, f"internal error: {exc!r}"))
                return
            deploy_id = deploy_id_of(request, message)
            cluster, service = request.cluster_ref.name, request.service_ref.name
            images = {name: str(ref) for name, ref in request.targets.items()}
            source = request.source.model_dump(exclude_none=True) if request.source else None
            base = Result(Outcome.FAILED, "", deploy_id, cluster, service, images, source=source)
            log.info("deploy.accepted")
        job = Job(message, request, decision.entry, base, started, fields, done, (cluster, service))
        with self._lock:
            self._jobs[message.receipt_handle] = job
        self._serial.run(job.key, lambda: self._guarded(job, self._apply))

    def abandon(self, message: Message, reason: str) -> None:
        """This copy of `message` is no longer ours (its heartbeat failed): its deploy
        ends as `released` at once, and makes no further AWS write."""
        if self._releases is not None:
            self._releases.abandon(message, reason)
        with self._lock:
            job = self._jobs.get(message.receipt_handle)
        if job is None:
            return
        job.lost = reason
        self.gates.settled(job)
        if job.watch is not None:
            self.watcher.cancel(job.watch)

    def admissible(self, message: Message) -> Request | None:
        """The request in `message` if it is valid and allowed now; None otherwise.
        Side-effect free: used to decide superseding before anything runs."""
        if self._releases is not None and self._releases.claims(message):
            return self._releases.admissible(message)
        return self._intake.admissible(message)

    def supersede(self, message: Message, request: Request, newer: Message) -> Result:
        """The outcome of a deploy replaced, before it ran, by a newer one in the same batch."""
        if isinstance(request, ReleaseRequest):
            assert self._releases is not None
            return self._releases.supersede(message, request, newer)
        result = superseded_result(message, request, newer)
        log.info("deploy.superseded", reason=result.reason, **log_fields(request, message))
        self._emit(event_of("superseded", result, request))
        return result

    # -- stages ------------------------------------------------------------------------------
    def _guarded(self, job: Job, stage: Callable[[Job], Result | None]) -> None:
        """Run one stage in the log context, writing only while held; a `Result` ends it."""
        with bound(job.fields), holding(job.held):
            try:
                job.held()
                result = stage(job)
            except Exception as exc:
                result = job.released() if job.lost else result_of_error(job.base, exc)
            if result is not None:
                self._end(job, result)

    def _apply(self, job: Job) -> Result | None:
        """Register and update; then follow the new deployment (None: still going)."""
        applied = self._actor.apply(
            job.request, job.entry, job.base.deploy_id or "", job.message.sent_at, log
        )
        if applied is None:
            return replace(job.base, outcome=Outcome.NOOP, reason="service already runs the image")
        job.applied = applied
        job.base = replace(
            job.base,
            task_definition=applied.target,
            images_before=dict(applied.before or {}),
            deployment=applied.deployment_arn,
        )
        if not applied.resumed and job.request.action in ("deploy", "promote"):
            self._emit(event_of("registered", job.base, job.request))
        if applied.deployment_arn is None:
            return replace(job.base, reason="no service deployment found for the new revision")
        job.timeout = deadline(job.entry, self._default_timeout, applied.configuration)
        self._emit(rollout_started(job.base, job.timeout, time.time()))
        self.gates.applied(job)
        self._follow(job, applied.deployment_arn, self._verdicts.after_deploy)
        return None

    def _follow(self, job: Job, arn: str, then: Then) -> None:
        """Hand the deployment to the watcher; its verdict resumes `then` on `dispatch`."""

        def resume(verdict: Assessment | None) -> None:
            self.gates.settled(job)  # the deployment ended: a gate at its hook is moot
            self._dispatch(lambda: self._guarded(job, lambda j: then(j, verdict)))

        progress = on_progress(job, arn, self.gates, self._emit)
        job.watch = self.watcher.follow(arn, job.timeout, resume, progress)
        if job.lost is not None:  # lost while the watch began: end it now
            self.watcher.cancel(job.watch)

    def _end(self, job: Job, result: Result) -> None:
        """Finish a deploy: log, emit its event, free its service, report."""
        result = replace(result, duration=time.monotonic() - job.started)
        log_finished(result)
        self._emit_terminal(result, job.request)
        self.gates.settled(job)
        with self._lock:
            self._jobs.pop(job.message.receipt_handle, None)
        self._serial.release(job.key)
        report(job.done, result)

    def _emit_terminal(self, result: Result, request: DeployRequest | None) -> None:
        kind = TERMINAL_EVENTS.get(result.outcome)
        if kind is not None:
            self._emit(event_of(kind, result, request))
