"""API budgets per (account, region): token buckets shared out among replicas, with AIMD.

AWS's limits hold per account and region, and every replica of the worker, Terraform
and CI draw on them. Each replica takes `1/replicas` of the configured budget. When AWS
throttles anyway, someone else is using the account: that operation's rate halves (the
multiplicative decrease), holds there a while, then climbs back by a small step each
second (the additive increase) to the configured rate.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from deployworker.aws._ratelimit import Budget, Limiter, TokenBucket

# (account, region, operation, calls per second now)
OnRate = Callable[[str, str, str, float], None]


@dataclass(frozen=True, slots=True)
class Aimd:
    """How a throttled bucket backs off and recovers."""

    decrease: float = 0.5  # the rate is multiplied by this on a throttle
    hold_seconds: float = 10.0  # no recovery, and no second halving, this soon after one
    increase: float = 0.05  # share of the configured rate regained each second after that
    floor: float = 1 / 16  # never below this share of the configured rate


def shared(budgets: Mapping[str, Budget], replicas: int) -> dict[str, Budget]:
    """Each replica's share of `budgets`; a burst stays at least one call."""
    n = max(1, replicas)
    return {op: Budget(b.rate / n, max(1.0, b.burst / n)) for op, b in budgets.items()}


class _Bucket:
    """One operation's bucket and its AIMD state."""

    def __init__(self, budget: Budget, clock: Callable[[], float]) -> None:
        self.configured = budget
        self.rate = budget.rate
        self.bucket = TokenBucket(budget, clock)
        self.throttled_at: float | None = None
        self.low = budget.rate


class AdaptiveLimiter(Limiter):
    """A `Limiter` for one (account, region) whose buckets back off when AWS throttles."""

    def __init__(
        self,
        budgets: Mapping[str, Budget],
        account: str,
        region: str,
        on_rate: OnRate | None = None,
        aimd: Aimd = Aimd(),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__({}, clock)
        self.account, self.region = account, region
        self._aimd = aimd
        self._clock = clock
        self._on_rate = on_rate
        self._lock = threading.Lock()
        self._adaptive = {op: _Bucket(b, clock) for op, b in budgets.items()}
        for op, b in budgets.items():
            self._report(op, b.rate)

    def _report(self, operation: str, rate: float) -> None:
        if self._on_rate is not None:
            self._on_rate(self.account, self.region, operation, rate)

    def rate(self, operation: str) -> float | None:
        """The operation's rate now (None: it has no budget)."""
        state = self._adaptive.get(operation)
        return state.rate if state is not None else None

    def acquire(self, operation: str) -> float:
        """Wait for `operation`'s token at its current rate; returns the seconds waited."""
        state = self._adaptive.get(operation)
        if state is None:
            return 0.0
        if state.rate < state.configured.rate:
            self._recover(operation, state)
        return state.bucket.acquire()

    def throttled(self, operation: str) -> None:
        """AWS throttled `operation`: halve its rate (once per hold period)."""
        state = self._adaptive.get(operation)
        if state is None:
            return
        with self._lock:
            now = self._clock()
            if (
                state.throttled_at is not None
                and now - state.throttled_at < self._aimd.hold_seconds
            ):
                return  # one burst of throttles is one signal, not many
            floor = state.configured.rate * self._aimd.floor
            state.rate = max(floor, state.rate * self._aimd.decrease)
            state.low, state.throttled_at = state.rate, now
            self._set(operation, state)

    def _recover(self, operation: str, state: _Bucket) -> None:
        with self._lock:
            if state.throttled_at is None:
                return
            since = self._clock() - state.throttled_at - self._aimd.hold_seconds
            if since <= 0:
                return
            step = state.configured.rate * self._aimd.increase
            rate = min(state.configured.rate, state.low + step * int(since))
            if rate != state.rate:
                state.rate = rate
                self._set(operation, state)

    def _set(self, operation: str, state: _Bucket) -> None:
        state.bucket.budget = Budget(state.rate, state.configured.burst)
        self._report(operation, state.rate)
