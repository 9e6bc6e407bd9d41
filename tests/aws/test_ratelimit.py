"""Token buckets: burst, then the sustained rate, waiters served in order."""

from __future__ import annotations

import threading

from deployworker.aws._ratelimit import DEFAULT_ECS_BUDGETS, Budget, Limiter, TokenBucket
from deployworker.settings import Settings


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_burst_then_sustained_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(Budget(rate=1.0, burst=20), clock, clock.sleep)
    waits = [bucket.acquire() for _ in range(25)]
    assert waits[:20] == [0.0] * 20
    assert all(abs(w - 1.0) < 1e-9 for w in waits[20:])
    assert abs(clock.now - 5.0) < 1e-9  # 25 calls take 5 s: the burst, then 1 per second


def test_idle_time_refills_up_to_the_burst_only() -> None:
    clock = FakeClock()
    bucket = TokenBucket(Budget(rate=5.0, burst=10), clock, clock.sleep)
    for _ in range(10):
        bucket.acquire()
    clock.now += 3600
    assert [bucket.acquire() for _ in range(10)] == [0.0] * 10
    assert bucket.acquire() > 0


def test_concurrent_waiters_never_exceed_the_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(Budget(rate=4.0, burst=1), clock, lambda s: None)
    reservations: list[float] = []
    lock = threading.Lock()

    def take() -> None:
        wait = bucket.acquire()
        with lock:
            reservations.append(wait)

    threads = [threading.Thread(target=take) for _ in range(9)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(reservations) == [i * 0.25 for i in range(9)]


def test_defaults_stay_below_aws_account_limits() -> None:
    aws = {
        "RegisterTaskDefinition": (1.0, 20),
        "UpdateService": (5.0, 10),
        "DescribeServices": (20.0, 40),
    }
    for operation, (rate, burst) in aws.items():
        ours = DEFAULT_ECS_BUDGETS[operation]
        assert ours.rate < rate and ours.burst <= burst
    assert Limiter({}).acquire("Anything") == 0.0


def test_tag_writes_are_paced_like_other_ecs_writes() -> None:
    # Gate progress and vote tags share the account's ECS limits: TagResource has a
    # bucket in the budgets the worker builds its limiters from.
    budget = Settings().ecs_budgets()["TagResource"]
    waited: list[float] = []
    bucket = TokenBucket(budget, clock=lambda: 0.0, sleep=waited.append)
    for _ in range(int(budget.burst) + 2):
        bucket.acquire()
    assert waited == [1 / budget.rate, 2 / budget.rate]
