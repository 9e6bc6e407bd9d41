"""Benchmark scenarios for several accounts and replicas: budgets per (account, region).

    python -m bench.accounts [--scale 10] [--only A,B,C,D] [--json FILE] [--check]

A: 10 accounts x 100 deploys, all queued at once, one worker; each account's fake ECS
enforces AWS's limits on its own. B: 3 replicas (three real workers in one process,
sharing one queue) on one account, 1,000 deploys; the fake ECS enforces the account's
limits across all of them. C: B with an outside client (Terraform, CI) calling
UpdateService at half the account's limit; the workers' AIMD backoff absorbs it. D: C
with redeploys, which register nothing, so UpdateService is what runs out. Every
target is another account, reached through the worker's per-target factories, and
in scenario A and B the worker must cause no throttling at all.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, replace
from typing import Any

from bench.fake_ecs import FakeEcs
from bench.fake_sqs import FakeSqs
from bench.fakeaws import ECS_LIMITS, Ledger, SimClock
from bench.scenarios import _floors
from bench.spec import IMAGE, Spec, scaled_limiter, scaled_settings, service_name
from deployworker.app import App, build
from deployworker.aws._ratelimit import Budget
from deployworker.aws.accounts.budgets import Aimd, shared
from deployworker.aws.clients import make_client
from deployworker.observe.logs import configure_logging
from deployworker.outcome import Outcome

REGION = "us-west-2"
OUTSIDE = "outside"  # the thread name of the client that is not the worker


@dataclass(frozen=True)
class AccountsSpec:
    """One scenario: accounts, deploys per account, replicas, the outside client's share."""

    name: str
    accounts: int
    per_account: int
    replicas: int = 1
    outside_share: float = 0.0  # of the account's UpdateService limit
    action: str = "deploy"  # "redeploy": no registration, so UpdateService is the limit
    aimd: bool = True  # False: a throttle leaves the rate as it is (for comparison)
    scale: float = 10.0
    latency: float = 0.040
    timeout: float = 900.0  # real seconds


def account_id(n: int) -> str:
    return f"2100000000{n:02d}"


def allowlist(spec: AccountsSpec) -> str:
    """Every account listed with its role, and `per_account` services in each."""
    accounts = {
        f"a{n}": {
            "account_id": account_id(n),
            "role_arn": f"arn:aws:iam::{account_id(n)}:role/deployworker-target",
        }
        for n in range(spec.accounts)
    }
    services = [
        {
            "account": f"a{n}",
            "region": REGION,
            "cluster": "bench",
            "service": service_name(s),
            "containers": ["app"],
            "images": [IMAGE],
        }
        for n in range(spec.accounts)
        for s in range(spec.per_account)
    ]
    return json.dumps({"version": 1, "accounts": accounts, "services": services})


def scaled_budgets(scale: float, replicas: int) -> dict[str, Budget]:
    """Each replica's share of the default ECS budgets, in real time."""
    return shared(scaled_limiter_budgets(scale), replicas)


def scaled_limiter_budgets(scale: float) -> dict[str, Budget]:
    from deployworker.settings import Settings

    return {op: Budget(b.rate * scale, b.burst) for op, b in Settings().ecs_budgets().items()}


def _worker(spec: AccountsSpec, sqs: FakeSqs, ecs: dict[str, FakeEcs], ecr: Any) -> App:
    base = scaled_settings(Spec("", 0, 0, scale=spec.scale, latency=spec.latency))
    settings = base.model_copy(
        update={
            "allowlist_yaml": allowlist(spec),
            "replicas": spec.replicas,
            "describe_deployments_rate": base.describe_deployments_rate,
        }
    )
    home = FakeEcs(SimClock(spec.scale), Ledger(), spec.latency)  # no deploys at home
    app = build(
        settings,
        clients=lambda service: {"sqs": sqs, "ecs": home}.get(service) or ecr,
        limiter=scaled_limiter(spec.scale),
    )
    accounts = app.targets.accounts
    assert accounts is not None
    accounts.clients_for = lambda account, _region: lambda s: ecs[account] if s == "ecs" else ecr
    accounts.budgets = scaled_budgets(spec.scale, spec.replicas)
    accounts.aimd = Aimd(hold_seconds=10 / spec.scale, decrease=0.5 if spec.aimd else 1.0)
    return app


def run(spec: AccountsSpec) -> dict[str, Any]:
    """Run one scenario to the end; returns its figures."""
    clock = SimClock(spec.scale)
    ledgers = {account_id(n): Ledger() for n in range(spec.accounts)}
    ecs = {a: FakeEcs(clock, ledgers[a], spec.latency, seed=7 + n) for n, a in enumerate(ledgers)}
    for fake in ecs.values():
        for s in range(spec.per_account):
            fake.seed_service("bench", service_name(s), f"{IMAGE}:{service_name(s)}-v0")
        fake.seed_service("bench", OUTSIDE, f"{IMAGE}:outside")
        # Seeded an hour ago: the fakes stamp simulated seconds, SQS real ones, and a
        # redeploy must not take a deployment seeded after its message was sent for its own.
        for service in fake.services.values():
            if service.current is not None:
                service.current.created = service.current.finish_at = -3600.0
    sqs = FakeSqs(clock, Ledger(), spec.latency)
    total = 0
    for s in range(spec.per_account):
        for n in range(spec.accounts):
            name = service_name(s)
            body: dict[str, str] = {
                "cluster": "bench",
                "service": name,
                "deploy_id": f"{name}-{n}",
                "account": f"a{n}",
                "region": REGION,
            }
            if spec.action == "redeploy":
                body["action"] = "redeploy"
            else:
                body.update(container="app", image=f"{IMAGE}:{name}-v1")
            group = f"{account_id(n)}/{REGION}/bench/{name}"
            sqs.enqueue(json.dumps(body), group=group, dedup=f"{n}-{name}")
            total += 1
    ecr = make_client("ecr", REGION, "http://127.0.0.1:9")
    apps = [_worker(spec, sqs, ecs, ecr) for _ in range(spec.replicas)]
    configure_logging("info", open(os.devnull, "w"))  # noqa: SIM115 - lives as long as the process
    lock, done, outcomes = threading.Lock(), threading.Event(), Counter[str]()

    def settled(_: Any, result: Any) -> None:
        if result.outcome in (Outcome.RETRIED, Outcome.RELEASED):
            return
        with lock:
            outcomes[result.outcome.value] += 1
            if sum(outcomes.values()) >= total:
                done.set()

    def outside() -> None:
        limit = ECS_LIMITS["UpdateService"][0] * spec.outside_share
        target = next(iter(ecs.values()))
        while not done.is_set():
            # Throttled or not, the outside client carries on, as Terraform would.
            with contextlib.suppress(Exception):
                target.update_service(cluster="bench", service=OUTSIDE)
            clock.sleep(1 / limit)

    for app in apps:
        app.settler.add_listener(settled)  # type: ignore[union-attr]
    cpu = resource.getrusage(resource.RUSAGE_SELF)
    start = clock.now()
    for app in apps:
        app.start(serve_http=False)
    if spec.outside_share:
        threading.Thread(target=outside, name=OUTSIDE, daemon=True).start()
    done.wait(spec.timeout)
    wall = clock.now() - start
    after = resource.getrusage(resource.RUSAGE_SELF)
    for app in apps:
        app.shutdown()
    fake_cpu = sum(ledger.cpu for ledger in ledgers.values()) + sqs.ledger.cpu
    worker_cpu = after.ru_utime + after.ru_stime - cpu.ru_utime - cpu.ru_stime - fake_cpu
    return figures(spec, ecs, ledgers, wall, worker_cpu, dict(outcomes), total, start)


def figures(
    spec: AccountsSpec,
    ecs: dict[str, FakeEcs],
    ledgers: dict[str, Ledger],
    wall: float,
    worker_cpu: float,
    outcomes: dict[str, int],
    total: int,
    start: float,
) -> dict[str, Any]:
    """Throttles per account (the worker's calls only), floors, wall, CPU, RSS."""
    rate, burst = ECS_LIMITS["RegisterTaskDefinition"]
    per_account = {}
    for account, ledger in ledgers.items():
        worker = [c for c in ledger.calls if c.thread != OUTSIDE]
        registered = sum(1 for c in worker if c.op == "RegisterTaskDefinition")
        last_rollout, _ = _floors(ecs[account])
        per_account[account] = {
            "calls": len(worker),
            "throttles": sum(1 for c in worker if c.throttled),
            "outside_throttles": sum(
                1 for c in ledger.calls if c.throttled and c.thread == OUTSIDE
            ),
            "floor_s": max(0.0, registered - burst) / rate + last_rollout,
        }
    floor = max(a["floor_s"] for a in per_account.values())
    calls = sum(a["calls"] for a in per_account.values())
    throttles = sum(a["throttles"] for a in per_account.values())
    return {
        "name": spec.name,
        "deploys": total,
        "settled": sum(outcomes.values()),
        "outcomes": outcomes,
        "wall_s": wall,
        "floor_s": floor,
        "floor_ratio": wall / floor if floor else 0.0,
        "calls": calls,
        "throttles": throttles,
        "throttle_share": throttles / calls if calls else 0.0,
        "max_account_throttles": max(a["throttles"] for a in per_account.values()),
        "rss_peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "cpu_ms_per_deploy": 1000 * worker_cpu / total if total else 0.0,
        "accounts": per_account,
    }


SPECS = {
    "A": AccountsSpec("A 10 accounts x 100", accounts=10, per_account=100),
    "B": AccountsSpec("B 3 replicas, 1 account", accounts=1, per_account=1000, replicas=3),
    "C": AccountsSpec(
        "C 3 replicas + outside client", 1, per_account=1000, replicas=3, outside_share=0.5
    ),
    # Not in the issue: C with redeploys, which register nothing, so the replicas' own
    # UpdateService budget (4/s) plus the outside client's 2.5/s exceed AWS's 5/s and
    # only the AIMD backoff keeps the throttles down.
    "D": AccountsSpec(
        "D redeploys + outside client",
        1,
        per_account=1000,
        replicas=3,
        outside_share=0.5,
        action="redeploy",
    ),
}


def targets(key: str, f: dict[str, Any]) -> list[tuple[str, bool, str]]:
    """(target, met, measured) for one scenario."""
    settled = ("every deploy settled", f["settled"] == f["deploys"], f"{f['settled']}")
    if key in ("C", "D"):
        share = f["throttle_share"]
        return [settled, ("throttles < 1 % of calls", share < 0.01, f"{100 * share:.3f} %")]
    out = [
        settled,
        ("0 throttles in every account", f["throttles"] == 0, str(f["max_account_throttles"])),
    ]
    if key == "A":
        return [
            *out,
            ("wall <= 1.1 x floor", f["floor_ratio"] <= 1.1, f"{f['floor_ratio']:.3f}"),
            ("peak RSS <= 200 MB", f["rss_peak_mb"] <= 200, f"{f['rss_peak_mb']:.0f} MB"),
            ("CPU <= 3 ms/deploy", f["cpu_ms_per_deploy"] <= 3, f"{f['cpu_ms_per_deploy']:.2f}"),
        ]
    return [*out, ("wall <= 1.15 x floor", f["floor_ratio"] <= 1.15, f"{f['floor_ratio']:.3f}")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.accounts")
    parser.add_argument("--scale", type=float, default=10.0)
    parser.add_argument("--only", default="A,B,C,D")
    parser.add_argument("--json")
    parser.add_argument("--check", action="store_true")
    parser.add_argument("--no-aimd", action="store_true", help="for comparison: no backoff")
    args = parser.parse_args(argv)
    results, missed = {}, 0
    for key in args.only.split(","):
        spec = replace(SPECS[key], scale=args.scale, aimd=not args.no_aimd)
        began = time.monotonic()
        f = run_isolated(spec)
        results[key] = f
        print(f"{spec.name}: {time.monotonic() - began:.0f} s real", flush=True)
        for target, met, measured in targets(key, f):
            missed += not met
            print(f"  {'ok  ' if met else 'MISS'} {target}: {measured}", flush=True)
        wall, floor = f["wall_s"], f["floor_s"]
        print(f"  wall {wall:.0f} s, floor {floor:.0f} s, {f['calls']} ECS calls", flush=True)
    if args.json:
        with open(args.json, "w") as out:
            json.dump(results, out, indent=1, sort_keys=True)
    return 1 if args.check and missed else 0


def run_isolated(spec: AccountsSpec) -> dict[str, Any]:
    """Run a scenario in a fresh process, so peak RSS is its own."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(run, spec).result()


if __name__ == "__main__":
    sys.exit(main())
