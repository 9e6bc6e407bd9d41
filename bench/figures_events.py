"""The events path's figures: what became of ECS's events, and detection measured from
the completion event's arrival as well as from the rollout's end.

Pure: takes the dict `bench.scenarios.run` returns. Times are simulated seconds.
"""

from __future__ import annotations

from typing import Any

COMPLETED = "SERVICE_DEPLOYMENT_COMPLETED"
DETECTED = ("deployed", "rolled_back")


def _percentile(values: list[float], q: float) -> float | None:
    from bench.figures import percentile  # here: bench.figures imports this module

    return percentile(values, q) if values else None


def _arrivals(events: list[dict[str, Any]]) -> dict[tuple[str, float], float | None]:
    """(service, time of the change) -> the first arrival of its COMPLETED event (None:
    every copy lost)."""
    out: dict[tuple[str, float], float | None] = {}
    for e in events:
        if e["name"] != COMPLETED:
            continue
        key = (e["service"], round(e["changed"], 6))
        first = out.get(key)
        arrived = e["delivered"]
        out[key] = arrived if first is None else min(first, arrived or first)
    return out


def event_figures(raw: dict[str, Any]) -> dict[str, Any]:
    """Figures of the events path; all None or 0 for a scenario without events."""
    settings, scale = raw["settings"], raw["spec"]["scale"]
    events = raw.get("events", [])
    on = bool(settings.get("events_queue_url"))
    arrivals = _arrivals(events)
    after: list[float] = []
    unheralded = 0  # settled with its completion event lost, or not yet arrived
    for r in raw["settled"]:
        if r["outcome"] not in DETECTED or r["rollout_end"] is None:
            continue
        arrived = arrivals.get((r["service"], round(r["rollout_end"], 6)))
        if arrived is None or arrived > r["at"]:
            unheralded += 1
        else:
            after.append(r["at"] - arrived)
    sent = [e for e in events if not e["copy"]]
    return {
        "events": on,
        "events_sent": len(sent),
        "events_lost": sum(1 for e in sent if e["delivered"] is None),
        "events_duplicated": sum(1 for e in events if e["copy"]),
        "events_delay_p50_s": _percentile(
            [e["delivered"] - e["changed"] for e in sent if e["delivered"] is not None], 50
        ),
        "detect_after_event_p50_s": _percentile(after, 50),
        "detect_after_event_p99_s": _percentile(after, 99),
        "settled_by_safety_net": unheralded,
        "safety_net_s": settings["events_safety_net_seconds"] * scale if on else None,
        "gather_s": settings.get("events_gather_seconds", 0.0) * scale if on else None,
    }
