"""Stage 5, watch: one thread follows every in-flight service deployment, 20 per call.

A deploy registers the service deployment (by ARN) it waits for, with a callback,
and gives its thread back: an in-flight deploy is an entry in a set, not a blocked
thread. Each round describes every followed ARN with DescribeServiceDeployments,
at most 20 per call and across clusters, and calls each callback with its verdict
from the pure `assess`. Callbacks run on the watcher's thread, so they must only
hand the verdict on (to a pool). Transient AWS errors skip a round rather than fail
a deploy: only the deploy's own deadline ends the wait, and time spent paused at a
lifecycle hook does not count against it (the hook has its own timeout).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import structlog

from deployworker.aws.ecs import MAX_DESCRIBE_SERVICE_DEPLOYMENTS, Ecs
from deployworker.errors import AwsError
from deployworker.failpoints import failpoint
from deployworker.rollout.assess import Assessment, State, assess, missing

log = structlog.get_logger("deployworker.watch")

# Called once with the final verdict, or with None when the watcher stops first.
OnVerdict = Callable[[Assessment | None], None]
# Called on the watcher's thread when an unfinished deployment's progress changes.
OnProgress = Callable[[Assessment], None]
# ECS's read-after-write lag: a deployment just created may be MISSING for a moment.
MISSING_ROUNDS = 3


@dataclass(eq=False)
class _Watch:
    arn: str
    deadline: float
    on_verdict: OnVerdict
    on_progress: OnProgress | None
    seen_at: float
    progress: str = ""
    paused: bool = False
    missing: int = 0


class Watcher:
    """Follows service deployments until each ends or its deadline passes."""

    def __init__(
        self,
        ecs: Ecs,
        interval: float,
        clock: Callable[[], float] = time.monotonic,
        describe_rate: float | None = None,
        on_round: Callable[[int, int, float], None] = lambda *_: None,
        on_paused: Callable[[int], None] = lambda _: None,
    ) -> None:
        self._ecs = ecs
        self._interval = interval
        self._describe_rate = describe_rate
        self._on_round = on_round  # (deployments watched, describe calls, cadence)
        self._on_paused = on_paused  # deployments waiting at a PAUSE hook
        self._next_wait = interval
        self._clock = clock
        self._watches: set[_Watch] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the polling thread."""
        self._thread = threading.Thread(target=self._loop, name="watcher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop polling and call every pending callback with no verdict."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        with self._lock:
            pending, self._watches = self._watches, set()
        for watch in pending:
            watch.on_verdict(None)

    @property
    def watching(self) -> int:
        """Deployments currently followed."""
        with self._lock:
            return len(self._watches)

    def follow(
        self,
        arn: str,
        timeout: float,
        on_verdict: OnVerdict,
        on_progress: OnProgress | None = None,
    ) -> object:
        """Follow service deployment `arn`; `on_verdict` gets its final verdict, once.

        Returns at once, with a handle for `cancel`. If the watcher has stopped,
        `on_verdict(None)` runs here.
        """
        now = self._clock()
        watch = _Watch(arn, now + timeout, on_verdict, on_progress, now)
        with self._lock:
            stopped = self._stop.is_set()
            if not stopped:
                self._watches.add(watch)
        if stopped:
            on_verdict(None)
        return watch

    def cancel(self, handle: object) -> None:
        """Stop following what `follow` returned `handle` for: its `on_verdict(None)`
        runs here, unless a verdict already went out."""
        with self._lock:
            if handle not in self._watches:
                return
            self._watches.discard(handle)
        assert isinstance(handle, _Watch)
        handle.on_verdict(None)

    def _loop(self) -> None:
        while not self._stop.wait(self._next_wait):
            try:
                watched = self.watching
                calls = self.poll()
                self._next_wait = self.cadence(calls)
                self._on_round(watched, calls, self._next_wait)
            except Exception:  # the watcher must outlive any single bad round
                log.exception("watch.poll_failed")

    def cadence(self, calls: int) -> float:
        """Seconds until the next round: the configured interval, stretched so that a
        round of `calls` describe calls stays inside the budget (calls per second)."""
        if not self._describe_rate:
            return self._interval
        return max(self._interval, calls / self._describe_rate)

    def poll(self) -> int:
        """One round: describe every followed deployment once, and settle what is final.

        Returns the number of DescribeServiceDeployments calls made.
        """
        with self._lock:
            watches = sorted(self._watches, key=lambda w: w.arn)
        by_arn: dict[str, list[_Watch]] = {}
        for watch in watches:
            by_arn.setdefault(watch.arn, []).append(watch)
        arns = list(by_arn)
        calls = 0
        for start in range(0, len(arns), MAX_DESCRIBE_SERVICE_DEPLOYMENTS):
            batch = arns[start : start + MAX_DESCRIBE_SERVICE_DEPLOYMENTS]
            self._poll_batch(batch, by_arn)
            calls += 1
        self._on_paused(sum(1 for w in watches if w.paused))
        return calls

    def _poll_batch(self, arns: list[str], by_arn: dict[str, list[_Watch]]) -> None:
        try:
            found, failures = self._ecs.describe_service_deployments(arns)
        except AwsError as exc:
            log.warning("watch.describe_failed", deployments=len(arns), error=str(exc))
            found, failures = [], []
        described = {str(d.get("serviceDeploymentArn")): d for d in found}
        gone = {str(f.get("arn")) for f in failures}
        now = self._clock()
        for arn in arns:
            for watch in by_arn[arn]:
                verdict = self._judge(watch, described.get(arn), arn in gone, now)
                if verdict is not None:
                    self._settle(watch, verdict)

    def _judge(
        self, watch: _Watch, deployment: dict[str, object] | None, gone: bool, now: float
    ) -> Assessment | None:
        """The verdict for one watch this round; None while it goes on."""
        if watch.paused:
            # Paused time counts only against the hook's own timeout.
            watch.deadline += now - watch.seen_at
        watch.seen_at = now
        timed_out = now >= watch.deadline
        if deployment is None:
            watch.missing += 1 if gone else 0
            if gone and watch.missing >= MISSING_ROUNDS:
                return missing(watch.arn)
            if timed_out:
                return Assessment(State.TIMED_OUT, "timed out; deployment could not be described")
            return None  # a failed describe round: try again next interval
        watch.missing = 0
        verdict = assess(deployment, timed_out)
        watch.paused = verdict.pause is not None
        if verdict.state != State.IN_PROGRESS:
            return verdict
        failpoint("watching")
        if verdict.progress != watch.progress:
            watch.progress = verdict.progress
            if watch.on_progress is not None:
                try:
                    watch.on_progress(verdict)
                except Exception:  # progress is informational: never lose the watch over it
                    log.exception("watch.progress_failed", deployment=watch.arn)
        return None

    def _settle(self, watch: _Watch, verdict: Assessment) -> None:
        with self._lock:
            if watch not in self._watches:
                return  # stop() already answered it
            self._watches.discard(watch)
        watch.paused = False
        try:
            watch.on_verdict(verdict)
        except Exception:  # one bad callback must not cost the others their verdicts
            log.exception("watch.callback_failed", deployment=watch.arn)
