"""Stage 5, watch: one thread follows every in-flight deployment with batched DescribeServices.

A deploy registers what it waits for and blocks on an event; the watcher polls
once per interval, at most 10 services per call, grouped by cluster, and hands
each waiter its verdict from the pure `assess`. Transient AWS errors skip a round
rather than fail a deploy: only the deploy's own deadline ends the wait.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

import structlog

from deployworker.assess import Assessment, State, assess
from deployworker.aws.ecs import MAX_DESCRIBE_SERVICES, Ecs
from deployworker.errors import AwsError
from deployworker.failpoints import failpoint

log = structlog.get_logger("deployworker.watch")


@dataclass(eq=False)
class _Watch:
    cluster: str
    service: str
    deployment_id: str
    deadline: float
    done: threading.Event = field(default_factory=threading.Event)
    verdict: Assessment | None = None


class Watcher:
    """Follows deployments until each converges, fails or times out."""

    def __init__(
        self,
        ecs: Ecs,
        interval: float,
        clock: Callable[[], float] = time.monotonic,
        describe_rate: float | None = None,
    ) -> None:
        self._ecs = ecs
        self._interval = interval
        self._describe_rate = describe_rate
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
        """Stop polling and wake every waiter with no verdict."""
        self._stop.set()
        with self._lock:
            for watch in self._watches:
                watch.done.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def wait(
        self, cluster: str, service: str, deployment_id: str, timeout: float
    ) -> Assessment | None:
        """Block until the deployment has a final verdict; None if the watcher stopped first."""
        watch = _Watch(cluster, service, deployment_id, self._clock() + timeout)
        with self._lock:
            if self._stop.is_set():
                return None
            self._watches.add(watch)
        try:
            watch.done.wait()
        finally:
            with self._lock:
                self._watches.discard(watch)
        return watch.verdict

    def _loop(self) -> None:
        while not self._stop.wait(self._next_wait):
            try:
                self._next_wait = self.cadence(self.poll())
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
                else:
                    watch.verdict = verdict
                    watch.done.set()
