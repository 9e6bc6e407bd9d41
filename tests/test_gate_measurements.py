"""Gate measurements end to end: a value that is not a finite number fails its bounds,
and a provider that hangs cannot hold up another deploy's rollback."""

from __future__ import annotations

import math
import threading
import time

from conftest import REPO, World, default_entry, deploy, metric, wait_for
from deployworker.local.simulator import Rules
from deployworker.rollout.analysis.measure import Measurement, Query
from gated import HOOK_STAGE, canary_with_pause
from test_gate_flow import ERRORS, Values, continued, gated_app, gates_of, ours, run


def test_minus_infinity_fails_a_max_bound_and_the_hook_is_rolled_back(world: World) -> None:
    # A Prometheus ratio over an empty denominator can answer -Inf; `-Inf <= 0.01` holds.
    world.simulator.rules = Rules(converge_seconds=0.6, minute_seconds=1.0)
    before = canary_with_pause(world.ecs, action="CONTINUE")
    app, _ = gated_app(world, {"at": HOOK_STAGE, "analysis": [ERRORS]})
    gates_of(app).runner.provider = Values(errors=-math.inf)
    sent = continued(app)
    run(world, app, "minus-inf")
    assert sent == ["ROLLBACK"]
    assert metric(app, "deployworker_messages_total", outcome="rolled_back") == 1
    assert world.describe()["taskDefinition"] == before
    assert ours(world)["status"] == "ROLLBACK_SUCCESSFUL"


class Hanging:
    """A provider that does not answer until released (a Prometheus that never replies)."""

    def __init__(self) -> None:
        self.released = threading.Event()
        self.calls = 0

    def measure(self, query: Query) -> Measurement:
        self.calls += 1
        self.released.wait(120)
        return Measurement(0.0, time.time())


def test_a_hanging_provider_does_not_hold_up_another_deploys_rollback(world: World) -> None:
    world.simulator.rules = Rules(converge_seconds=0.6, minute_seconds=1.0)
    canary_with_pause(world.ecs, minutes=60)  # prod/web pauses for its gate
    world.service(name="api", circuit_breaker=True)  # prod/api: ECS rolls back a bad image
    # web's gate runs for minutes: the only rollback is api's.
    web = default_entry(gates=[{"at": HOOK_STAGE, "analysis": [{**ERRORS, "count": 200}]}])
    api = default_entry(service="api", containers=["app"], images=[REPO])
    # One resume thread: what a stuck gate step would hold is what the rollback needs.
    app = world.app(world.allowlist([web, api]), resume_threads=1, deploy_timeout_seconds=120)
    runner = gates_of(app).runner
    runner.measures.timeout = 0.5
    hanging = Hanging()
    runner.provider = hanging
    try:
        world.send(deploy(f"{REPO}:2.0", deploy_id="gated"))
        app.worker.start()
        wait_for(lambda: hanging.calls >= 1, 30)  # web's gate measures, and hangs
        started = time.monotonic()
        world.send(deploy(f"{REPO}:2-fail", service="api", deploy_id="bad"), group="prod/api")
        wait_for(lambda: metric(app, "deployworker_messages_total", outcome="rolled_back") == 1, 30)
        took = time.monotonic() - started
        print(f"api's rollback settled {took:.1f}s after it was sent, beside a hung provider")
    finally:
        hanging.released.set()
    assert world.images("prod", "api")["app"] == f"{REPO}:1.0"
    assert metric(app, "deployworker_messages_total", outcome="rolled_back") == 1
