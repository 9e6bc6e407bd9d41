"""Scenario 1's plot: deploys in flight and ECS call rates over (simulated) time."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import matplotlib as mpl

mpl.use("Agg")  # no display here, and none needed
import matplotlib.pyplot as plt

OPS = (
    "RegisterTaskDefinition",
    "UpdateService",
    "DescribeServices",
    "DescribeTaskDefinition",
    "DescribeServiceDeployments",
)
BIN = 10.0  # seconds per rate bucket


def plot(raw: dict[str, Any], path: Path) -> None:
    """Write a two-panel PNG: in-flight counts on top, call rates below."""
    samples = raw["samples"]
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(10, 7), sharex=True)
    times = [s["at"] for s in samples]
    top.plot(times, [s["held"] for s in samples], label="messages held (deploys in flight)")
    top.plot(times, [s["watched"] for s in samples], "--", label="deployments being watched")
    top.set_ylabel("count")
    top.legend(loc="center right")
    top.set_title(
        f"Burst of {raw['spec']['deploys']} deploys (simulated time, scale {raw['spec']['scale']:g})"
    )
    end = max(times, default=0.0)
    edges = [i * BIN for i in range(int(end // BIN) + 1)]
    for op in OPS:
        counts = Counter(
            int(c["at"] // BIN) for c in raw["calls"] if c["op"] == op and not c["throttled"]
        )
        bottom.step(edges, [counts[i] / BIN for i in range(len(edges))], where="post", label=op)
    settings = raw["settings"]
    rate = settings.get("describe_deployments_rate", settings["describe_rate"])
    budget = rate / raw["spec"]["scale"]
    bottom.axhline(budget, linestyle="--", color="grey", label=f"describe budget {budget:g}/s")
    bottom.set_ylim(0, budget * 1.8)  # headroom, so the legend covers no line
    bottom.set_ylabel(f"calls per second ({BIN:g} s bins)")
    bottom.set_xlabel("seconds since the burst arrived")
    bottom.legend(loc="upper right", fontsize="small", ncol=2)
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)
