"""Stage 5, watch: one thread follows every in-flight service deployment, 20 per call.

A deploy registers the service deployment (by ARN) it waits for, with a callback,
and gives its thread back: an in-flight deploy is an entry in a set, not a blocked
thread. Each round describes every followed ARN with DescribeServiceDeployments,
at most 20 per call and across clusters, and calls each callback with its verdict
from the pure `assess`. Callbacks run on the watcher's thread, so they must only
hand the verdict on (to a pool). Transient AWS errors skip a round rather than fail
a deploy: only the deploy's own deadline ends the wait, and time spent paused at a
lifecycle hook does not count against it (the hook has its own timeout).

`wake` asks for some deployments to be described now, between rounds (an ECS event
said they changed): the woken ARNs gathered within `GATHER_SECONDS` share batched
calls, and what the describe says is judged as in a round. So an event decides when
the watcher looks, never what it concludes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection, Iterable

import structlog

from deployworker.aws.ecs import MAX_DESCRIBE_SERVICE_DEPLOYMENTS, Ecs
from deployworker.errors import AwsError
from deployworker.rollout.assess import Assessment
from deployworker.rollout.tracking import OnProgress, OnVerdict, Watch, judge

log = structlog.get_logger("deployworker.watch")

# Wake-ups this close together share one describe round (events come in bursts).
GATHER_SECONDS = 0.05


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
        self._watches: set[Watch] = set()
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)  # signals wake-ups and stop
        self._woken: set[str] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the polling thread."""
        self._thread = threading.Thread(target=self._loop, name="watcher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop polling and call every pending callback with no verdict."""
        with self._cond:
            self._stop.set()
            self._cond.notify_all()
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

    def followed(self) -> frozenset[str]:
        """The ARNs of the deployments followed now."""
        with self._lock:
            return frozenset(w.arn for w in self._watches)

    def wake(self, arns: Iterable[str]) -> None:
        """Describe these followed deployments now rather than at the next round.

        A hint only: the verdict still comes from the describe. ARNs no longer
        followed cost nothing.
        """
        with self._cond:
            self._woken.update(arns)
            self._cond.notify_all()

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
        watch = Watch(arn, now + timeout, on_verdict, on_progress, now)
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
        assert isinstance(handle, Watch)
        handle.on_verdict(None)

    def _loop(self) -> None:
        due = time.monotonic() + self._next_wait
        while True:
            with self._cond:
                while not (self._stop.is_set() or self._woken or time.monotonic() >= due):
                    # A deadline between rounds (rounds may be 30 s apart) is a wake-up too.
                    ends = [w for w in self._watches if not w.paused and w.deadline < self._clock()]
                    self._woken.update(w.arn for w in ends)
                    until = min((w.deadline for w in self._watches if not w.paused), default=due)
                    wait = min(due - time.monotonic(), until - self._clock())
                    if not ends:
                        self._cond.wait(max(0.01, wait))
                if self._stop.is_set():
                    return
                periodic = time.monotonic() >= due
            # Let the rest of a burst of wake-ups join this round.
            if not periodic and self._stop.wait(GATHER_SECONDS):
                return
            with self._cond:
                woken, self._woken = self._woken, set()
            try:
                watched = self.watching
                calls = self.poll() if periodic else self.poll(only=woken)
                if periodic:
                    self._next_wait = self.cadence(calls)
                    due = time.monotonic() + self._next_wait
                self._on_round(watched, calls, self._next_wait)
            except Exception:  # the watcher must outlive any single bad round
                log.exception("watch.poll_failed")
                if periodic:
                    due = time.monotonic() + self._next_wait

    def cadence(self, calls: int) -> float:
        """Seconds until the next round: the configured interval, stretched so that a
        round of `calls` describe calls stays inside the budget (calls per second)."""
        if not self._describe_rate:
            return self._interval
        return max(self._interval, calls / self._describe_rate)

    def poll(self, only: Collection[str] | None = None) -> int:
        """One round: describe every followed deployment once (or those of them in
        `only`, for a wake-up), and settle what is final.

        Returns the number of DescribeServiceDeployments calls made.
        """
        with self._lock:
            watches = sorted(self._watches, key=lambda w: w.arn)
        if only is not None:
            watches = [w for w in watches if w.arn in only]
        by_arn: dict[str, list[Watch]] = {}
        for watch in watches:
            by_arn.setdefault(watch.arn, []).append(watch)
        arns = list(by_arn)
        calls = 0
        for start in range(0, len(arns), MAX_DESCRIBE_SERVICE_DEPLOYMENTS):
            batch = arns[start : start + MAX_DESCRIBE_SERVICE_DEPLOYMENTS]
            self._poll_batch(batch, by_arn, full=only is None)
            calls += 1
        if only is None:
            self._on_paused(sum(1 for w in watches if w.paused))
        return calls

    def _poll_batch(self, arns: list[str], by_arn: dict[str, list[Watch]], full: bool) -> None:
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
                verdict = judge(watch, described.get(arn), arn in gone and full, now)
                if verdict is not None:
                    self._settle(watch, verdict)

    def _settle(self, watch: Watch, verdict: Assessment) -> None:
        with self._lock:
            if watch not in self._watches:
                return  # stop() already answered it
            self._watches.discard(watch)
        watch.paused = False
        try:
            watch.on_verdict(verdict)
        except Exception:  # one bad callback must not cost the others their verdicts
            log.exception("watch.callback_failed", deployment=watch.arn)
