"""The watcher: one DescribeServiceDeployments per 20 followed deployments, paced to a
budget, with paused time kept off the deploy's deadline."""

from __future__ import annotations

import functools
import threading
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from deployworker.errors import RetryableAwsError
from deployworker.rollout.assess import Assessment, State
from deployworker.rollout.tracking import MISSING_ROUNDS
from deployworker.rollout.watch import Watcher


class FakeEcs:
    """Records DescribeServiceDeployments calls; answers each ARN with `status`."""

    def __init__(self, status: str = "SUCCESSFUL", **extra: Any) -> None:
        self.calls: list[list[str]] = []
        self.status = status
        self.extra = extra
        self.missing: set[str] = set()
        self.fail = False

    def describe_service_deployments(
        self, arns: list[str]
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        self.calls.append(list(arns))
        if self.fail:
            raise RetryableAwsError("DescribeServiceDeployments", "ThrottlingException", "slow")
        found = [
            {"serviceDeploymentArn": a, "status": self.status, **self.extra}
            for a in arns
            if a not in self.missing
        ]
        return found, [{"arn": a, "reason": "MISSING"} for a in arns if a in self.missing]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_one_round_batches_twenty_deployments_a_call_across_clusters() -> None:
    ecs = FakeEcs()
    watcher = Watcher(ecs, interval=60, describe_rate=5)  # type: ignore[arg-type]
    verdicts: list[Any] = []
    arns = [f"arn:sd/{c}/s{i}/x" for c in "ab" for i in range(23)]
    for arn in arns:
        watcher.follow(arn, 60, verdicts.append)
    assert watcher.poll() == 3  # 46 deployments: 20 + 20 + 6, clusters mixed
    assert sorted(len(c) for c in ecs.calls) == [6, 20, 20]
    assert sorted(a for c in ecs.calls for a in c) == sorted(arns)
    assert [v.state for v in verdicts] == [State.CONVERGED] * len(arns)


def test_cadence_stretches_to_stay_inside_the_describe_budget() -> None:
    watcher = Watcher(FakeEcs(), interval=1.0, describe_rate=5)  # type: ignore[arg-type]
    assert watcher.cadence(3) == 1.0
    assert watcher.cadence(50) == 10.0  # 1,000 deployments: 50 calls, 10 s apart at 5/s
    assert Watcher(FakeEcs(), interval=1.0).cadence(100) == 1.0  # type: ignore[arg-type]


def test_a_thousand_deployments_are_followed_without_a_thread_each(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    watcher = Watcher(FakeEcs(), interval=60, describe_rate=5)  # type: ignore[arg-type]
    verdicts: dict[int, Any] = {}
    # Threads this test's own thread starts (a count of all live threads would also
    # see an earlier test's threads come and go).
    started: list[threading.Thread] = []
    start, here = threading.Thread.start, threading.current_thread()

    def counted(thread: threading.Thread) -> None:
        if threading.current_thread() is here:
            started.append(thread)
        start(thread)

    monkeypatch.setattr(threading.Thread, "start", counted)
    for i in range(1000):
        watcher.follow(f"sd-{i}", 60, functools.partial(verdicts.__setitem__, i))
    assert started == []
    assert watcher.poll() == 50
    assert len(verdicts) == 1000
    assert watcher.watching == 0


def test_a_failing_callback_does_not_cost_the_others_their_verdicts() -> None:
    watcher = Watcher(FakeEcs(), interval=60)  # type: ignore[arg-type]
    got: list[Any] = []

    def explode(_: Any) -> None:
        raise RuntimeError("bug in a callback")

    watcher.follow("sd-1", 60, explode)
    watcher.follow("sd-2", 60, got.append)
    watcher.poll()
    assert [v.state for v in got] == [State.CONVERGED]


def test_stop_answers_every_pending_deployment_with_no_verdict() -> None:
    watcher = Watcher(FakeEcs("IN_PROGRESS"), interval=60)  # type: ignore[arg-type]
    got: list[Any] = []
    watcher.follow("sd-1", 60, got.append)
    watcher.poll()
    assert got == []
    watcher.stop()
    assert got == [None]
    watcher.follow("sd-2", 60, got.append)  # after stop: answered at once
    assert got == [None, None]


def test_a_failed_describe_round_is_skipped_until_the_deadline() -> None:
    ecs, clock = FakeEcs("IN_PROGRESS"), Clock()
    watcher = Watcher(ecs, interval=5, clock=clock)  # type: ignore[arg-type]
    got: list[Assessment | None] = []
    watcher.follow("sd-1", 30, got.append)
    ecs.fail = True
    watcher.poll()
    assert got == []
    clock.now += 31
    watcher.poll()
    assert [v.state for v in got if v] == [State.TIMED_OUT]


def test_missing_ends_only_after_ecs_had_time_to_show_a_new_deployment() -> None:
    ecs = FakeEcs("IN_PROGRESS")
    ecs.missing.add("sd-1")
    watcher = Watcher(ecs, interval=5)  # type: ignore[arg-type]
    got: list[Assessment | None] = []
    watcher.follow("sd-1", 600, got.append)
    for _ in range(MISSING_ROUNDS - 1):
        watcher.poll()
    assert got == []
    watcher.poll()
    assert [v.state for v in got if v] == [State.FAILED]
    assert "cannot be found" in got[0].reason  # type: ignore[union-attr]


def test_paused_time_does_not_count_against_the_deadline() -> None:
    hook = {
        "hookId": "h-1",
        "targetType": "PAUSE",
        "status": "AWAITING_ACTION",
        "expiresAt": datetime(2026, 11, 24, 14, 5, tzinfo=UTC),
        "timeoutAction": "ROLLBACK",
    }
    ecs, clock = FakeEcs("IN_PROGRESS", lifecycleStage="POST_TEST_TRAFFIC_SHIFT"), Clock()
    ecs.extra["lifecycleHookDetails"] = [hook]
    paused: list[int] = []
    progress: list[str] = []
    watcher = Watcher(ecs, interval=5, clock=clock, on_paused=paused.append)  # type: ignore[arg-type]
    got: list[Assessment | None] = []
    watcher.follow("sd-1", 60, got.append, lambda a: progress.append(a.progress))
    for _ in range(10):  # 10 minutes paused against a 60 s deadline
        watcher.poll()
        clock.now += 60
    assert got == []
    assert paused[-1] == 1
    assert progress == ["paused at POST_TEST_TRAFFIC_SHIFT until 14:05Z (then ROLLBACK)"]
    ecs.extra["lifecycleHookDetails"] = []  # continued; the deadline runs again
    ecs.extra["lifecycleStage"] = "PRODUCTION_TRAFFIC_SHIFT"
    watcher.poll()
    clock.now += 61
    watcher.poll()
    assert [v.state for v in got if v] == [State.TIMED_OUT]
    assert paused[-1] == 0


def wait_for(check: Any, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)


def test_a_wake_describes_the_woken_at_once_and_fills_the_call_with_the_others() -> None:
    ecs = FakeEcs("SUCCESSFUL")
    watcher = Watcher(ecs, interval=600, gather=0.2)  # type: ignore[arg-type]
    got: dict[str, Any] = {}
    for arn in ("sd-1", "sd-2", "sd-3"):
        watcher.follow(arn, 600, functools.partial(got.__setitem__, arn))
    watcher.start()
    try:
        watcher.wake(["sd-1"])
        watcher.wake(["sd-2", "not-followed"])  # within the gathering window: one call
        wait_for(lambda: len(got) == 3)
        # No round is due for 600 s: the woken come first, sd-3 rides in a free place.
        assert ecs.calls == [["sd-1", "sd-2", "sd-3"]]
        assert watcher.watching == 0
    finally:
        watcher.stop()


def test_a_wake_of_nothing_followed_costs_no_call() -> None:
    ecs = FakeEcs("IN_PROGRESS")
    watcher = Watcher(ecs, interval=600, gather=0.01)  # type: ignore[arg-type]
    watcher.follow("sd-1", 600, lambda _: None)
    watcher.start()
    try:
        watcher.wake(["not-followed"])
        watcher.wake(["sd-1"])
        wait_for(lambda: len(ecs.calls) == 1)
        watcher.wake(["not-followed"])
        time.sleep(0.2)
        assert ecs.calls == [["sd-1"]]
    finally:
        watcher.stop()


def test_a_lone_deployment_is_described_at_once_without_waiting_to_gather() -> None:
    ecs = FakeEcs("SUCCESSFUL")
    watcher = Watcher(ecs, interval=600, gather=60)  # type: ignore[arg-type]
    got: list[Any] = []
    watcher.follow("sd-1", 600, got.append)
    watcher.start()
    try:
        watcher.wake(["sd-1"])  # every followed deployment is woken: nothing can join
        wait_for(lambda: got != [])
        assert ecs.calls == [["sd-1"]]
    finally:
        watcher.stop()


def test_any_describe_postpones_that_deployments_safety_net_round() -> None:
    ecs, clock = FakeEcs("IN_PROGRESS"), Clock()
    rounds: list[int] = []
    watcher = Watcher(
        ecs,  # type: ignore[arg-type]
        interval=600,
        clock=clock,
        gather=0,
        on_round=lambda _w, calls, _c: rounds.append(calls),
    )
    watcher.follow("sd-1", 6000, lambda _: None)  # due at 1600
    watcher.start()
    try:
        clock.now = 1300
        watcher.wake(["sd-1"])  # an event: described now, due again at 1900
        wait_for(lambda: len(rounds) == 1)
        assert ecs.calls == [["sd-1"]]
        clock.now = 1650  # past the first due time, not the second
        watcher.wake(["not-followed"])  # only makes the watcher look at its schedule
        wait_for(lambda: len(rounds) == 2)
        assert rounds == [1, 0]
        clock.now = 1900
        watcher.wake(["not-followed"])
        wait_for(lambda: len(rounds) == 3)
        assert rounds == [1, 0, 1]
        assert ecs.calls == [["sd-1"], ["sd-1"]]
    finally:
        watcher.stop()


def test_the_safety_net_fills_its_calls_with_the_deployments_due_next() -> None:
    ecs, clock = FakeEcs("IN_PROGRESS"), Clock()
    rounds: list[int] = []
    watcher = Watcher(
        ecs,  # type: ignore[arg-type]
        interval=30,
        clock=clock,
        gather=0,
        on_round=lambda _w, calls, _c: rounds.append(calls),
    )
    # Followed one a second: the first 20 join the first one's due time (1030), their
    # call's last free place taken by the 20th; the last five share 1050.
    for i in range(25):
        watcher.follow(f"sd-{i:02}", 6000, lambda _: None)
        clock.now += 1
    watcher.start()
    try:
        clock.now = 1030
        watcher.wake(["not-followed"])
        wait_for(lambda: len(rounds) == 1)
        assert ecs.calls == [[f"sd-{i:02}" for i in range(20)]]  # one full call
        clock.now = 1049  # the last five fall due at 1050: nothing yet
        watcher.wake(["not-followed"])
        wait_for(lambda: len(rounds) == 2)
        clock.now = 1050
        watcher.wake(["not-followed"])
        wait_for(lambda: len(rounds) == 3)
        # The five due, and 15 of those described at 1030 in the free places.
        assert rounds == [1, 0, 1]
        assert ecs.calls[1][:5] == [f"sd-{i}" for i in range(20, 25)]
        assert len(ecs.calls[1]) == 20
    finally:
        watcher.stop()


def test_a_wake_is_a_hint_the_describe_decides() -> None:
    ecs = FakeEcs("IN_PROGRESS")
    watcher = Watcher(ecs, interval=600)  # type: ignore[arg-type]
    got: list[Any] = []
    watcher.follow("sd-1", 600, got.append)
    watcher.start()
    try:
        for _ in range(3):  # "COMPLETED", says the event; ECS says otherwise
            calls = len(ecs.calls)
            watcher.wake(["sd-1"])
            wait_for(lambda: len(ecs.calls) > calls)  # noqa: B023 - read at once
        assert got == []
        assert watcher.watching == 1
    finally:
        watcher.stop()
    assert got == [None]


def test_woken_describes_do_not_count_toward_missing() -> None:
    ecs = FakeEcs("IN_PROGRESS")
    ecs.missing.add("sd-1")
    watcher = Watcher(ecs, interval=600)  # type: ignore[arg-type]
    got: list[Any] = []
    watcher.follow("sd-1", 600, got.append)
    watcher.start()
    try:
        for _ in range(MISSING_ROUNDS + 1):
            calls = len(ecs.calls)
            watcher.wake(["sd-1"])
            wait_for(lambda: len(ecs.calls) > calls)  # noqa: B023 - read at once
        assert got == []  # forged events cannot hurry a MISSING verdict
    finally:
        watcher.stop()


@pytest.mark.parametrize(("full_rounds", "calls"), [(False, [20]), (True, [20, 1])])
def test_polling_rounds_take_every_deployment_event_driven_ones_only_the_due(
    full_rounds: bool, calls: list[int]
) -> None:
    ecs, clock = FakeEcs("IN_PROGRESS"), Clock()
    rounds: list[int] = []
    watcher = Watcher(
        ecs,  # type: ignore[arg-type]
        interval=30,
        clock=clock,
        gather=0,
        on_round=lambda _w, n, _c: rounds.append(n),
        full_rounds=full_rounds,
    )
    for i in range(21):  # the first 20 fall due at 1030 together, the 21st at 1050
        watcher.follow(f"sd-{i:02}", 6000, lambda _: None)
        clock.now += 1
    watcher.start()
    try:
        clock.now = 1030
        watcher.wake(["not-followed"])
        wait_for(lambda: len(rounds) == 1)
        assert [len(c) for c in ecs.calls] == calls
    finally:
        watcher.stop()


def test_a_second_pause_that_reads_like_the_first_is_reported_by_its_hook_id() -> None:
    # Two PAUSE hooks waiting at POST_TEST_TRAFFIC_SHIFT (its own, then
    # PRE_PRODUCTION_TRAFFIC_SHIFT's), expiring in the same minute: the same progress
    # text, yet the second is a new hook and its gate must start.
    from datetime import UTC, datetime

    from deployworker.rollout.tracking import Watch, judge

    reported: list[str] = []
    watch = Watch(
        "sd",
        1e12,
        lambda _: None,
        lambda v: reported.append(v.pause.hook_id if v.pause else ""),
        0.0,
    )
    expires = datetime(2026, 1, 1, 12, 5, 10, tzinfo=UTC)

    def paused(hook_id: str, seconds: int) -> dict[str, object]:
        hook = {
            "hookId": hook_id,
            "targetType": "PAUSE",
            "status": "AWAITING_ACTION",
            "expiresAt": expires.replace(second=seconds),
            "timeoutAction": "ROLLBACK",
        }
        return {
            "status": "IN_PROGRESS",
            "lifecycleStage": "POST_TEST_TRAFFIC_SHIFT",
            "lifecycleHookDetails": [hook],
        }

    for deployment in (paused("first", 10), paused("first", 10), paused("second", 40)):
        assert judge(watch, deployment, False, 1.0) is None
    assert reported == ["first", "second"]
