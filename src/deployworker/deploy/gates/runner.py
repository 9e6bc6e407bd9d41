"""Runs gates: takes measurements, reads votes, and ends each gate with a decision.

`Runner.start` opens a gate and returns at once; each step runs on the resume pool (via
`Scheduler`), asks the pure `decide` what to do, takes the measurements due (on
`measuring`'s bounded pool), reads the votes while an approval is open, and schedules the
next step. The ending (`Decision`, CONTINUE or ROLLBACK) goes to the caller's `on_end`.
Steps of one gate never overlap; `wake` (a vote arrived) runs the next step now.
Measurements live in memory only (and in the ledger's copy, `gate_progress`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from operator import attrgetter
from typing import Any

import structlog

from deployworker.deploy.approvals.votes import Vote
from deployworker.deploy.gates import report, show
from deployworker.deploy.gates.contract import Subject, VoteBook, Window
from deployworker.deploy.gates.decide import Action, Decision, Progress, decide, query_of
from deployworker.deploy.gates.measuring import MeasurePool
from deployworker.deploy.gates.schedule import Scheduler
from deployworker.deploy.job import bound
from deployworker.failpoints import failpoint
from deployworker.intake.gates import Gate
from deployworker.observe.events import Emit, discard
from deployworker.rollout.analysis.measure import Measurement, Provider

log = structlog.get_logger("deployworker.gates")
_KEY = attrgetter("cluster", "service", "deploy_id")  # a subject's deploy


@dataclass(eq=False)
class Run:
    """One gate in progress."""

    gate: Gate
    subject: Subject
    fields: dict[str, Any]
    on_end: Callable[[Decision], None]
    progress: Progress
    ticket: int = 0  # only the newest scheduled step runs
    cancelled: bool = False
    announced: bool = False  # approval_requested went out; counted as pending
    woken: bool = False
    shown: tuple[str, str] = ("", "")
    lock: threading.Lock = field(default_factory=threading.Lock)


class Runner:
    """Runs every gate of this worker; see the module docstring."""

    def __init__(
        self,
        provider: Provider,
        votes: VoteBook,
        scheduler: Scheduler,
        emit: Emit = discard,
        tag: Callable[[str, Mapping[str, str]], None] | None = None,
        on_result: Callable[[str, str, str], None] = lambda *_: None,
        on_pending: Callable[[str, str, int], None] = lambda *_: None,
        clock: Callable[[], float] = time.time,
        poll_seconds: float = 5.0,
        on_window: Window = lambda *_: None,
        vote_to: Sequence[str] = (),
        measures: MeasurePool | None = None,
    ) -> None:
        self.provider = provider  # public: swapped in tests and by the wiring
        self.measures = measures or MeasurePool()  # public: tests shorten its timeout
        self.votes = votes
        self.scheduler, self._emit, self._tag = scheduler, emit, tag  # public: the driver stops it
        self._on_result = on_result  # gate_evaluations_total{cluster,service,result}
        self._on_pending = on_pending  # approvals_pending{cluster,service}, +1 / -1
        self._on_window = on_window  # an approval's window opened (times) or closed (None)
        self._clock, self._poll = clock, poll_seconds
        self._vote_to = tuple(vote_to)  # `approve`'s region and queue (or topic) options
        self._lock = threading.Lock()
        self._runs: set[Run] = set()

    def start(
        self,
        gate: Gate,
        subject: Subject,
        fields: dict[str, Any],
        on_end: Callable[[Decision], None],
        window: float | None = None,
    ) -> Run:
        """Open `gate` now (its window at `window`, its hook's start, if earlier);
        `on_end` gets its final decision once, on a pool thread."""
        now = self._clock()
        progress = Progress(now, window=min(window, now) if window is not None else None)
        run = Run(gate, subject, dict(fields), on_end, progress)
        with self._lock:
            self._runs.add(run)
        detail = report.started(gate)
        log.info("gate.started", stage=gate.at, **detail)
        self._emit(report.event("gate_started", subject, gate, "", detail))
        self._schedule(run, 0.0)
        return run

    def cancel(self, run: Run) -> None:
        """Stop a gate whose deploy ended another way; its `on_end` never runs."""
        with self._lock:
            run.cancelled = True
            self._runs.discard(run)
            pending, run.announced = run.announced, False
        if pending:
            self._closed(run)

    def wake(self, cluster: str, service: str, deploy_id: str) -> None:
        """A vote on this deploy arrived: look at its gate now."""
        key = (cluster, service, deploy_id)
        with self._lock:
            runs = [r for r in self._runs if _KEY(r.subject) == key]
            for run in runs:
                run.woken = True
        for run in runs:
            self._schedule(run, 0.0)

    def later(self, seconds: float, step: Callable[[], None]) -> None:
        """Run `step` on the pool after `seconds` (a retry of what a gate's end does)."""
        self.scheduler.after(seconds, step)

    @property
    def running(self) -> int:
        """Gates in progress."""
        with self._lock:
            return len(self._runs)

    # -- steps ------------------------------------------------------------------------------
    def _schedule(self, run: Run, seconds: float) -> None:
        with self._lock:
            run.ticket += 1
            ticket = run.ticket
        self.scheduler.after(seconds, lambda: self._step(run, ticket))

    def _step(self, run: Run, ticket: int) -> None:
        with run.lock, bound(run.fields):
            with self._lock:
                # A wake and a poll can both be queued: the one behind a final step
                # finds the run ended and must not decide (nor report) it again.
                if run.cancelled or ticket != run.ticket or run not in self._runs:
                    return
                run.woken = False
            try:
                decision = self._advance(run)
            except Exception:  # a bug in one step must not strand the deploy: try again
                log.exception("gate.step_failed", stage=run.gate.at)
                self._schedule(run, self._poll)
                return
            self._show(run, decision)
            if decision.final:
                self._finish(run, decision)
                return
            if decision.action is Action.AWAIT and not run.announced:
                self._announce(run, decision)
            failpoint("gate_running")
            now = self._clock()
            wait = max(0.0, (decision.wake_at or now) - now)
            if decision.action is Action.AWAIT:
                wait = min(wait, self._poll)
            self._schedule(run, 0.0 if run.woken else wait)

    def _advance(self, run: Run) -> Decision:
        """Take what is due, then decide; with the approval open, on fresh votes."""
        decision = decide(run.gate, run.progress, self._clock())
        while decision.action is Action.MEASURE and decision.due:
            taken = dict(run.progress.measurements)
            for metric in run.gate.analysis:
                if metric.name in decision.due:
                    taken[metric.name] = (*taken.get(metric.name, ()), self._measure(metric))
            run.progress = replace(run.progress, measurements=taken)
            decision = decide(run.gate, run.progress, self._clock())
        if decision.tally is not None:
            run.progress = replace(run.progress, votes=self._read_votes(run))
            decision = decide(run.gate, run.progress, self._clock())
        return decision

    def _measure(self, metric: Any) -> Measurement:
        """One measurement on the measure pool, stamped when taken (`measuring`)."""
        found = replace(self.measures.measure(self.provider, query_of(metric)), at=self._clock())
        log.info("gate.measured", metric=metric.name, value=found.value, error=found.error or None)
        return found

    def _read_votes(self, run: Run) -> tuple[Vote, ...]:
        s = run.subject
        try:
            return tuple(self.votes.votes(s.cluster, s.service, s.deploy_id))
        except Exception as exc:  # an unreadable vote book: keep what we had, ask again
            log.warning("gate.votes_failed", error=repr(exc))
            return tuple(run.progress.votes)

    # -- what others see ---------------------------------------------------------------------
    def _show(self, run: Run, decision: Decision) -> None:
        """When the gate's progress changed: tell the ledger, tag the revision (best effort)."""
        shown = (show.state_of(decision), show.line(decision, run.gate.approval))
        if shown == run.shown:
            return
        run.shown = shown
        if not decision.final:
            self._emit(report.progress(run.subject, run.gate, decision, shown, self._vote_to))
        if self._tag is not None and run.subject.revision is not None:
            try:
                self._tag(run.subject.revision, show.tag(run.gate.at, *shown))
            except Exception as exc:
                log.warning("gate.tag_failed", error=repr(exc))

    def _announce(self, run: Run, decision: Decision) -> None:
        detail = report.approval_requested(run.subject, run.gate, decision, self._vote_to)
        log.info("gate.approval_requested", stage=run.gate.at, **detail)
        reason = decision.reason
        self._emit(report.event("approval_requested", run.subject, run.gate, reason, detail))
        with self._lock:
            run.announced = not run.cancelled
        if run.announced and decision.tally is not None and run.gate.approval is not None:
            self._on_pending(run.subject.cluster, run.subject.service, 1)
            deadline = decision.tally.deadline
            opened = deadline - run.gate.approval.timeout
            self._on_window(run.subject.cluster, run.subject.service, opened, deadline)

    def _closed(self, run: Run) -> None:
        """An announced approval ended (decided, timed out, or its gate cancelled)."""
        self._on_pending(run.subject.cluster, run.subject.service, -1)
        self._on_window(run.subject.cluster, run.subject.service, None, None)

    def _finish(self, run: Run, decision: Decision) -> None:
        with self._lock:
            if run.cancelled or run not in self._runs:
                return
            self._runs.discard(run)
            pending, run.announced = run.announced, False
        if pending:
            self._closed(run)
        self._on_result(run.subject.cluster, run.subject.service, decision.result)
        kind, detail = report.ended(decision, run.gate)
        passed = decision.action is Action.CONTINUE
        getattr(log, "info" if passed else "warning")(
            f"gate.{'passed' if passed else 'failed'}", reason=decision.reason, **detail
        )
        self._emit(report.event(kind, run.subject, run.gate, decision.reason, detail))
        try:
            run.on_end(decision)
        except Exception:
            log.exception("gate.end_failed", stage=run.gate.at)
