"""Stage 5, watch: one thread follows every in-flight service deployment, 20 per call.

A deploy registers the service deployment (by ARN) it waits for, with a callback,
and gives its thread back: an in-flight deploy is an entry in a set, not a blocked
thread. Each followed deployment is described with DescribeServiceDeployments at
least once per cadence (the interval, stretched to the describe budget), 20 ARNs a
call across clusters, in rounds `schedule.pick` fills (`full_rounds`, for polling: a
round takes them all); callbacks get the pure `assess`'s verdict on the watcher's
thread, so they must only hand it on (to a pool).
Transient AWS errors skip a round rather than fail a deploy: only the deploy's own
deadline ends the wait, and paused time at a lifecycle hook does not count against it.

`wake` asks for deployments to be described now (an ECS event said they may have
ended): wake-ups gathered within `gather` seconds share calls (the gathering ends
early once a call is full or every followed deployment is woken), and the describe
is judged as in a round. An event decides when the watcher looks, never what it
concludes; a describe for any reason postpones that deployment's next periodic one.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Collection, Iterable

import structlog

from deployworker.aws.ecs import Ecs
from deployworker.errors import AwsError
from deployworker.rollout.assess import Assessment
from deployworker.rollout.schedule import PER_CALL, first_due, pick
from deployworker.rollout.tracking import OnProgress, OnVerdict, Watch, judge

log = structlog.get_logger("deployworker.watch")

GATHER_SECONDS = 0.05  # the default: wake-ups this close together share a call


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
        gather: float | None = None,
        full_rounds: bool = False,
    ) -> None:
        self._ecs, self._interval, self._describe_rate = ecs, interval, describe_rate
        self._full = full_rounds  # polling: a round that anything falls due in takes all
        self._on_round = on_round  # (deployments watched, describe calls, cadence)
        self._on_paused = on_paused  # deployments waiting at a PAUSE hook
        self._gather, self._clock = GATHER_SECONDS if gather is None else gather, clock
        self._watches: set[Watch] = set()
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)  # signals wake-ups and stop
        self._woken: set[str] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:  # the watching thread
        self._thread = threading.Thread(target=self._loop, name="watcher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop, and call every pending callback with no verdict."""
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
        """Describe these followed deployments now rather than when they fall due: a
        hint only, the describe decides. ARNs no longer followed cost nothing."""
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
        Returns at once, with a handle for `cancel`; once stopped, `on_verdict(None)`
        runs here."""
        now = self._clock()
        watch = Watch(arn, now + timeout, on_verdict, on_progress, now)
        with self._lock:
            cadence = self.cadence(math.ceil((len(self._watches) + 1) / PER_CALL))
            watch.due = first_due((w.due for w in self._watches), now, cadence)
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
        while self._await_work():
            with self._cond:
                woken, self._woken = self._woken, set()
            try:
                self._round(woken)
            except Exception:  # the watcher must outlive any single bad round
                log.exception("watch.poll_failed")

    def _await_work(self) -> bool:
        """Wait until a deployment falls due, or is woken (then gather more wake-ups),
        or passes its deadline; False once stopped."""
        with self._cond:
            while not self._stop.is_set():
                now = self._clock()
                # A deadline between rounds (rounds may be 30 s apart) is a wake-up too.
                running = [w for w in self._watches if not w.paused]
                self._woken.update(w.arn for w in running if w.deadline <= now)
                due = min((w.due for w in self._watches), default=now + self._interval)
                if due <= now:
                    return True
                if self._woken:
                    break
                until = min([due, *(w.deadline for w in running)])
                self._cond.wait(max(0.005, until - now))
            end = self._clock() + self._gather
            while not (self._stop.is_set() or self._gathered()):
                left = end - self._clock()
                if left <= 0:
                    break
                self._cond.wait(left)
            return not self._stop.is_set()

    def _gathered(self) -> bool:
        """No reason to wait for more wake-ups: they fill a call, or nothing is left."""
        followed = {w.arn for w in self._watches}
        woken = len(self._woken & followed)
        return woken >= PER_CALL or woken == len(followed)

    def cadence(self, calls: int) -> float:
        """Seconds between two describes of one deployment: the interval, stretched so
        that `calls` calls (every followed deployment) stay inside the budget."""
        if not self._describe_rate:
            return self._interval
        return max(self._interval, calls / self._describe_rate)

    def _round(self, woken: Collection[str]) -> None:
        """Describe the woken and the due deployments (and what fits beside them)."""
        now = self._clock()
        with self._lock:
            watches = list(self._watches)
        cadence = self.cadence(math.ceil(len(watches) / PER_CALL))
        due: dict[str, float] = {}
        for watch in watches:
            due[watch.arn] = min(watch.due, due.get(watch.arn, watch.due))
        arns, was_due = pick(due, woken, now)
        if self._full and was_due:  # one round for all, as few calls as fit (no events)
            arns, was_due = sorted(due), frozenset(due)
        taken = set(arns)
        for watch in watches:
            if watch.arn in taken:  # moved on first, so a failing round cannot spin
                watch.due = now + cadence
        calls = self._describe(arns, [w for w in watches if w.arn in taken], was_due)
        with self._lock:  # polling: those followed during the round join the next one
            later = [w for w in self._watches if self._full or w.arn in taken]
        for watch in later:  # due a cadence after this round's end, as rounds always were
            watch.due = self._clock() + cadence
        self._on_round(len(watches), calls, cadence)
        self._on_paused(sum(1 for w in watches if w.paused))

    def poll(self, only: Collection[str] | None = None) -> int:
        """Describe every followed deployment now (or those in `only`, as a wake-up
        would) and settle what is final; returns the number of calls made."""
        with self._lock:
            watches = [w for w in self._watches if only is None or w.arn in only]
        arns = sorted({w.arn for w in watches})
        calls = self._describe(arns, watches, frozenset(arns) if only is None else frozenset())
        if only is None:
            self._on_paused(sum(1 for w in watches if w.paused))
        return calls

    def _describe(self, arns: list[str], watches: list[Watch], counted: Collection[str]) -> int:
        """Describe `arns`, 20 a call, and judge `watches`; only ARNs in `counted` (due
        for a look) may count a MISSING answer. Returns the number of calls made."""
        by_arn: dict[str, list[Watch]] = {}
        for watch in watches:
            by_arn.setdefault(watch.arn, []).append(watch)
        for start in range(0, len(arns), PER_CALL):
            self._describe_batch(arns[start : start + PER_CALL], by_arn, counted)
        return math.ceil(len(arns) / PER_CALL)

    def _describe_batch(
        self, arns: list[str], by_arn: dict[str, list[Watch]], counted: Collection[str]
    ) -> None:
        try:
            found, failures = self._ecs.describe_service_deployments(arns)
        except AwsError as exc:
            log.warning("watch.describe_failed", deployments=len(arns), error=str(exc))
            found, failures = [], []
        described = {str(d.get("serviceDeploymentArn")): d for d in found}
        gone = {str(f.get("arn")) for f in failures}
        now = self._clock()
        for arn in arns:
            for watch in by_arn.get(arn, ()):
                verdict = judge(watch, described.get(arn), arn in gone and arn in counted, now)
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
