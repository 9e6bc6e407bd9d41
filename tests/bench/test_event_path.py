"""The events path through the fakes: the real worker reading the fake ECS's events.

Small runs of the benchmark's events scenarios, asserting outcomes, never times:
with events every deploy settles on fewer describes than polling alone; with every
event lost, duplicated or reordered, every deploy still settles, by the safety net.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from bench.figures import compute
from bench.scenarios import Spec, run

ONE_SERVICE = Spec(
    "one service", deploys=3, services=1, supersede=False, scale=40, converge=(30.0, 40.0)
)


def watcher_describes(figures: dict[str, Any]) -> float:
    per_deploy = figures["ecs_per_deploy"]["DescribeServiceDeployments"]
    return float(per_deploy * figures["deploys"])


@pytest.fixture(scope="module")
def polled() -> dict[str, Any]:
    return compute(run(ONE_SERVICE))


@pytest.fixture(scope="module")
def evented() -> dict[str, Any]:
    return compute(run(replace(ONE_SERVICE, events=True)))


def test_with_events_every_deploy_settles_on_its_completion_event(
    evented: dict[str, Any],
) -> None:
    assert evented["outcomes"] == {"deployed": 3}
    assert evented["in_order"] is True
    assert evented["events_sent"] >= 6  # each rollout's IN_PROGRESS and COMPLETED
    assert evented["events_lost"] == 0
    assert evented["settled_by_safety_net"] == 0


def test_events_cost_fewer_describes_than_polling(
    polled: dict[str, Any], evented: dict[str, Any]
) -> None:
    assert polled["outcomes"] == evented["outcomes"] == {"deployed": 3}
    assert not polled["events"]
    assert watcher_describes(evented) < watcher_describes(polled)


def test_with_every_event_lost_the_safety_net_settles_every_deploy() -> None:
    spec = Spec(
        "lost", deploys=3, services=3, scale=40, converge=(10.0, 20.0), events=True, event_drop=1.0
    )
    figures = compute(run(spec))
    assert figures["outcomes"] == {"deployed": 3}
    assert figures["events_lost"] == figures["events_sent"] > 0
    assert figures["settled_by_safety_net"] == 3


def test_duplicated_and_reordered_events_still_settle_every_deploy_once() -> None:
    spec = Spec(
        "messy",
        deploys=6,
        services=3,
        supersede=False,
        scale=40,
        converge=(10.0, 20.0),
        events=True,
        event_duplicate=1.0,
        event_reorder=True,
    )
    figures = compute(run(spec))
    assert figures["outcomes"] == {"deployed": 6}
    assert figures["in_order"] is True
    assert figures["events_duplicated"] == figures["events_sent"] > 0


def test_the_events_scenarios_have_their_targets(evented: dict[str, Any]) -> None:
    from bench.scale import specs, targets

    chosen = specs(scale=10, latency=0.04, burst=1000, events_burst=300)
    assert [chosen[k].events for k in "12345678"] == [False] * 4 + [True] * 4
    assert chosen["6"].deploys == 300
    labels = {label for label, _, _ in targets("5", evented)}
    assert "detection p99 <= 3 s" in labels
    # The issue's p50 <= 1.0 s is below the events' own delivery median: the worker is
    # held to its share on top of it (docs/benchmarks.md).
    assert any(label.startswith("detection p50 <= event delay p50 + ") for label in labels)
    assert any("per watched service-minute" in label for label in labels)
    net = [met for label, met, _ in targets("7", evented) if "safety net" in label]
    assert net == [True]  # settled on its events, well within the safety net
