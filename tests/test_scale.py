"""Scale: the benchmark's scenarios at a small size, as correctness checks, and its fakes.

The full-size benchmark is `make bench`; these run the same code on 50 deploys so
that `make test` proves every deploy converges without a throttle and within the
per-deploy call bounds, that in-flight deploys hold no thread, that several
receivers work a backlog, and that an idle worker costs one poller's long polls.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from bench.fake_ecs import FakeEcs
from bench.fake_sqs import QUEUE_URL, FakeSqs
from bench.fakeaws import Ledger, SimClock
from bench.figures import bucket_violations, cadence, compute, percentile
from bench.scale import targets
from bench.scenarios import Spec, build_world, run


@pytest.fixture(scope="module")
def burst() -> dict[str, object]:
    """Scenario 1 at 50 deploys, with only 4 deploy threads."""
    return compute(run(Spec("burst", deploys=50, services=50, scale=20, deploy_threads=4)))


def test_burst_every_deploy_converges_without_throttles(burst: dict[str, object]) -> None:
    assert burst["outcomes"] == {"deployed": 50}
    assert burst["throttles"] == 0
    assert burst["describe_violations"] == 0
    assert burst["deployment_describe_violations"] in (None, 0)  # None: no budget to check


def test_burst_calls_per_deploy_stay_within_bounds(burst: dict[str, object]) -> None:
    ecs = burst["ecs_per_deploy"]
    sqs = burst["sqs_per_deploy"]
    assert isinstance(ecs, dict) and isinstance(sqs, dict)
    # One read, one registration, one update per deploy; the watch adds a share of a call,
    # of DescribeServices or, for a worker following service deployments, of
    # DescribeServiceDeployments.
    assert ecs["RegisterTaskDefinition"] == 1
    assert ecs["UpdateService"] == 1
    assert ecs["DescribeTaskDefinition"] == 1
    assert 1 < ecs["DescribeServices"] + ecs["DescribeServiceDeployments"] <= 6
    assert sqs["DeleteMessage"] == 1
    assert sqs["ReceiveMessage"] <= 1
    if burst["deployment_describe_calls"]:
        assert burst["arns_per_watch_deployment_describe"] >= 5  # type: ignore[operator]
    else:
        assert burst["services_per_watch_describe"] >= 5  # type: ignore[operator]


def test_burst_in_flight_deploys_hold_no_thread(burst: dict[str, object]) -> None:
    # 4 deploy threads, yet dozens of rollouts were followed at once.
    assert burst["peak_watched"] >= 30  # type: ignore[operator]


def test_burst_detection_is_within_two_watch_rounds(burst: dict[str, object]) -> None:
    assert burst["detect_p99_s"] <= 2 * burst["cadence_at_peak_s"]  # type: ignore[operator]


def test_several_receivers_work_a_backlog() -> None:
    raw = run(Spec("burst", deploys=60, services=60, scale=40, converge=(5.0, 10.0)))
    pollers = {c["thread"] for c in raw["calls"] if c["op"] == "ReceiveMessage"}
    assert len(pollers) >= 2


def test_deploys_of_one_service_apply_in_order() -> None:
    spec = Spec("ordered", deploys=12, services=3, supersede=False, scale=40, converge=(10, 20))
    figures = compute(run(spec))
    assert figures["outcomes"] == {"deployed": 12}
    assert figures["in_order"] is True


def test_idle_worker_long_polls_on_one_receiver_and_calls_no_ecs() -> None:
    figures = compute(run(Spec("idle", deploys=0, services=1, idle_seconds=600, scale=240)))
    assert figures["ecs_calls"] == 0
    assert figures["pollers"] == 1
    assert figures["idle_receives_per_min_per_poller"] <= 3


# -- the fakes -------------------------------------------------------------------------------
def test_fake_ecs_throttles_past_the_register_burst() -> None:
    ecs = FakeEcs(SimClock(1.0), Ledger(), latency=0.0)
    ecs.seed_service("c", "s", "repo:1")
    given = {"family": "f", "containerDefinitions": [{"name": "app", "image": "repo:2"}]}
    for _ in range(20):
        ecs.register_task_definition(**given)
    with pytest.raises(ClientError) as raised:
        ecs.register_task_definition(**given)
    assert raised.value.response["Error"]["Code"] == "ThrottlingException"


def test_fake_ecs_rollout_converges_after_its_duration() -> None:
    clock = SimClock(1000.0)
    ecs = FakeEcs(clock, Ledger(), latency=0.0, converge=(50.0, 50.0))
    ecs.seed_service("c", "s", "repo:1")
    arn = ecs.register_task_definition(
        family="f", containerDefinitions=[{"name": "app", "image": "repo:2"}]
    )["taskDefinition"]["taskDefinitionArn"]
    deployments = ecs.update_service("c", "s", arn)["service"]["deployments"]
    assert [(d["status"], d["rolloutState"]) for d in deployments] == [
        ("PRIMARY", "IN_PROGRESS"),
        ("ACTIVE", "COMPLETED"),
    ]
    clock.sleep(60)
    (service,) = ecs.describe_services("c", ["s"])["services"]
    assert [(d["status"], d["rolloutState"]) for d in service["deployments"]] == [
        ("PRIMARY", "COMPLETED")
    ]


def test_fake_sqs_keeps_a_group_exclusive_until_deleted() -> None:
    sqs = FakeSqs(SimClock(1000.0), Ledger(), latency=0.0)
    sqs.enqueue("first", "g", "1")
    sqs.enqueue("second", "g", "2")
    (first,) = sqs.receive_message(QUEUE_URL, 1, 0, 30)["Messages"]
    assert first["Body"] == "first"
    assert sqs.receive_message(QUEUE_URL, 10, 0, 30) == {}
    sqs.delete_message(QUEUE_URL, first["ReceiptHandle"])
    (second,) = sqs.receive_message(QUEUE_URL, 10, 0, 30)["Messages"]
    assert second["Body"] == "second"


# -- the figures (pure) ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([], 50, 0.0),
        ([3.0], 99, 3.0),
        ([1.0, 2.0, 3.0, 4.0], 50, 2.0),
        ([1.0] * 99 + [9.0], 99, 1.0),
    ],
)
def test_percentile(values: list[float], q: float, expected: float) -> None:
    assert percentile(values, q) == expected


@pytest.mark.parametrize(
    ("watched", "expected"), [(0, 5.0), (100, 5.0), (250, 5.0), (251, 5.2), (1000, 20.0)]
)
def test_cadence_stretches_with_the_describe_budget(watched: int, expected: float) -> None:
    assert cadence(watched, interval=5.0, rate=5.0) == pytest.approx(expected)


def test_bucket_violations_counts_calls_over_the_budget() -> None:
    assert bucket_violations([i * 0.2 for i in range(100)], rate=5, burst=10) == 0
    assert bucket_violations([0.0] * 12, rate=5, burst=10) == 2


def _raw(op: str, watched: int, calls_per_s: float, size: int) -> dict[str, Any]:
    """A minute of a made-up run: `watched` services, the watcher calling `op`."""
    calls = [
        {"op": op, "at": i / calls_per_s, "thread": "watcher", "size": size, "throttled": False}
        for i in range(int(60 * calls_per_s))
    ]
    return {
        "spec": {"scale": 10.0, "deploys": 1},
        "settings": {
            "describe_rate": 50.0,
            "watch_interval_seconds": 0.5,
            "describe_deployments_rate": 50.0,
        },
        "calls": calls,
        "samples": [{"at": float(t), "watched": watched, "held": 0} for t in range(61)],
        "settled": [],
        "outcomes": {},
        "wall": 60.0,
        "last_rollout": 0.0,
        "longest_chain": 0.0,
        **dict.fromkeys(("rss_before_mb", "rss_peak_mb", "worker_cpu", "fake_cpu"), 0.0),
        "in_order": True,
    }


def test_deployment_describes_are_counted_per_watched_service_minute() -> None:
    # 120 watched for a minute, one call of 20 ARNs a second: 60 / 120 per service-minute.
    figures = compute(_raw("DescribeServiceDeployments", 120, 1.0, 20))
    assert figures["deployment_describes_per_service_minute"] == pytest.approx(0.5)
    assert figures["deployment_describes_per_service_minute_at_100"] == pytest.approx(0.5)
    assert figures["arns_per_deployment_describe_at_100"] == 20
    assert figures["deployment_describe_budget"] == 5.0
    assert figures["deployment_describe_violations"] == 0
    assert figures["describe_per_service_minute"] == 0.0
    # Under 100 watched, there is no figure at >= 100 in flight.
    quiet = compute(_raw("DescribeServiceDeployments", 50, 1.0, 20))
    assert quiet["deployment_describes_per_service_minute_at_100"] is None


def test_service_deployment_targets_apply_only_when_the_call_was_made() -> None:
    def labels(raw: dict[str, Any]) -> dict[str, bool]:
        return {label: ok for label, ok, _ in targets("1", compute(raw))}

    watch = (
        "watch: <= 0.65 DescribeServiceDeployments per watched service-minute at >= 100 in flight"
    )
    assert labels(_raw("DescribeServiceDeployments", 120, 1.0, 20))[watch] is True
    assert labels(_raw("DescribeServiceDeployments", 120, 2.0, 20))[watch] is False
    old = labels(_raw("DescribeServices", 120, 2.0, 10))
    assert not any("DescribeServiceDeployments" in label for label in old)


def test_floor_counts_the_rollouts_after_the_last_registration() -> None:
    from bench.scenarios import _floors

    clock = SimClock(1000.0)
    ecs = FakeEcs(clock, Ledger(), latency=0.0, converge=(30.0, 30.0))
    ecs.seed_service("c", "s", "repo:1")
    first = ecs.describe_services("c", ["s"])["services"][0]["taskDefinition"]
    given = {"family": "c-s", "containerDefinitions": [{"name": "app", "image": "repo:2-fail"}]}
    failing = ecs.register_task_definition(**given)["taskDefinition"]["taskDefinitionArn"]
    ecs.update_service("c", "s", failing)
    ecs.update_service("c", "s", first)  # the rollback: no registration
    last_rollout, longest_chain = _floors(ecs)
    assert last_rollout == pytest.approx(60.0)  # the failing rollout and its rollback
    assert longest_chain == pytest.approx(60.0)


def test_shutdown_in_a_burst_hands_queued_deploys_back_without_starting_them() -> None:
    world = build_world(Spec("burst", deploys=200, services=200, scale=20, deploy_threads=4))
    world.app.start(serve_http=False)
    deadline = time.monotonic() + 30
    while world.ledger.by_op()["RegisterTaskDefinition"] < 30:  # past the burst of 19
        assert time.monotonic() < deadline
        time.sleep(0.05)
    stopping_at = world.clock.now()
    started = time.monotonic()
    released = world.app.shutdown()
    took = time.monotonic() - started
    late = [
        c for c in world.ledger.calls if c.op == "RegisterTaskDefinition" and c.at > stopping_at
    ]
    # At most the registrations the 4 deploy threads had already begun; the other 150-odd
    # queued deploys were handed back untouched, not registered on the way out.
    assert len(late) <= 4
    assert len(released) >= 150
    assert took < 8
    visible = world.sqs.receive_message(QUEUE_URL, 10, 0, 30).get("Messages", [])
    assert len(visible) == 10  # handed back at once (visibility 0), not after the timeout
