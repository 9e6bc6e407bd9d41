"""One benchmark scenario: the real worker against the in-memory fakes, measured.

`run(spec)` seeds services and messages, builds the worker with `app.build`
(only the boto3 clients and the rate limiter are swapped for scaled ones),
runs it until every message has settled, and returns raw measurements; the
figures are computed in `bench.figures`.
"""

from __future__ import annotations

import os
import random
import resource
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from bench.fake_dynamodb import FakeDynamo
from bench.fake_ecs import FakeEcs
from bench.fake_event_emitter import EventEmitter, Faults
from bench.fake_sqs import FakeSqs
from bench.fakeaws import REGION, Ledger, SimClock
from bench.spec import (
    IMAGE,
    Spec,
    messages,
    scaled_limiter,
    scaled_settings,
    service_name,
)
from deployworker.app import App, build
from deployworker.aws.clients import make_client
from deployworker.observe.logs import configure_logging
from deployworker.outcome import Outcome, Result
from deployworker.settings import Settings

__all__ = ["Spec", "build_world", "run", "scaled_settings"]  # Spec and settings: bench.spec
SAMPLE_EVERY = 0.25  # real seconds


@dataclass
class Raw:
    """What one run measured (simulated seconds unless named otherwise)."""

    spec: dict[str, Any]
    wall: float = 0.0
    outcomes: dict[str, int] = field(default_factory=dict)
    settled: list[dict[str, Any]] = field(default_factory=list)
    calls: list[dict[str, Any]] = field(default_factory=list)
    samples: list[dict[str, Any]] = field(default_factory=list)
    rss_before_mb: float = 0.0
    rss_peak_mb: float = 0.0
    worker_cpu: float = 0.0
    fake_cpu: float = 0.0
    in_order: bool = True
    last_rollout: float = 0.0
    longest_chain: float = 0.0
    settings: dict[str, Any] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)  # `Delivery`s of ECS's events
    ledger: dict[str, Any] = field(default_factory=dict)  # the deploy ledger's calls and units


def _rss_peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class World:
    """A worker, built but not started, and the fakes it runs against."""

    clock: SimClock
    ledger: Ledger
    ecs: FakeEcs
    sqs: FakeSqs
    app: App
    settings: Settings
    sent: list[tuple[str, int, str]]
    emitter: EventEmitter | None = None  # ECS's events, when the scenario has them
    dynamo: FakeDynamo | None = None  # the deploy ledger's table, when the scenario has it


def build_world(spec: Spec) -> World:
    """Seed the fakes with the scenario's services and messages and build the worker."""
    clock = SimClock(spec.scale)
    ledger = Ledger()
    ecs = FakeEcs(clock, ledger, spec.latency, spec.converge)
    sqs = FakeSqs(clock, ledger, spec.latency, random.Random(5) if spec.event_reorder else None)
    for s in range(spec.services):
        ecs.seed_service(
            "bench", service_name(s), f"{IMAGE}:{service_name(s)}-v0", rollback=spec.rollback
        )
    sent = messages(spec)
    for name, version, body in sent:
        sqs.enqueue(body, group=f"bench/{name}", dedup=f"{name}-{version}")
    # The real clients are built (and left unused) so their memory counts, as in production.
    real_clients = [
        make_client(service, REGION, "http://127.0.0.1:9") for service in ("ecs", "sqs", "ecr")
    ]
    settings = scaled_settings(spec)
    fakes: dict[str, Any] = {"ecs": ecs, "sqs": sqs}
    dynamo = FakeDynamo() if spec.deploy_ledger else None
    if dynamo is not None:
        fakes["dynamodb"] = dynamo
        settings = settings.model_copy(update={"ledger_table": "bench-ledger"})
    app = build(
        settings,
        clients=lambda service: fakes.get(service) or real_clients[2],
        limiter=scaled_limiter(spec.scale),
    )
    # The worker logs as in production (JSON lines at info), to nowhere.
    configure_logging("info", open(os.devnull, "w"))  # noqa: SIM115 - lives as long as the process
    faults = Faults(spec.event_drop, spec.event_duplicate, spec.event_reorder)
    emitter = EventEmitter(ecs, sqs, faults) if spec.events else None
    return World(clock, ledger, ecs, sqs, app, settings, sent, emitter, dynamo)


def run(spec: Spec) -> dict[str, Any]:
    """Run one scenario to the end; returns `Raw` as a dict (it crosses processes)."""
    return _run(spec)


def _run(spec: Spec) -> dict[str, Any]:
    world = build_world(spec)
    clock, ledger, ecs, app, settings, sent = (
        world.clock,
        world.ledger,
        world.ecs,
        world.app,
        world.settings,
        world.sent,
    )
    raw = Raw(spec=asdict(spec), settings=settings.model_dump(mode="json", exclude={"signing_key"}))
    lock = threading.Lock()
    done = threading.Event()
    finals = [0]

    def settled(message: Any, result: Result) -> None:
        now = clock.now()
        final = ecs.last_finished("bench", result.service, now) if result.service else None
        with lock:
            raw.settled.append(
                {
                    "at": now,
                    "outcome": result.outcome.value,
                    "service": result.service,
                    "rollout_end": final.finish_at if final else None,
                }
            )
            if result.outcome not in (Outcome.RETRIED, Outcome.RELEASED):
                finals[0] += 1
                if finals[0] >= len(sent):
                    done.set()

    app.settler.add_listener(settled)  # type: ignore[union-attr]
    raw.rss_before_mb = _rss_peak_mb()
    cpu_before = _cpu()
    sampler_cpu = [0.0]
    start = clock.now()

    def sample() -> None:
        begin = time.thread_time()
        while not done.wait(SAMPLE_EVERY):
            with ledger.lock:
                counts = len(ledger.calls)
            raw.samples.append(
                {
                    "at": clock.now() - start,
                    "held": app.worker.in_flight,
                    "watched": app.watcher.watching,
                    "calls": counts,
                }
            )
        sampler_cpu[0] = time.thread_time() - begin

    if world.emitter is not None:
        world.emitter.start()
    app.start(serve_http=False)
    sampler = threading.Thread(target=sample, name="sampler", daemon=True)
    sampler.start()
    if spec.idle_seconds:
        clock.sleep(spec.idle_seconds)
        done.set()
    else:
        done.wait(spec.timeout)
    raw.wall = clock.now() - start
    raw.rss_peak_mb = _rss_peak_mb()
    worker_cpu = _cpu() - cpu_before
    app.shutdown()
    sampler.join()
    raw.fake_cpu = ledger.cpu
    if world.emitter is not None:
        world.emitter.stop()
        raw.fake_cpu += world.emitter.cpu
        raw.events = [asdict(d) for d in world.emitter.log]
        for event in raw.events:
            event["changed"] -= start
            if event["delivered"] is not None:
                event["delivered"] -= start
    if world.dynamo is not None:
        raw.fake_cpu += world.dynamo.cpu
        sizes = world.dynamo.sizes
        raw.ledger = {
            "calls": dict(world.dynamo.calls),
            "units": dict(world.dynamo.units),
            "records": len(world.dynamo.items),
            "mean_item_bytes": sum(sizes) / len(sizes) if sizes else 0,
            "max_item_bytes": max(sizes, default=0),
        }
    raw.worker_cpu = worker_cpu - raw.fake_cpu - sampler_cpu[0]
    raw.calls = [asdict(c) | {"at": c.at - start} for c in ledger.calls]
    raw.outcomes = dict(sorted(Counter(r["outcome"] for r in raw.settled).items()))
    for r in raw.settled:
        r["at"] -= start
        if r["rollout_end"] is not None:
            r["rollout_end"] -= start
    ecs.catch_up()
    # Every deploy of a service applied, each exactly once, in the order sent.
    expected: dict[str, list[int]] = {}
    for name, version, _ in sent:
        expected.setdefault(name, []).append(version)
    raw.in_order = all(
        [_version(image) for image in ecs.image_history("bench", name)] == versions
        for name, versions in expected.items()
    )
    raw.last_rollout, raw.longest_chain = _floors(ecs)
    return asdict(raw)


def _floors(ecs: FakeEcs) -> tuple[float, float]:
    """(rollout time after the last registration, longest chain of one service's rollouts).

    The rollouts that follow the last registration (its own, and a rollback after
    it) cannot start before AWS's limit allows that registration, whoever runs the
    deploys; and a service's deploys run one after another.
    """
    tails: dict[float, float] = {}
    chains = []
    for service in ecs.services.values():
        chains.append(sum(d.finish_at - d.created for d in service.history))
        registered = [i for i, d in enumerate(service.history) if d.registered]
        if registered:
            tail = service.history[registered[-1] :]
            tails[tail[0].created] = sum(d.finish_at - d.created for d in tail)
    return (tails[max(tails)] if tails else 0.0), max(chains, default=0.0)


def _version(image: str) -> int:
    return int(image.rsplit("-v", 1)[-1].split("-", 1)[0])
