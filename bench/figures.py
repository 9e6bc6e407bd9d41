"""The benchmark's figures and targets, computed from one scenario's raw measurements.

Pure: takes the dict `bench.scenarios.run` returns. Times are simulated seconds.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections import Counter
from typing import Any

from bench.figures_events import event_figures

# AWS's account limit on RegisterTaskDefinition: the floor of any burst of deploys.
REGISTER_RATE, REGISTER_BURST = 1.0, 20
ECS_OPS = (
    "DescribeServices",
    "DescribeTaskDefinition",
    "RegisterTaskDefinition",
    "UpdateService",
    "DescribeServiceDeployments",
    "ListServiceDeployments",
    "DescribeServiceRevisions",
    "StopServiceDeployment",
    "ListTasks",
    "DescribeTasks",
)
BUSY = 100  # "at >= 100 in flight": watched services
OP_DSD = "DescribeServiceDeployments"  # the service-deployment watcher's call
SQS_OPS = (
    "ReceiveMessage",
    "DeleteMessage",
    "ChangeMessageVisibilityBatch",
    "ChangeMessageVisibility",
    "SendMessage",
)
FINAL = ("deployed", "rolled_back", "failed", "noop", "superseded")


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank); 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def cadence(watched: int, interval: float, rate: float) -> float:
    """Seconds per watch round the budget allows with `watched` services in flight."""
    return max(interval, math.ceil(watched / 10) / rate)


def bucket_violations(times: list[float], rate: float, burst: float, slack: float = 0.5) -> int:
    """Calls at `times` that a token bucket of (rate, burst) would have refused.
    `slack` tokens absorb the latency between the worker's token and the call's arrival."""
    tokens, last, refused = burst, 0.0, 0
    for t in sorted(times):
        tokens = min(burst, tokens + (t - last) * rate)
        last = t
        if tokens + slack < 1:
            refused += 1
        else:
            tokens -= 1
    return refused


def _peak_window(times: list[float], window: float) -> float:
    """The highest rate (calls per second) over any `window` seconds."""
    ordered, best, lo = sorted(times), 0, 0
    for hi, t in enumerate(ordered):
        while ordered[lo] <= t - window:
            lo += 1
        best = max(best, hi - lo + 1)
    return best / window


def _mean_size(calls: list[dict[str, Any]]) -> float | None:
    return sum(c["size"] for c in calls) / len(calls) if calls else None


def _watch(
    op: str, calls: list[dict[str, Any]], samples: list[dict[str, Any]]
) -> dict[str, float | None]:
    """How the watcher thread used `op`: calls per watched service-minute and items
    (services, ARNs) per call, over the run and while >= BUSY services were watched."""
    step = [b["at"] - a["at"] for a, b in itertools.pairwise(samples)]
    spans = list(zip(samples, step, strict=False))
    minutes = sum(s["watched"] * dt for s, dt in spans) / 60
    busy_minutes = sum(s["watched"] * dt for s, dt in spans if s["watched"] >= BUSY) / 60
    watcher = [c for c in calls if c["op"] == op and c["thread"] == "watcher"]
    ats = [s["at"] for s in samples]
    busy = [
        c
        for c in watcher
        if (i := bisect.bisect_right(ats, c["at"])) and samples[i - 1]["watched"] >= BUSY
    ]
    return {
        "per_service_minute": len(watcher) / minutes if minutes else 0.0,
        "per_service_minute_at_100": len(busy) / busy_minutes if busy_minutes else None,
        "size_watch": _mean_size(watcher),
        "size_at_100": _mean_size(busy),
    }


def compute(raw: dict[str, Any]) -> dict[str, Any]:
    """Every figure the benchmark reports for one scenario."""
    spec, settings = raw["spec"], raw["settings"]
    scale = spec["scale"]
    calls = [c for c in raw["calls"] if not c["throttled"]]
    deploys = max(1, spec["deploys"])
    by_op = Counter(c["op"] for c in calls)
    describe = [c for c in calls if c["op"] == "DescribeServices"]
    samples = raw["samples"]
    old, new = _watch("DescribeServices", calls, samples), _watch(OP_DSD, calls, samples)
    rate = settings["describe_rate"] / scale
    # With an events queue, the watcher's rounds are the safety net's.
    round_key = "events_safety_net_seconds" if settings.get("events_queue_url") else ""
    interval = settings[round_key or "watch_interval_seconds"] * scale
    peak_watched = max((s["watched"] for s in samples), default=0)
    latencies = [
        r["at"] - r["rollout_end"]
        for r in raw["settled"]
        if r["outcome"] in ("deployed", "rolled_back") and r["rollout_end"] is not None
    ]
    registered = by_op["RegisterTaskDefinition"]
    register_floor = max(0.0, registered - REGISTER_BURST) / REGISTER_RATE
    # No scheduler can beat the registration floor plus the rollout of whichever deploy
    # registers last, nor a service's own chain of rollouts done in order.
    floor = max(register_floor + raw["last_rollout"], raw["longest_chain"])
    registers = [c["at"] for c in calls if c["op"] == "RegisterTaskDefinition"]
    idle_minutes = raw["wall"] / 60
    pollers = {c["thread"] for c in calls if c["op"] == "ReceiveMessage"}
    return {
        "deploys": spec["deploys"],
        "outcomes": raw["outcomes"],
        "settled": sum(raw["outcomes"].get(k, 0) for k in FINAL),
        "wall_s": raw["wall"],
        "wall_real_s": raw["wall"] / scale,
        "register_floor_s": register_floor,
        "floor_s": floor,
        "floor_ratio": raw["wall"] / floor if floor else 0.0,
        "last_register_s": max(registers, default=0.0),
        "register_ratio": max(registers, default=0.0) / register_floor if register_floor else 0.0,
        "ecs_per_deploy": {op: by_op[op] / deploys for op in ECS_OPS},
        "ecs_calls": sum(by_op[op] for op in ECS_OPS),
        "sqs_per_deploy": {op: by_op[op] / deploys for op in SQS_OPS},
        "sqs_calls": sum(by_op[op] for op in SQS_OPS),
        "describe_per_service_minute": old["per_service_minute"],
        "describe_per_service_minute_at_100": old["per_service_minute_at_100"],
        "services_per_describe": _mean_size(describe) or 0.0,
        "services_per_watch_describe": old["size_watch"] or 0.0,
        "services_per_describe_at_100": old["size_at_100"],
        "describe_peak_10s": _peak_window([c["at"] for c in describe], 10.0),
        "describe_budget": rate,
        "describe_violations": bucket_violations(
            [c["at"] for c in describe], rate, max(1.0, 2 * rate)
        ),
        **_deployment_describes(raw, new),
        **event_figures(raw),
        "throttles": sum(1 for c in raw["calls"] if c["throttled"]),
        "detect_p50_s": percentile(latencies, 50),
        "detect_p99_s": percentile(latencies, 99),
        "peak_watched": peak_watched,
        "peak_held": max((s["held"] for s in samples), default=0),
        "cadence_at_peak_s": cadence(peak_watched, interval, rate),
        "rss_before_mb": raw["rss_before_mb"],
        "rss_peak_mb": raw["rss_peak_mb"],
        "cpu_ms_per_deploy": 1000 * raw["worker_cpu"] / deploys,
        "worker_cpu_s": raw["worker_cpu"],
        "fake_cpu_s": raw["fake_cpu"],
        "in_order": raw["in_order"],
        "idle_receives_per_min_per_poller": by_op["ReceiveMessage"]
        / idle_minutes
        / max(1, len(pollers))
        if idle_minutes
        else 0.0,
        "idle_receives_per_min": by_op["ReceiveMessage"] / idle_minutes if idle_minutes else 0.0,
        "pollers": len(pollers),
    }


def _deployment_describes(raw: dict[str, Any], watch: dict[str, float | None]) -> dict[str, Any]:
    """DescribeServiceDeployments, the service-deployment watcher's call, beside the
    DescribeServices figures. Its budget is the worker's `describe_deployments_rate`
    (burst as DescribeServices': twice the rate), when the worker has one."""
    made = [c for c in raw["calls"] if c["op"] == OP_DSD]
    times = [c["at"] for c in made if not c["throttled"]]
    budget = raw["settings"].get("describe_deployments_rate")
    rate = budget / raw["spec"]["scale"] if budget else None
    return {
        "deployment_describe_calls": len(made),
        "deployment_describe_throttles": sum(1 for c in made if c["throttled"]),
        "deployment_describes_per_service_minute": watch["per_service_minute"],
        "deployment_describes_per_service_minute_at_100": watch["per_service_minute_at_100"],
        "arns_per_deployment_describe": _mean_size([c for c in made if not c["throttled"]]),
        "arns_per_watch_deployment_describe": watch["size_watch"],
        "arns_per_deployment_describe_at_100": watch["size_at_100"],
        "deployment_describe_peak_10s": _peak_window(times, 10.0),
        "deployment_describe_budget": rate,
        "deployment_describe_violations": None
        if rate is None
        else bucket_violations(times, rate, max(1.0, 2 * rate)),
    }
