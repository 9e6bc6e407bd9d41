"""The deploy ledger's cost: one scenario run without and with the ledger.

    python -m bench.ledger_cost [--deploys 1000] [--scale 20]

Scenario 1 of `bench.scale` (a burst of deploys over as many services) against the
in-memory fakes, once with the ledger off and once writing it to `bench.fake_dynamodb`.
Prints the ledger's writes and write units per deploy (the table and each index), the
read units of one `publish --wait` (a consistent GetItem every 5 s for the deploy's
duration), and the worker's CPU per deploy with and without the ledger.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from typing import Any

from bench.figures import compute
from bench.scale import run_isolated, specs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--deploys", type=int, default=1000)
    parser.add_argument("--scale", type=float, default=20.0)
    parser.add_argument("--latency", type=float, default=0.04)
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args(argv)
    base = specs(args.scale, args.latency, args.deploys)["1"]
    runs: dict[str, Any] = {}
    for name, on in (("without", False), ("with", True)):
        raw = run_isolated(replace(base, name=f"1 burst, ledger {name}", deploy_ledger=on))
        ends = [r["at"] for r in raw["settled"] if r["outcome"] not in ("retried", "released")]
        runs[name] = {
            "raw_ledger": raw["ledger"],
            "figures": compute(raw),
            "outcomes": raw["outcomes"],
            "mean_to_outcome_s": sum(ends) / len(ends) if ends else 0.0,
        }
    deploys = args.deploys
    ledger = runs["with"]["raw_ledger"]
    units = ledger["units"]
    writes = units.get("table", 0) + units.get("by_time", 0) + units.get("by_phase", 0)
    waited = runs["with"]["mean_to_outcome_s"]
    report = {
        "deploys": deploys,
        "outcomes": runs["with"]["outcomes"],
        "ledger_update_items": ledger["calls"].get("UpdateItem", 0),
        "ledger_refused_writes": ledger["calls"].get("refused", 0),
        "ledger_records": ledger["records"],
        "update_items_per_deploy": ledger["calls"].get("UpdateItem", 0) / deploys,
        "write_units_per_deploy": {k: v / deploys for k, v in units.items() if k != "read"},
        "write_units_per_deploy_total": writes / deploys,
        "mean_item_bytes": round(ledger["mean_item_bytes"]),
        "max_item_bytes": ledger["max_item_bytes"],
        "mean_seconds_to_outcome": round(waited),
        "wait_read_units_per_deploy": max(1, round(waited / 5)),
        "cpu_ms_per_deploy_without": runs["without"]["figures"]["cpu_ms_per_deploy"],
        "cpu_ms_per_deploy_with": runs["with"]["figures"]["cpu_ms_per_deploy"],
    }
    for key, value in report.items():
        print(f"{key:<32} {value}")
    if args.json:
        with open(args.json, "w") as out:
            json.dump(report, out, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
