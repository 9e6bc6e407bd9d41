"""What a benchmark scenario runs: its `Spec`, and the worker's settings, scaled.

Every real-time quantity of the worker's production defaults is divided by the
scenario's `scale`, so that the fakes' simulated clock and the worker agree.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from bench.fake_sqs import DLQ_URL, EVENTS_URL, QUEUE_URL
from bench.fakeaws import ACCOUNT, REGION
from deployworker.aws._ratelimit import Budget, Limiter
from deployworker.settings import Settings

IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/app"


@dataclass(frozen=True)
class Spec:
    """What to run. Times are simulated seconds; `scale` compresses them all."""

    name: str
    deploys: int
    services: int
    fail_share: float = 0.0
    idle_seconds: float = 0.0
    scale: float = 10.0
    latency: float = 0.040
    converge: tuple[float, float] = (90.0, 150.0)
    supersede: bool = True
    rollback: bool = False  # the services' circuit breakers roll failed rollouts back
    deploy_threads: int = 16
    timeout: float = 900.0  # real seconds before giving up
    # ECS's events (issue 17): the worker reads an events queue the fake ECS feeds.
    events: bool = False
    event_drop: float = 0.0  # share of events lost on the way
    event_duplicate: float = 0.0  # share delivered twice
    event_reorder: bool = False  # the events queue hands them out in random order
    events_gather: float | None = None  # the worker's gathering window; None: its default
    deploy_ledger: bool = False  # write the deploy ledger (to `bench.fake_dynamodb`)


def scaled_settings(spec: Spec) -> Settings:
    """Production defaults, with every real-time quantity divided by `scale`.

    SQS waits and visibility are passed to the fake as they are: it reads them
    on the simulated clock already.
    """
    defaults = Settings()
    f = spec.scale
    entries = [
        {"cluster": "bench", "service": service_name(s), "containers": ["app"], "images": [IMAGE]}
        for s in range(spec.services)
    ]
    allowlist = {"version": 1, "services": entries}
    return Settings(
        queue_url=QUEUE_URL,
        dlq_url=DLQ_URL,
        region=REGION,
        account_id=ACCOUNT,  # the fakes serve no STS
        allowlist_yaml=json.dumps(allowlist),
        supersede=spec.supersede,
        deploy_threads=spec.deploy_threads,
        register_rate=defaults.register_rate * f,
        update_rate=defaults.update_rate * f,
        describe_rate=defaults.describe_rate * f,
        describe_deployments_rate=defaults.describe_deployments_rate * f,
        watch_interval_seconds=defaults.watch_interval_seconds / f,
        heartbeat_seconds=defaults.heartbeat_interval / f,
        deploy_timeout_seconds=max(1, round(defaults.deploy_timeout_seconds / f)),
        aws_retry_max_seconds=defaults.aws_retry_max_seconds / f,
        allowlist_reload_seconds=3600,
        metrics_port=0,
        events_queue_url=EVENTS_URL if spec.events else None,
        events_safety_net_seconds=defaults.events_safety_net_seconds / f,
        events_gather_seconds=(
            defaults.events_gather_seconds if spec.events_gather is None else spec.events_gather
        )
        / f,
    )


def scaled_limiter(scale: float) -> Limiter:
    """The worker's default ECS budgets in real time: rates multiplied by `scale`;
    bursts are counts of calls and stay as they are."""
    budgets = Settings().ecs_budgets()
    return Limiter({op: Budget(b.rate * scale, b.burst) for op, b in budgets.items()})


def messages(spec: Spec) -> list[tuple[str, int, str]]:
    """(service, version, body) in send order. Several deploys of one service are
    interleaved with the others', as CI would publish them; `fail_share` of them,
    spread evenly, carry an image whose rollout fails."""
    out: list[tuple[str, int, str]] = []
    for n in range(spec.deploys):
        name, version = service_name(n % spec.services), n // spec.services + 1
        fails = int(n * spec.fail_share) != int((n + 1) * spec.fail_share)
        tag = f"{name}-v{version}" + ("-fail" if fails else "")
        body = {
            "cluster": "bench",
            "service": name,
            "container": "app",
            "image": f"{IMAGE}:{tag}",
            "deploy_id": f"{name}-{version}",
        }
        out.append((name, version, json.dumps(body)))
    return out


def service_name(index: int) -> str:
    return f"svc{index:04d}"
