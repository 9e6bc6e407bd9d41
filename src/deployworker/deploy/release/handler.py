"""A release message from receipt to its outcome, on a thread of its own.

The pipeline hands over every message whose body names a `release`. Admission
(signature, schema, allowlist, group) happens before AWS is touched; then the
release runs on its own thread, because it waits for several rollouts in turn.
Every path ends in exactly one `done(result)`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

import structlog

from deployworker.aws.ecs import Ecs
from deployworker.aws.sqs import Message
from deployworker.deploy.job import Done, bound, report, result_of_error
from deployworker.deploy.migrate import Migrator
from deployworker.deploy.release.context import Context, Ending
from deployworker.deploy.release.follow import Follower, Released
from deployworker.deploy.release.members import Members
from deployworker.deploy.release.promote import promoted_images
from deployworker.deploy.release.report import member_event, outcome_event
from deployworker.deploy.release.rollback import roll_back
from deployworker.deploy.release.run import run_release
from deployworker.deploy.release.slots import release_key
from deployworker.deploy.reporting import TERMINAL_EVENTS, rejected_outcome
from deployworker.errors import Rejection, not_allowed
from deployworker.intake.admit import Intake
from deployworker.intake.entries import Allowlist
from deployworker.intake.release_message import (
    ReleaseRequest,
    admit_release,
    is_release,
    member_images,
    parse_release,
)
from deployworker.intake.releases import Release
from deployworker.observe.events import Emit, discard
from deployworker.outcome import Outcome, Result
from deployworker.rollout.watch import Watcher

log = structlog.get_logger("deployworker.release")


class Releases:
    """Runs release messages; the pipeline routes them here."""

    def __init__(
        self,
        intake: Intake,
        allowlist: Callable[[], Allowlist],
        members: Members,
        migrator: Migrator,
        watcher: Watcher,
        default_timeout: float,
        emit: Emit = discard,
        tag_key: bytes | None = None,
    ) -> None:
        self._intake = intake
        self._allowlist = allowlist
        self._members = members
        self._migrator = migrator
        self._watcher = watcher
        self._default_timeout = default_timeout
        self._emit = emit
        self._tag_key = tag_key  # seals the releases' own tags (`deploy.trust`)
        self._lock = threading.Lock()
        self._running: dict[str, Follower] = {}  # by receipt handle

    @property
    def _ecs(self) -> Ecs:
        return self._members.ecs

    def claims(self, message: Message) -> bool:
        """Whether `message` is a release message (a broken one is the pipeline's to reject)."""
        try:
            return is_release(self._intake.unwrap(message))
        except Rejection:
            return False

    def admissible(self, message: Message) -> ReleaseRequest | None:
        """The release request in `message` if it is valid and allowed now; None
        otherwise. Side-effect free: superseding decides with it."""
        try:
            request = parse_release(self._intake.unwrap(message))
            release = admit_release(self._allowlist(), request, message.group_id)
            if request.action == "deploy":
                member_images(release, request)
        except Rejection:
            return None
        return request

    def supersede(self, message: Message, request: ReleaseRequest, newer: Message) -> Result:
        """The outcome of a release replaced, before it ran, by a newer one of the same
        release in the same batch."""
        deploy_id = request.deploy_id or message.dedup_id or message.message_id
        reason = f"superseded by message {newer.message_id}"
        result = Result(Outcome.SUPERSEDED, reason, deploy_id, release=request.release)
        log.info("release.superseded", reason=reason, release=request.release, deploy_id=deploy_id)
        self._event("superseded", result, request.release)
        return result

    def start(self, message: Message, done: Done) -> None:
        """Admit the release and run it on its own thread; `done` gets its result once."""
        deploy_id = message.dedup_id or message.message_id
        fields: dict[str, Any] = {"message_id": message.message_id, "group_id": message.group_id}
        with bound(fields):
            request: ReleaseRequest | None = None
            try:
                request = parse_release(self._intake.unwrap(message))
                deploy_id = request.deploy_id or deploy_id
                fields.update(release=request.release, deploy_id=deploy_id, action=request.action)
                structlog.contextvars.bind_contextvars(**fields)
                release = admit_release(self._allowlist(), request, message.group_id)
                images = member_images(release, request) if request.action == "deploy" else {}
                late = release.over_budget(release.timeout or self._default_timeout)
                if late is not None:
                    raise not_allowed(f"release {release.name} {late}")
            except Rejection as rejection:
                outcome = rejected_outcome(rejection)
                log.warning("message.rejected", outcome=outcome.value, reason=rejection.reason)
                result = Result(outcome, rejection.reason, deploy_id)
                self._event(TERMINAL_EVENTS[outcome], result, request.release if request else None)
                report(done, result)
                return
            except Exception as exc:  # a bug must not strand the message (nor hold its slot)
                log.exception("message.crashed")
                report(done, Result(Outcome.RETRIED, f"internal error: {exc!r}", deploy_id))
                return
        log.info("release.accepted", **fields)
        follower = Follower(self._watcher)
        with self._lock:
            self._running[message.receipt_handle] = follower
        thread = threading.Thread(
            target=self._run,
            args=(message, request, release, images, deploy_id, follower, fields, done),
            name=f"release-{release.name}",
            daemon=True,
        )
        thread.start()

    def abandon(self, message: Message, reason: str) -> None:
        """This copy of `message` is no longer ours: end its waits, write nothing more."""
        with self._lock:
            follower = self._running.get(message.receipt_handle)
        if follower is not None:
            follower.cancel(reason)

    def _run(
        self,
        message: Message,
        request: ReleaseRequest,
        release: Release,
        images: Mapping[str, Mapping[str, str]],
        deploy_id: str,
        follower: Follower,
        fields: dict[str, Any],
        done: Done,
    ) -> None:
        started = time.monotonic()
        flat = {c: i for member in images.values() for c, i in member.items()}
        base = Result(Outcome.FAILED, "", deploy_id, images=flat, release=release.name)
        with bound(fields):
            self._event("received", base, release.name)
            # A rollback acts on the release it names, keyed by that release's deploy_id.
            target = request.to_deploy_id or deploy_id
            ctx = Context(
                release,
                target,
                release_key(release, target),
                self._ecs,
                self._members,
                follower,
                float(release.timeout or self._default_timeout),
                self._stepper(base),
                self._tag_key,
            )
            try:
                if request.action == "rollback":
                    ending = roll_back(ctx)
                elif request.action == "promote":
                    assert request.promote_from is not None
                    source = self._allowlist().release(request.promote_from.release)
                    if source is None:
                        raise not_allowed(f"release {request.promote_from.release} is gone")
                    promoted = promoted_images(self._members, source)
                    images = member_images(release, request, promoted)
                    log.info("release.promoting", source=source.name, images=promoted)
                    ending = run_release(ctx, images, request.source, self._migrator)
                else:
                    ending = run_release(ctx, images, request.source, self._migrator)
                result = replace(base, outcome=ending.outcome, reason=ending.reason)
            except Released as exc:
                ending = Ending(Outcome.RELEASED, str(exc))
                result = replace(base, outcome=Outcome.RELEASED, reason=str(exc))
            except Exception as exc:
                ending = Ending(Outcome.FAILED, "")
                result = result_of_error(base, exc)
            result = replace(result, duration=time.monotonic() - started)
            level = "info" if result.outcome in (Outcome.DEPLOYED, Outcome.NOOP) else "warning"
            getattr(log, level)(
                "release.finished",
                outcome=result.outcome.value,
                reason=result.reason,
                members=ending.states,
                task_definitions=ending.revisions,
                duration_seconds=round(result.duration, 3),
            )
            kind = TERMINAL_EVENTS.get(result.outcome)
            if kind is not None:
                self._event(kind, result, release.name, ending.states)
        with self._lock:
            self._running.pop(message.receipt_handle, None)
        report(done, result)

    def _stepper(self, base: Result) -> Callable[[str, str, Mapping[str, Any]], None]:
        def step(member: str, what: str, details: Mapping[str, Any]) -> None:
            log.info("release.member", member=member, step=what, **details)
            self._emit(member_event(base, member, what, details))

        return step

    def _event(
        self, kind: str, result: Result, release: str | None, members: dict[str, str] | None = None
    ) -> None:
        self._emit(outcome_event(kind, result, release, members))
