"""The ledger's account of a rollout, end to end through moto and the simulator: what the
service ran before, the service deployment, the deploy's deadline, and (for a CANARY)
the production traffic share while it shifts."""

from __future__ import annotations

import threading
import time

from conftest import REPO, World, deploy, drain
from deployworker.app import App
from deployworker.aws.dynamodb import LedgerTable
from deployworker.ledger import read
from deployworker.ledger.record import Entry
from deployworker.ledger.states import State
from deployworker.local.rules import Rules
from deployworker.queue.ledgerwiring import RecordedEvents

# 10 % of production traffic for a 4-minute canary bake (2 s here), then the rest.
CANARY = {
    "strategy": "CANARY",
    "bakeTimeInMinutes": 0,
    "canaryConfiguration": {"canaryPercent": 10.0, "canaryBakeTimeInMinutes": 4},
}


def flushed(app: App) -> None:
    assert isinstance(app.events, RecordedEvents)
    assert app.events.recorder.writer.flush(10)


def current_deployment(world: World) -> str:
    """The service deployment ECS names current: the deploy's, once it converged."""
    arn: str = world.describe()["currentServiceDeployment"]
    assert ":service-deployment/" in arn
    return arn


def in_flight_until(table: LedgerTable, deploy_id: str, done: threading.Event) -> list[Entry]:
    """Every distinct in-flight view of `deploy_id` seen while the deploy runs."""
    seen: list[Entry] = []
    while not done.is_set():
        for entry in read.in_flight(table):
            if entry.deploy_id == deploy_id and entry not in seen:
                seen.append(entry)
        time.sleep(0.1)
    return seen


def test_a_deploy_records_images_before_its_service_deployment_and_deadline(
    world: World,
) -> None:
    world.service()
    table = world.ledger()
    app = world.app(ledger_table=table.table, deploy_timeout_seconds=40)
    world.send(deploy(f"{REPO}:2.0", deploy_id="roll-1"))
    before = time.time()
    drain(app)
    flushed(app)

    entry = read.entry(table, "prod/web", "roll-1")
    assert entry is not None and entry.state == State.DEPLOYED
    assert entry.images_before == {"app": f"{REPO}:1.0"}
    assert entry.images == {"app": f"{REPO}:2.0"}
    assert entry.deployment == current_deployment(world)
    assert entry.timeout == 40.0
    assert entry.deadline_at is not None
    assert before + 40 <= entry.deadline_at <= time.time() + 40
    assert entry.traffic is None  # ROLLING: no traffic weights


def test_a_canary_records_its_traffic_share_while_it_shifts(world: World) -> None:
    world.simulator.rules = Rules(converge_seconds=0.6, minute_seconds=0.5)
    world.service(deploymentConfiguration=CANARY)
    table = world.ledger()
    app = world.app(ledger_table=table.table, watch_interval_seconds=0.1)
    world.send(deploy(f"{REPO}:2.0", deploy_id="canary-1"))
    done = threading.Event()
    views: list[Entry] = []
    watcher = threading.Thread(
        target=lambda: views.extend(in_flight_until(table, "canary-1", done))
    )
    watcher.start()
    try:
        drain(app)
        flushed(app)
    finally:
        done.set()
        watcher.join(10)

    shifting = [v for v in views if v.traffic == 10.0]
    assert shifting, [(v.state, v.traffic) for v in views]
    assert shifting[0].deadline_at is not None and shifting[0].timeout is not None
    assert shifting[0].images_before == {"app": f"{REPO}:1.0"}
    entry = read.entry(table, "prod/web", "canary-1")
    assert entry is not None and entry.state == State.DEPLOYED
    assert entry.traffic in (10.0, 100.0)
    assert entry.deployment == current_deployment(world)
