"""Per-target budgets: each replica's share, and AIMD backoff on throttling."""

from __future__ import annotations

from deployworker.aws._ratelimit import Budget
from deployworker.aws.accounts.budgets import AdaptiveLimiter, Aimd, shared


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_each_replica_takes_its_share_and_a_burst_of_at_least_one() -> None:
    assert shared({"UpdateService": Budget(4.0, 8)}, 3) == {"UpdateService": Budget(4 / 3, 8 / 3)}
    assert shared({"RunTask": Budget(1.0, 2)}, 4) == {"RunTask": Budget(0.25, 1.0)}


def test_a_throttle_halves_the_rate_holds_then_recovers_slowly() -> None:
    clock = Clock()
    seen: list[tuple[str, float]] = []
    aimd = Aimd(decrease=0.5, hold_seconds=10, increase=0.1)
    limiter = AdaptiveLimiter(
        {"UpdateService": Budget(4.0, 8)},
        "222222222222",
        "us-west-2",
        on_rate=lambda a, r, op, rate: seen.append((op, rate)),
        aimd=aimd,
        clock=clock,
    )
    assert seen == [("UpdateService", 4.0)]
    limiter.throttled("UpdateService")
    limiter.throttled("UpdateService")  # the same burst: one signal
    assert limiter.rate("UpdateService") == 2.0
    clock.now = 5
    limiter.acquire("UpdateService")
    assert limiter.rate("UpdateService") == 2.0  # held
    clock.now = 13
    limiter.acquire("UpdateService")
    assert limiter.rate("UpdateService") == 2.0 + 3 * 0.4
    clock.now = 100
    limiter.acquire("UpdateService")
    assert limiter.rate("UpdateService") == 4.0
    assert seen[-1] == ("UpdateService", 4.0)


def test_repeated_throttles_stop_at_the_floor_and_other_operations_are_untouched() -> None:
    clock = Clock()
    limiter = AdaptiveLimiter(
        {"UpdateService": Budget(4.0, 8), "DescribeServices": Budget(5.0, 10)},
        "a",
        "r",
        aimd=Aimd(hold_seconds=1, floor=1 / 8),
        clock=clock,
    )
    for step in range(10):
        clock.now = step * 2
        limiter.throttled("UpdateService")
    assert limiter.rate("UpdateService") == 0.5
    assert limiter.rate("DescribeServices") == 5.0
    limiter.throttled("Unbudgeted")  # passes freely, nothing to back off
    assert limiter.rate("Unbudgeted") is None


def test_the_caller_reports_throttling_to_the_target_budget() -> None:
    from botocore.exceptions import ClientError

    from deployworker.aws._retry import Caller, RetryPolicy
    from deployworker.errors import RetryableAwsError

    limiter = AdaptiveLimiter({"UpdateService": Budget(4.0, 8)}, "a", "r")
    caller = Caller("ecs", RetryPolicy(attempts=1), limiter=limiter)

    def throttled() -> None:
        raise ClientError({"Error": {"Code": "ThrottlingException"}}, "UpdateService")

    try:
        caller.call("UpdateService", throttled)
    except RetryableAwsError:
        pass
    assert limiter.rate("UpdateService") == 2.0
