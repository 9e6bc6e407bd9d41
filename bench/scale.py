"""Scale benchmark: the real worker against in-memory ECS and SQS at AWS's limits.

    python -m bench.scale [--scale 10] [--latency 0.04] [--only 1,2,3,4,5,6,7,8]
                          [--burst 1000] [--events-burst 300] [--events-gather 0.5]
                          [--json FILE] [--plot FILE] [--check]

Scenarios: 1, a burst of deploys over as many services; 2, 200 deploys over 20
services, several per service, in order; 3, one hour idle (simulated); 4, the
burst with 20% of rollouts failing (and rolled back). 5 to 8 read ECS's events
(`bench.targets_events`): one service watched; a burst of 300; 10% of events
lost; events duplicated and reordered. Each runs in its own
process, so peak RSS is its own. Prints a table of figures and the targets;
`--check` exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.figures import compute
from bench.scenarios import Spec, run
from bench.table import table
from bench.targets_events import event_specs, event_targets

IDLE_SCALE = 240.0  # one simulated hour in 15 real seconds


def specs(
    scale: float,
    latency: float,
    burst: int,
    events_burst: int = 300,
    events_gather: float | None = None,
) -> dict[str, Spec]:
    """The eight scenarios, by number."""
    base = Spec("", 0, 1, scale=scale, latency=latency, events_gather=events_gather)
    return {
        "1": replace(base, name="1 burst", deploys=burst, services=burst),
        "2": replace(base, name="2 in order", deploys=200, services=20, supersede=False),
        "3": replace(
            base, name="3 idle 1 h", deploys=0, services=1, idle_seconds=3600, scale=IDLE_SCALE
        ),
        "4": replace(base, name="4 20% fail", deploys=burst, services=burst, fail_share=0.2),
        **event_specs(base, events_burst),
    }


def run_isolated(spec: Spec) -> dict[str, Any]:
    """Run a scenario in a fresh process; returns its raw measurements."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(run, spec).result()


def targets(key: str, f: dict[str, Any]) -> list[tuple[str, bool, str]]:
    """(target, met, measured) for one scenario's figures."""
    out = [
        ("0 throttles", f["throttles"] == 0, str(f["throttles"])),
        (
            "DescribeServices within budget",
            f["describe_violations"] == 0,
            f"{f['describe_violations']} over; peak {f['describe_peak_10s']:.2f}/s over 10 s, budget {f['describe_budget']:g}/s",
        ),
    ]
    if key == "3":
        out += [
            (
                "idle ReceiveMessage <= 3/min/poller",
                f["idle_receives_per_min_per_poller"] <= 3,
                f"{f['idle_receives_per_min_per_poller']:.2f}",
            ),
            ("idle: no ECS calls", f["ecs_calls"] == 0, str(f["ecs_calls"])),
        ]
        return out
    out.append(
        ("every deploy settled", f["settled"] == f["deploys"], f"{f['settled']}/{f['deploys']}")
    )
    if key == "2":
        out.append(("each service's deploys applied in order", f["in_order"], str(f["in_order"])))
    if key == "1":  # the issue sets the wall-time target for the burst
        out.append(("wall <= 1.1 x floor", f["floor_ratio"] <= 1.1, f"{f['floor_ratio']:.3f}"))
    if key in ("1", "4"):
        out += [
            (
                "registration <= 1.1 x AWS floor",
                f["register_ratio"] <= 1.1,
                f"{f['register_ratio']:.3f}",
            ),
            ("peak RSS <= 150 MB", f["rss_peak_mb"] <= 150, f"{f['rss_peak_mb']:.0f} MB"),
            (
                "worker CPU <= 5 ms/deploy",
                f["cpu_ms_per_deploy"] <= 5,
                f"{f['cpu_ms_per_deploy']:.2f} ms",
            ),
        ]
    if f["services_per_describe_at_100"] is not None:
        out.append(
            (
                "watch: >= 9 services per DescribeServices at >= 100 in flight",
                f["services_per_describe_at_100"] >= 9,
                f"{f['services_per_describe_at_100']:.2f}",
            )
        )
    out += _deployment_targets(f) + event_targets(key, f)
    if f["peak_watched"]:
        bound = 2 * f["cadence_at_peak_s"]
        out.append(
            (
                "detection p99 <= 2 x cadence",
                f["detect_p99_s"] <= bound,
                f"{f['detect_p99_s']:.1f} s <= {bound:.1f} s",
            )
        )
    return out


def _deployment_targets(f: dict[str, Any]) -> list[tuple[str, bool, str]]:
    """The service-deployment watcher's targets: only for a worker that calls
    DescribeServiceDeployments (today's follows DescribeServices)."""
    if not f["deployment_describe_calls"]:
        return []
    out = [
        (
            "DescribeServiceDeployments: 0 throttles",
            f["deployment_describe_throttles"] == 0,
            str(f["deployment_describe_throttles"]),
        )
    ]
    if f["deployment_describe_violations"] is not None:
        out.append(
            (
                "DescribeServiceDeployments within budget",
                f["deployment_describe_violations"] == 0,
                f"{f['deployment_describe_violations']} over; peak {f['deployment_describe_peak_10s']:.2f}/s over 10 s, budget {f['deployment_describe_budget']:g}/s",
            )
        )
    at_100 = f["deployment_describes_per_service_minute_at_100"]
    if at_100 is not None:
        out.append(
            (
                "watch: <= 0.65 DescribeServiceDeployments per watched service-minute at >= 100 in flight",
                at_100 <= 0.65,
                f"{at_100:.2f}",
            )
        )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--scale", type=float, default=10.0, help="time-lapse factor for limits and durations"
    )
    parser.add_argument(
        "--latency", type=float, default=0.040, help="per-call latency, simulated seconds"
    )
    parser.add_argument("--burst", type=int, default=1000, help="deploys in scenarios 1 and 4")
    parser.add_argument(
        "--events-burst", type=int, default=300, help="deploys in scenario 6 (events on)"
    )
    parser.add_argument(
        "--events-gather",
        type=float,
        help="the worker's DEPLOYWORKER_EVENTS_GATHER_SECONDS in scenarios 5-8 (default: its own)",
    )
    parser.add_argument("--only", default="1,2,3,4,5,6,7,8", help="scenarios, comma-separated")
    parser.add_argument("--json", type=Path, help="write every figure here")
    parser.add_argument("--plot", type=Path, help="write scenario 1's plot here (needs matplotlib)")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    chosen = specs(args.scale, args.latency, args.burst, args.events_burst, args.events_gather)
    results: dict[str, dict[str, Any]] = {}
    raws: dict[str, dict[str, Any]] = {}
    for key in args.only.split(","):
        spec = chosen[key.strip()]
        print(
            f"running scenario {spec.name} (scale {spec.scale:g}) ...", file=sys.stderr, flush=True
        )
        raws[key] = run_isolated(spec)
        results[key] = compute(raws[key])
    print(
        f"scale factor {args.scale:g} (idle: {IDLE_SCALE:g}), latency {args.latency * 1000:g} ms, {os.cpu_count()} cores\n"
    )
    print(table(results, {k: chosen[k].name for k in results}))
    missed = 0
    print()
    for key, figures in results.items():
        for label, ok, measured in targets(key, figures):
            missed += not ok
            print(f"{'PASS' if ok else 'MISS'}  {chosen[key].name}: {label} ({measured})")
    if args.json:
        args.json.write_text(
            json.dumps({"scale": args.scale, "cores": os.cpu_count(), "results": results}, indent=1)
        )
    if args.plot and "1" in raws:
        from bench.plot import plot

        plot(raws["1"], args.plot)
    return 1 if missed and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
