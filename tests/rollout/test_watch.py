"""The watcher: one batched DescribeServices per cluster and 10 services, paced to a budget."""

from __future__ import annotations

import functools
import threading
from typing import Any

from deployworker.rollout.assess import State
from deployworker.rollout.watch import Watcher


class FakeEcs:
    """Records DescribeServices calls; every deployment is COMPLETED."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[str]]] = []

    def describe_services(
        self, cluster: str, services: list[str]
    ) -> tuple[list[dict[str, Any]], list[Any]]:
        self.calls.append((cluster, list(services)))
        found = [
            {
                "serviceName": s,
                "deployments": [{"id": f"d-{s}", "status": "PRIMARY", "rolloutState": "COMPLETED"}],
            }
            for s in services
        ]
        return found, []


def test_one_round_batches_by_cluster_ten_at_a_time() -> None:
    ecs = FakeEcs()
    watcher = Watcher(ecs, interval=60, describe_rate=5)  # type: ignore[arg-type]
    verdicts: list[Any] = []
    names = [("a", f"s{i}") for i in range(23)] + [("b", f"s{i}") for i in range(4)]
    for c, s in names:
        watcher.follow(c, s, f"d-{s}", 60, verdicts.append)
    calls = watcher.poll()
    assert calls == 4  # a: 10 + 10 + 3, b: 4
    assert sorted(len(s) for _, s in ecs.calls) == [3, 4, 10, 10]
    assert all(v is not None and v.state == State.CONVERGED for v in verdicts)
    assert len(verdicts) == len(names)


def test_cadence_stretches_to_stay_inside_the_describe_budget() -> None:
    watcher = Watcher(FakeEcs(), interval=1.0, describe_rate=5)  # type: ignore[arg-type]
    assert watcher.cadence(3) == 1.0  # 3 calls a second is inside 5/s
    assert watcher.cadence(100) == 20.0  # 1,000 services: 100 calls, 20 s apart at 5/s
    assert Watcher(FakeEcs(), interval=1.0).cadence(100) == 1.0  # type: ignore[arg-type]


def test_a_thousand_deployments_are_followed_without_a_thread_each() -> None:
    ecs = FakeEcs()
    watcher = Watcher(ecs, interval=60, describe_rate=5)  # type: ignore[arg-type]
    verdicts: dict[str, Any] = {}
    before = threading.active_count()
    for i in range(1000):
        watcher.follow(
            "a", f"s{i}", f"d-s{i}", 60, functools.partial(verdicts.__setitem__, f"s{i}")
        )
    assert threading.active_count() == before
    assert watcher.watching == 1000
    assert watcher.poll() == 100  # 1,000 services, 10 per call
    assert len(verdicts) == 1000
    assert all(v.state == State.CONVERGED for v in verdicts.values())
    assert watcher.watching == 0


def test_a_failing_callback_does_not_cost_the_others_their_verdicts() -> None:
    watcher = Watcher(FakeEcs(), interval=60)  # type: ignore[arg-type]
    got: list[Any] = []

    def explode(_: Any) -> None:
        raise RuntimeError("bug in a callback")

    watcher.follow("a", "s1", "d-s1", 60, explode)
    watcher.follow("a", "s2", "d-s2", 60, got.append)
    watcher.poll()
    assert [v.state for v in got] == [State.CONVERGED]


def test_stop_answers_every_pending_deployment_with_no_verdict() -> None:
    class Pending(FakeEcs):
        def describe_services(
            self, cluster: str, services: list[str]
        ) -> tuple[list[dict[str, Any]], list[Any]]:
            found, _ = super().describe_services(cluster, services)
            for service in found:
                service["deployments"][0]["rolloutState"] = "IN_PROGRESS"
            return found, []

    watcher = Watcher(Pending(), interval=60)  # type: ignore[arg-type]
    got: list[Any] = []
    watcher.follow("a", "s1", "d-s1", 60, got.append)
    watcher.poll()
    assert got == []
    watcher.stop()
    assert got == [None]
    watcher.follow("a", "s2", "d-s2", 60, got.append)  # after stop: answered at once
    assert got == [None, None]
