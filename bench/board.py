"""The deploy board's cost: server-side render time at 200 services, ledger reads per view.

    python -m bench.board [--services 200] [--views 200] [--check]

A ledger of `--services` deploys in flight (each at a gate with measurements, votes and
the approve command), 50 recent outcomes with evidence and 50 rejections, in an
in-memory table that answers the board's queries as DynamoDB does (the `by_phase`
index, newest first) and counts them. Prints the time to read and render the board
(cache off: every view reads the ledger) and to render it alone, and the ledger
queries per page view with the board's 3-second cache when `--views` viewers poll
every 3 s for a minute. `--check` fails when the render's p95 is over 200 ms.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import Counter
from typing import Any

from deployworker.aws._retry import Caller, RetryPolicy
from deployworker.aws.dynamodb import LedgerTable, from_wire, to_wire
from deployworker.board.cache import BoardData
from deployworker.board.view import board_doc
from deployworker.ledger import read
from deployworker.ledger.record import IN_FLIGHT_PHASE, day_of
from deployworker.ledger.states import RANK, State

LIMIT_MS = 200.0
REPO = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"


class QueryTable:
    """The ledger's table in memory: the board's Query calls on `by_phase` and `by_time`."""

    def __init__(self, items: list[dict[str, Any]]) -> None:
        self.items = items
        self.calls: Counter[str] = Counter()

    def query(self, **kwargs: Any) -> dict[str, Any]:
        self.calls["Query"] += 1
        values = from_wire(kwargs["ExpressionAttributeValues"])
        if kwargs.get("IndexName") == "by_phase":
            found = [i for i in self.items if i["phase"] == values[":p"]]
            key = "updated_at"
        else:
            found = [i for i in self.items if i["target"] == values[":t"]]
            key = "created_at"
        found.sort(key=lambda i: i[key], reverse=not kwargs.get("ScanIndexForward", True))
        return {"Items": [to_wire(i) for i in found[: kwargs["Limit"]]]}


def ledger(services: int, now: float) -> list[dict[str, Any]]:
    """`services` deploys in flight at a gate, 50 recent outcomes and 50 rejections."""
    ms = int(now * 1000)
    items: list[dict[str, Any]] = []

    def item(target: str, deploy_id: str, state: State, phase: str, **extra: Any) -> None:
        items.append(
            {
                "target": target,
                "deploy_id": deploy_id,
                "state": state.value,
                "rank": RANK[state],
                "phase": phase,
                "created_at": ms - 600_000,
                "updated_at": ms - len(items) * 1000,
                "cluster": target.split("/")[-2],
                "service": target.rsplit("/", maxsplit=1)[-1],
                "images": {
                    "app": f"{REPO}/{target.rsplit('/', maxsplit=1)[-1]}:build-{len(items)}"
                },
                "source": {"commit": "0123456789abcdef" * 2, "actor": "ci", "url": "https://ci"},
                "replica": "worker-1",
                **extra,
            }
        )

    for n in range(services):
        gate = {
            "stage": "POST_TEST_TRAFFIC_SHIFT",
            "state": "awaiting",
            "line": "awaiting 1 approval (release-managers) until 14:05Z",
            "measurements": [
                {"metric": "error-ratio", "phase": "ok", "values": [0.001] * 5, "failures": 0},
                {"metric": "latency-p99", "phase": "ok", "values": [0.2] * 5, "failures": 0},
            ],
            "approvers": ["arn:aws:iam::123456789012:role/release-managers"],
            "required": 2,
            "needed": 1,
            "deadline": now + 900,
            "command": f"deployworker approve --cluster c{n % 10} --service s{n} --deploy-id d{n}",
        }
        vote = {"action": "approve", "principal": "arn:aws:sts::1:assumed-role/rm/alice"}
        item(
            f"c{n % 10}/s{n}",
            f"d{n}",
            State.AWAITING_APPROVAL,
            IN_FLIGHT_PHASE,
            gate=json.dumps(gate),
            votes=[json.dumps(vote)],
        )
    evidence = {"stopped_tasks": [{"reason": "Essential container exited", "exit_code": 1}] * 3}
    for n in range(50):
        item(
            f"c{n % 10}/s{n}",
            f"old{n}",
            State.ROLLED_BACK,
            f"ended#{day_of(now)}",
            reason="circuit breaker",
            evidence=json.dumps(evidence),
            duration_ms=95_000,
        )
        item(
            f"c{n % 10}/s{n}",
            f"bad{n}",
            State.REJECTED,
            f"rejected#{day_of(now)}",
            reason=f"image repository 'evil.example.com/s{n}' is not allowlisted for c/s{n}",
        )
    return items


def percentile(samples: list[float], p: float) -> float:
    return sorted(samples)[min(len(samples) - 1, int(len(samples) * p))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--services", type=int, default=200)
    parser.add_argument("--views", type=int, default=200, help="viewers polling for a minute")
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    now = time.time()
    client = QueryTable(ledger(args.services, now))
    table = LedgerTable(client, Caller("dynamodb", RetryPolicy(attempts=1)), "ledger")

    # Cache off: each view reads the ledger and renders (the worst a viewer can cost).
    cold: list[float] = []
    for _ in range(args.rounds):
        data = BoardData(table, "eu-west-1", ttl=0.0)
        started = time.perf_counter()
        body = data.board()
        cold.append((time.perf_counter() - started) * 1000)
    queries_cold = client.calls["Query"] / args.rounds

    # The render alone: the documents and their JSON from entries already read.
    flight = read.in_flight(table, 500)
    ended = read.recent(table, 2, 50, now)
    rejected = read.rejected(table, 2, 50, now)
    render: list[float] = []
    for _ in range(args.rounds):
        started = time.perf_counter()
        json.dumps(board_doc(flight, ended, rejected, "eu-west-1", now, 3.0), separators=(",", ":"))
        render.append((time.perf_counter() - started) * 1000)

    # Viewers polling every 3 s for 60 s through one 3-second cache (a simulated clock).
    clock = [0.0]
    shared = BoardData(table, "eu-west-1", ttl=3.0, clock=lambda: clock[0])
    client.calls.clear()
    views = 0
    for tick in range(20):  # 60 s in 3-second polls
        for viewer in range(args.views):
            clock[0] = tick * 3.0 + viewer * (3.0 / args.views)
            shared.board()
            views += 1
    per_view = client.calls["Query"] / views
    figures = {
        "services_in_flight": args.services,
        "board_bytes": len(body),
        "read_and_render_ms_p50": round(statistics.median(cold), 2),
        "read_and_render_ms_p95": round(percentile(cold, 0.95), 2),
        "render_ms_p50": round(statistics.median(render), 2),
        "render_ms_p95": round(percentile(render, 0.95), 2),
        "ledger_queries_per_view_uncached": queries_cold,
        "viewers": args.views,
        "ledger_queries_per_view_cached": round(per_view, 4),
        "ledger_queries_per_minute_cached": client.calls["Query"],
    }
    for key, value in figures.items():
        print(f"{key:36} {value}")
    if args.check and figures["read_and_render_ms_p95"] > LIMIT_MS:
        print(f"FAIL: the board took {figures['read_and_render_ms_p95']} ms (limit {LIMIT_MS})")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
