"""Stage 5, watch: one thread follows every in-flight deployment with batched DescribeServices.

A deploy registers what it waits for with a callback and gives its thread back:
an in-flight deploy is an entry in a set, not a blocked thread. The watcher
polls once per round, at most 10 services per call, grouped by cluster, and
calls each callback with its verdict from the pure `assess`. Callbacks run on
the watcher's thread, so they must only hand the verdict on (to a pool).
Transient AWS errors skip a round rather than fail a deploy: only the deploy's
own deadline ends the wait.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

import structlog

from deployworker.aws.ecs import MAX_DESCRIBE_SERVICES, Ecs
from deployworker.errors import AwsError
from deployworker.failpoints import failpoint
from deployworker.rollout.assess import Assessment, State, assess

log = structlog.get_logger("deployworker.watch")


# Called once with the final verdict, or with None when the watcher stops first.
OnVerdict = Callable[[Assessment | None], None]


@dataclass(eq=False)
class _Watch:
    cluster: str
    service: str
    deployment_id: str
    deadline: float
    on_verdict: OnVerdict


class Watcher:
    """Follows deployments until each converges, fails or times out."""

    def __init__(
        self,
        ecs: Ecs,
        interval: float,
        clock: Callable[[], float] = time.monotonic,
        describe_rate: float | None = None,
        on_round: Callable[[int, int, float], None] = lambda *_: None,
    ) -> None:
        self._ecs = ecs
        self._interval = interval
        self._describe_rate = describe_rate
        self._on_round = on_round  # (deployments watched, DescribeServices calls, cadence)
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
        cluster: str,
        service: str,
        deployment_id: str,
        timeout: float,
        on_verdict: OnVerdict,
    ) -> None:
        """Follow a deployment; `on_verdict` gets its final verdict, exactly once.

        Returns at once. If the watcher has stopped, `on_verdict(None)` runs here.
        """
        watch = _Watch(cluster, service, deployment_id, self._clock() + timeout, on_verdict)
        with self._lock:
            stopped = self._stop.is_set()
            if not stopped:
                self._watches.add(watch)
        if stopped:
            on_verdict(None)

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
        round of `calls` DescribeServices stays inside the budget (calls per second)."""
        if not self._describe_rate:
            return self._interval
        return max(self._interval, calls / self._describe_rate)

    def poll(self) -> int:
        """One round: describe every watched service once, and settle what is final.

        Returns the number of DescribeServices calls made.
        """
        with self._lock:
            watches = list(self._watches)
        by_cluster: dict[str, dict[str, list[_Watch]]] = defaultdict(lambda: defaultdict(list))
        for watch in watches:
            by_cluster[watch.cluster][watch.service].append(watch)
        calls = 0
        for cluster, services in by_cluster.items():
            names = sorted(services)
            for start in range(0, len(names), MAX_DESCRIBE_SERVICES):
                self._poll_batch(cluster, names[start : start + MAX_DESCRIBE_SERVICES], services)
                calls += 1
        return calls

    def _poll_batch(
        self, cluster: str, names: list[str], services: dict[str, list[_Watch]]
    ) -> None:
        try:
            described, _ = self._ecs.describe_services(cluster, names)
        except AwsError as exc:
            log.warning("watch.describe_failed", cluster=cluster, error=str(exc))
            described = []
        by_name = {s.get("serviceName"): s for s in described}
        now = self._clock()
        for name in names:
            for watch in services[name]:
                timed_out = now >= watch.deadline
                found = by_name.get(name)
                if found is None:
                    if not timed_out:
                        continue  # a failed describe round: try again next interval
                    verdict = Assessment(State.FAILED, "timed out; service could not be described")
                else:
                    verdict = assess(found, watch.deployment_id, timed_out)
                if verdict.state == State.IN_PROGRESS:
                    failpoint("watching")
                    continue
                with self._lock:
                    if watch not in self._watches:
                        continue  # stop() already answered it
                    self._watches.discard(watch)
                try:
                    watch.on_verdict(verdict)
                except Exception:  # one bad callback must not cost the others their verdicts
                    log.exception("watch.callback_failed", service=name)
