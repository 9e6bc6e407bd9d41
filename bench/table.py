"""The benchmark's summary table: one row per figure, one column per scenario.

The DescribeServices rows are today's watcher's; the DescribeServiceDeployments rows
are the service-deployment watcher's, and read n/a for a worker that does not make
the call. The ECS events rows are those of the scenarios whose worker reads them.
"""

from __future__ import annotations

from typing import Any

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
    ("  DescribeServiceDeployments", "{ecs_per_deploy[DescribeServiceDeployments]:.2f}"),
    ("  ListServiceDeployments", "{ecs_per_deploy[ListServiceDeployments]:.2f}"),
    ("  StopServiceDeployment", "{ecs_per_deploy[StopServiceDeployment]:.2f}"),
    ("  DescribeServiceRevisions, ListTasks, DescribeTasks", "{ecs_evidence:.2f}"),
    ("DescribeServices / watched service-min", "{describe_per_service_minute:.2f}"),
    ("  ... at >= 100 in flight", "{describe_at_100}"),
    ("DescribeServiceDeployments / watched service-min", "{dsd_per_min}"),
    ("  ... at >= 100 in flight", "{dsd_at_100}"),
    ("services per DescribeServices (watch)", "{services_per_watch_describe:.2f}"),
    ("  ... at >= 100 in flight", "{at_100}"),
    ("services per DescribeServices (all)", "{services_per_describe:.2f}"),
    ("ARNs per DescribeServiceDeployments (watch)", "{arns_watch}"),
    ("  ... at >= 100 in flight", "{arns_at_100}"),
    ("peak DescribeServices rate (10 s)", "{describe_peak_10s:.2f}/s"),
    ("peak DescribeServiceDeployments rate (10 s)", "{dsd_peak}"),
    ("throttles", "{throttles}"),
    ("peak held / watched", "{peak_held} / {peak_watched}"),
    ("detection p50 / p99", "{detect_p50_s:.1f} s / {detect_p99_s:.1f} s"),
    ("cadence at peak watched", "{cadence_at_peak_s:.1f} s"),
    ("ECS events sent / lost / extra copies", "{events_cell}"),
    ("  event delay p50", "{event_delay}"),
    ("detection after the completion event p50 / p99", "{after_event}"),
    ("settled before their completion event arrived", "{by_net}"),
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
    view["ecs_evidence"] = sum(
        f["ecs_per_deploy"][op] for op in ("DescribeServiceRevisions", "ListTasks", "DescribeTasks")
    )
    for cell, key in (
        ("at_100", "services_per_describe_at_100"),
        ("describe_at_100", "describe_per_service_minute_at_100"),
        ("dsd_at_100", "deployment_describes_per_service_minute_at_100"),
        ("arns_watch", "arns_per_watch_deployment_describe"),
        ("arns_at_100", "arns_per_deployment_describe_at_100"),
    ):
        view[cell] = "n/a" if f[key] is None else f"{f[key]:.2f}"
    # The service-deployment figures mean something only for a worker that makes the call.
    budget = f["deployment_describe_budget"]
    view["dsd_per_min"] = f"{f['deployment_describes_per_service_minute']:.2f}"
    view["dsd_peak"] = f"{f['deployment_describe_peak_10s']:.2f}/s" + (
        f" (budget {budget:g}/s)" if budget is not None else ""
    )
    if not f["deployment_describe_calls"]:
        view.update(dict.fromkeys(("dsd_per_min", "dsd_at_100", "dsd_peak"), "n/a"))
    view.update(_events_view(f))
    idle = f["idle_receives_per_min_per_poller"]
    view["idle"] = f"{idle:.2f}" if f["deploys"] == 0 else "-"
    view["outcomes"] = ", ".join(f"{k} {v}" for k, v in f["outcomes"].items()) or "-"
    # A ratio to the registration floor means something only where registration binds.
    binds = f["register_floor_s"] >= f["floor_s"] / 2
    view["register_ratio_text"] = f"{f['register_ratio']:.3f}" if binds else "-"
    return view


def _events_view(f: dict[str, Any]) -> dict[str, str]:
    """The events path's cells: "-" for a scenario without events."""
    cells = ("events_cell", "event_delay", "after_event", "by_net")
    if not f["events"]:
        return dict.fromkeys(cells, "-")
    p50, p99 = f["detect_after_event_p50_s"], f["detect_after_event_p99_s"]
    delay = f["events_delay_p50_s"]
    return {
        "events_cell": f"{f['events_sent']} / {f['events_lost']} / {f['events_duplicated']}",
        "event_delay": "n/a" if delay is None else f"{delay:.2f} s",
        "after_event": "n/a" if p50 is None else f"{p50:.2f} s / {p99:.2f} s",
        "by_net": str(f["settled_by_safety_net"]),
    }


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
