"""Hook to gate: how soon a gate starts once its PAUSE hook begins to wait (issue 22).

    python -m bench.hook_gate [--check] [--json PATH] [--deploys 5]

The real stack: moto's server on 127.0.0.1 with the rollout simulator (`LocalAws`, as
`deployworker local` starts it) and the real worker (`app.build`, started as `run`
starts it). Services alternate LINEAR (25 % steps) and CANARY, each with a PAUSE hook
at PRE_PRODUCTION_TRAFFIC_SHIFT, which ECS runs before every traffic step (four pauses
for the LINEAR, two for the CANARY), and a gate there whose analysis takes one
measurement from a stand-in provider that notes when it is asked. A pause's delay runs
from its hook beginning to wait, on ECS's clock (the simulator's record: the hook's
expiresAt less its timeout), to the gate's first measurement. Two runs: ECS's events on
(events queue and rule, a 60 s safety net, so only the HOOK_AWAITING_ACTION event can
start a gate in time), then, for contrast, polling at the default 5 s watch interval.
`--check` exits 1 unless every pause of the events run had its gate start within 2 s.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import threading
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, replace
from typing import Any

from pydantic import SecretStr

from bench.figures import percentile
from bench.hook_world import (
    CLUSTER,
    REGION,
    REPO,
    RULES,
    FirstAsked,
    configuration,
    delays,
    pauses,
    query,
    seed,
)
from deployworker.app import App, build
from deployworker.aws.clients import make_client
from deployworker.local import use_fake_credentials
from deployworker.local.environment import LocalAws
from deployworker.local.seed import create_events_queue, create_queues
from deployworker.observe.logs import configure_logging
from deployworker.outcome import Outcome, Result
from deployworker.settings import Settings

LIMIT_SECONDS = 2.0  # issue 22: a gate starts within 2 s of its pause
# The worker's ECS calls reported per pause (its own deployworker_aws_requests_total).
OPERATIONS = ("DescribeServiceDeployments", "TagResource", "ContinueServiceDeployment")


@dataclass(frozen=True)
class Run:
    name: str
    deploys: int
    events: bool
    timeout: float = 90.0  # real seconds for every deploy to settle


EVENTS = Run("events on", deploys=5, events=True)
POLLING = Run("events off, polling", deploys=2, events=False)


def calls(app: App, operation: str) -> float:
    """The worker's ECS calls of `operation` (every result), from its own metrics."""
    registry = app.metrics.registry
    return sum(
        registry.get_sample_value(
            "deployworker_aws_requests_total",
            {"service": "ecs", "operation": operation, "result": result},
        )
        or 0.0
        for result in ("ok", "throttled", "error")
    )


def run(aws: LocalAws, spec: Run) -> dict[str, Any]:
    """Run `spec` against `aws`, reset first; returns its figures."""
    endpoint = aws.endpoint_url
    urllib.request.urlopen(
        urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")
    ).close()
    aws.simulator.rules = RULES
    allowlist = seed(endpoint, spec.deploys)
    queues = create_queues(endpoint, REGION)
    events_url = create_events_queue(endpoint, REGION, [CLUSTER]) if spec.events else None
    settings = Settings(
        queue_url=queues.queue_url,
        dlq_url=queues.dlq_url,
        region=REGION,
        endpoint_url=endpoint,
        allowlist_yaml=allowlist,
        tag_key=SecretStr(secrets.token_hex(32)),
        metrics_port=0,
        events_queue_url=events_url,
        events_safety_net_seconds=60.0,  # far too late for any gate: only events count
    )
    app = build(settings)
    provider = FirstAsked()
    app.targets.home.gates.runner.provider = provider
    outcomes: Counter[str] = Counter()
    lock, done = threading.Lock(), threading.Event()

    def settled(_: Any, result: Result) -> None:
        if result.outcome not in (Outcome.RETRIED, Outcome.RELEASED):
            with lock:
                outcomes[result.outcome.value] += 1
                if outcomes.total() >= spec.deploys:
                    done.set()

    assert app.settler is not None
    app.settler.add_listener(settled)
    sqs = make_client("sqs", REGION, endpoint)
    began = time.monotonic()
    app.start(serve_http=False)
    for index in range(spec.deploys):
        name = f"svc{index}"
        body = {"cluster": CLUSTER, "service": name, "container": "app", "image": f"{REPO}:2.0"}
        sqs.send_message(
            QueueUrl=queues.queue_url,
            MessageBody=json.dumps({**body, "deploy_id": f"hook-gate-{name}"}),
            MessageGroupId=f"{CLUSTER}/{name}",
        )
    done.wait(spec.timeout)
    wall, opened = time.monotonic() - began, pauses()
    app.shutdown()
    per_pause: list[float | None] = []
    for index in range(spec.deploys):
        hooks = [t for t, _ in opened.get(f"svc{index}", [])]
        per_pause += delays(hooks, provider.asked.get(query(f"svc{index}"), []))
    measured = [d for d in per_pause if d is not None]
    return {
        "run": spec.name,
        "deploys": spec.deploys,
        "strategies": dict(Counter(configuration(i)[0] for i in range(spec.deploys))),
        "outcomes": dict(outcomes),
        "pauses": len(per_pause),
        "pauses_expected": sum(configuration(i)[2] for i in range(spec.deploys)),
        "hooks": dict(Counter(status for hooks in opened.values() for _, status in hooks)),
        "gate_started": len(measured),
        "delay_p50_s": percentile(measured, 50),
        "delay_p99_s": percentile(measured, 99),
        "delay_max_s": max(measured, default=0.0),
        "delays_s": [None if d is None else round(d, 3) for d in per_pause],
        "ecs_calls_per_pause": {
            op: round(calls(app, op) / max(1, len(per_pause)), 2) for op in OPERATIONS
        },
        "wall_s": round(wall, 1),
    }


def met(figures: dict[str, Any]) -> bool:
    """Every deploy deployed, every pause ECS makes seen, and each one's gate started
    within LIMIT_SECONDS."""
    return (
        figures["outcomes"] == {"deployed": figures["deploys"]}
        and figures["pauses"] == figures["pauses_expected"]
        and all(d is not None and d <= LIMIT_SECONDS for d in figures["delays_s"])
    )


def report(f: dict[str, Any]) -> None:
    kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(f["strategies"].items()))
    deploys = f"{f['deploys']} deploy{'s' if f['deploys'] != 1 else ''}"
    print(f"== {f['run']}: {deploys} ({kinds}), {f['wall_s']} s")
    print(f"  outcomes {f['outcomes']}; hooks {f['hooks']}")
    print(
        f"  pause -> gate start: n {f['gate_started']} of {f['pauses']} pauses (ECS makes "
        f"{f['pauses_expected']}), p50 {f['delay_p50_s']:.2f} s, p99 {f['delay_p99_s']:.2f} s, "
        f"max {f['delay_max_s']:.2f} s"
    )
    print(f"  worker's ECS calls per pause: {f['ecs_calls_per_pause']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when the target is missed")
    parser.add_argument("--json", help="write the figures to this file")
    parser.add_argument("--deploys", type=int, default=EVENTS.deploys, help="in the events run")
    args = parser.parse_args(argv)
    use_fake_credentials()
    configure_logging("info", open(os.devnull, "w"))  # noqa: SIM115 - lives as long as the process
    aws = LocalAws(0, RULES)
    aws.start()
    try:
        evented = run(aws, replace(EVENTS, deploys=max(1, args.deploys)))
        polled = run(aws, POLLING)
    finally:
        aws.stop()
    report(evented)
    report(polled)
    ok = met(evented)
    worst = evented["delay_max_s"]
    print(f"{'ok  ' if ok else 'MISS'} every pause's gate started within 2 s: max {worst:.2f} s")
    if args.json:
        with open(args.json, "w") as out:
            json.dump({"events": evented, "polling": polled}, out, indent=2)
            out.write("\n")
    return 0 if ok or not args.check else 1


if __name__ == "__main__":
    sys.exit(main())
