"""Client-side token buckets, one per ECS operation, so the worker never causes the
throttling it would then have to survive.

An account's ECS limits are shared with everything else running in it, so the
defaults stay below AWS's published rates (RegisterTaskDefinition 1/s sustained
with a burst of 20, UpdateService 5/s, DescribeServices 20/s). A call waits for
its token; it is paced, never rejected.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Budget:
    """A sustained rate (calls per second) and a burst (bucket size)."""

    rate: float
    burst: float


DEFAULT_ECS_BUDGETS: Mapping[str, Budget] = {
    "RegisterTaskDefinition": Budget(0.98, 19),
    "UpdateService": Budget(4.0, 8),
    "DescribeServices": Budget(5.0, 10),
    "DescribeTaskDefinition": Budget(10.0, 20),
    "RunTask": Budget(4.0, 8),
    "DescribeTasks": Budget(5.0, 10),
    # AWS publishes no limits for the service-deployment APIs: kept as modest as
    # DescribeServices, since the watcher's cadence stretches to fit anyway.
    "DescribeServiceDeployments": Budget(5.0, 10),
    "ListServiceDeployments": Budget(5.0, 10),
    "DescribeServiceRevisions": Budget(5.0, 10),
    "StopServiceDeployment": Budget(2.0, 4),
    "ContinueServiceDeployment": Budget(2.0, 4),  # gates answering PAUSE hooks
    # Gate progress and vote tags on revisions: writes that share the account's ECS
    # limits with everything else, so paced like the other writes.
    "TagResource": Budget(2.0, 4),
}


class TokenBucket:
    """A thread-safe token bucket; `acquire` blocks until a token is free."""

    def __init__(
        self,
        budget: Budget,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.budget = budget
        self._clock = clock
        self._sleep = sleep
        self._tokens = budget.burst
        self._updated = clock()
        self._lock = threading.Lock()

    def _reserve(self) -> float:
        """Take a token (possibly going into debt); return how long to wait for it."""
        with self._lock:
            now = self._clock()
            rate, burst = self.budget.rate, self.budget.burst
            self._tokens = min(burst, self._tokens + (now - self._updated) * rate)
            self._updated = now
            self._tokens -= 1
            # Waiters queue up in debt, so they are served in order, one per 1/rate.
            return 0.0 if self._tokens >= 0 else -self._tokens / rate

    def acquire(self) -> float:
        """Wait for a token; returns the seconds waited."""
        delay = self._reserve()
        if delay > 0:
            self._sleep(delay)
        return delay


class Limiter:
    """Token buckets by operation name; operations without a budget pass freely."""

    def __init__(
        self, budgets: Mapping[str, Budget], clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._buckets = {op: TokenBucket(b, clock) for op, b in budgets.items()}

    def acquire(self, operation: str) -> float:
        """Wait for `operation`'s token; returns the seconds waited."""
        bucket = self._buckets.get(operation)
        return bucket.acquire() if bucket is not None else 0.0

    def throttled(self, operation: str) -> None:
        """AWS throttled `operation` anyway; a fixed limiter keeps its rate
        (`accounts.budgets.AdaptiveLimiter` backs off)."""
