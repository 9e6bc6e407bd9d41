"""Scale benchmark: the real worker against in-memory ECS and SQS at AWS's limits.

    python -m bench.scale [--scale 10] [--latency 0.04] [--only 1,2,3,4]
                          [--burst 1000] [--json FILE] [--plot FILE] [--check]

Scenarios: 1, a burst of deploys over as many services; 2, 200 deploys over 20
services, several per service, in order; 3, one hour idle (simulated); 4, the
burst with 20% of rollouts failing (and rolled back). Each runs in its own
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

IDLE_SCALE = 240.0  # one simulated hour in 15 real seconds


def specs(scale: float, latency: float, burst: int) -> dict[str, Spec]:
    """The four scenarios, by number."""
    base = Spec("", 0, 1, scale=scale, latency=latency)
    return {
        "1": replace(base, name="1 burst", deploys=burst, services=burst),
        "2": replace(base, name="2 in order", deploys=200, services=20, supersede=False),
        "3": replace(
            base, name="3 idle 1 h", deploys=0, services=1, idle_seconds=3600, scale=IDLE_SCALE
        ),
        "4": replace(base, name="4 20% fail", deploys=burst, services=burst, fail_share=0.2),
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


ROWS: list[tuple[str, str]] = [
    ("deploys", "{deploys}"),
    ("outcomes", "{outcomes}"),
    ("wall time, simulated (real)", "{wall_s:.0f} s ({wall_real_s:.0f} s)"),
    ("AWS registration floor", "{register_floor_s:.0f} s"),
    ("last registration / floor", "{register_ratio_text}"),
    ("wall / floor incl. final rollout", "{floor_ratio:.3f}"),
    ("ECS calls per deploy", "{ecs_total:.2f}"),
    ("  DescribeServices", "{ecs_per_deploy[DescribeServices]:.2f}"),
    ("  DescribeTaskDefinition", "{ecs_per_deploy[DescribeTaskDefinition]:.2f}"),
    ("  RegisterTaskDefinition", "{ecs_per_deploy[RegisterTaskDefinition]:.2f}"),
    ("  UpdateService", "{ecs_per_deploy[UpdateService]:.2f}"),
    ("DescribeServices / watched service-min", "{describe_per_service_minute:.2f}"),
    ("services per DescribeServices (watch)", "{services_per_watch_describe:.2f}"),
    ("  ... at >= 100 in flight", "{at_100}"),
    ("services per DescribeServices (all)", "{services_per_describe:.2f}"),
    ("peak DescribeServices rate (10 s)", "{describe_peak_10s:.2f}/s"),
    ("throttles", "{throttles}"),
    ("peak held / watched", "{peak_held} / {peak_watched}"),
    ("detection p50 / p99", "{detect_p50_s:.1f} s / {detect_p99_s:.1f} s"),
    ("cadence at peak watched", "{cadence_at_peak_s:.1f} s"),
    ("peak RSS", "{rss_peak_mb:.0f} MB"),
    ("worker CPU per deploy", "{cpu_ms_per_deploy:.2f} ms"),
    ("SQS calls per deploy", "{sqs_total:.2f}"),
    ("idle ReceiveMessage / min / poller", "{idle}"),
]


IDLE_ROWS = ("throttles", "idle ReceiveMessage / min / poller", "ECS calls per deploy", "peak RSS")


def _view(f: dict[str, Any]) -> dict[str, Any]:
    """The figures plus the derived, preformatted cells `ROWS` refers to."""
    view = dict(f)
    view["ecs_total"] = sum(f["ecs_per_deploy"].values())
    view["sqs_total"] = sum(f["sqs_per_deploy"].values())
    at_100 = f["services_per_describe_at_100"]
    view["at_100"] = "n/a" if at_100 is None else f"{at_100:.2f}"
    idle = f["idle_receives_per_min_per_poller"]
    view["idle"] = f"{idle:.2f}" if f["deploys"] == 0 else "-"
    view["outcomes"] = ", ".join(f"{k} {v}" for k, v in f["outcomes"].items()) or "-"
    # A ratio to the registration floor means something only where registration binds.
    binds = f["register_floor_s"] >= f["floor_s"] / 2
    view["register_ratio_text"] = f"{f['register_ratio']:.3f}" if binds else "-"
    return view


def table(results: dict[str, dict[str, Any]], names: dict[str, str]) -> str:
    """A markdown table: one row per figure, one column per scenario."""
    lines = [
        "| figure | " + " | ".join(names[k] for k in results) + " |",
        "|---" * (len(results) + 1) + "|",
    ]
    views = [_view(f) for f in results.values()]
    for label, fmt in ROWS:
        cells = [
            "-" if v["deploys"] == 0 and label not in IDLE_ROWS else fmt.format(**v) for v in views
        ]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


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
    parser.add_argument("--only", default="1,2,3,4", help="scenarios to run, comma-separated")
    parser.add_argument("--json", type=Path, help="write every figure here")
    parser.add_argument("--plot", type=Path, help="write scenario 1's plot here (needs matplotlib)")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    chosen = specs(args.scale, args.latency, args.burst)
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
