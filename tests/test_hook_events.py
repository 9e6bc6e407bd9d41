"""A gate starts as soon as its PAUSE hook waits: ECS's `ECS Hook State Change`
HOOK_AWAITING_ACTION event (the ECS guide, "Pause hooks for Amazon ECS service
deployments") reaches the worker through the events rule and queue, and wakes the
watcher, instead of the safety-net describe a minute later."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

from conftest import REGION, REPO, World, default_entry, deploy, metric
from deployworker.deploy.approvals.ballot import WINDOW_TAG
from deployworker.local.seed import create_events_queue
from deployworker.local.simulator import Rules
from deployworker.rollout.analysis.measure import Measurement, Query
from gated import HOOK_STAGE, canary_with_pause
from test_gate_flow import ours

HOOK_MINUTES = 30  # 30 s here: ECS rolls back if nobody answers


class FirstAsked:
    """A healthy provider that notes when the gate first measured, then answers half a
    second later, as a real query takes a while: the hook is answered only then, so the
    test, describing every 50 ms, sees it wait (an instant answer can end the wait
    before the test's first look)."""

    def __init__(self) -> None:
        self.at: list[float] = []

    def measure(self, query: Query) -> Measurement:
        self.at.append(time.time())
        time.sleep(0.5)
        return Measurement(0.0, time.time())


def test_a_gate_at_a_pause_hook_starts_within_two_seconds_of_the_pause(world: World) -> None:
    world.simulator.rules = Rules(converge_seconds=0.6, minute_seconds=1.0)
    canary_with_pause(world.ecs, minutes=HOOK_MINUTES)
    url = create_events_queue(world.endpoint, REGION, ["prod"])
    errors = {"name": "errors", "prometheus": "errors", "max": 0.01, "count": 1}
    allowlist = world.allowlist([default_entry(gates=[{"at": HOOK_STAGE, "analysis": [errors]}])])
    # The safety net describes every 60 s: only the hook's event can start the gate in time.
    app = world.app(
        allowlist,
        events_queue_url=url,
        events_safety_net_seconds=60.0,
        events_wait_seconds=1,
        deploy_timeout_seconds=120,
    )
    assert app.ecs_events is not None
    app.ecs_events.start()
    provider = FirstAsked()
    app.targets.home.gates.runner.provider = provider
    paused: list[Any] = []
    tagged: list[str] = []  # an analysis takes no vote: its start waits for no window tag
    app.ecs._client.meta.events.register(
        "provide-client-params.ecs.TagResource",
        lambda params, **_: tagged.extend(t["key"] for t in params["tags"]),
    )

    world.send(deploy(f"{REPO}:2.0", deploy_id="evented-gate"))
    jobs = app.worker.poll(0)
    deadline = time.monotonic() + 30
    while not paused and time.monotonic() < deadline:
        details = ours(world).get("lifecycleHookDetails") or []
        paused += [h for h in details if h["status"] == "AWAITING_ACTION"]
        time.sleep(0.05)
    for job in jobs:
        job.result(timeout=60)

    assert paused, "the deployment never paused"
    # When the hook began to wait, on ECS's clock: its expiry less its timeout.
    opened = (paused[0]["expiresAt"] - timedelta(seconds=HOOK_MINUTES)).timestamp()
    assert provider.at, "the gate never measured"
    started = provider.at[0] - opened
    print(f"gate started {started:.2f}s after the pause")
    assert started < 2.0
    assert metric(app, "deployworker_messages_total", outcome="deployed") == 1
    assert metric(app, "deployworker_ecs_events_total", result="service") >= 1
    assert WINDOW_TAG not in tagged, tagged


def test_the_watcher_thread_writes_nothing_at_a_pause(world: World) -> None:
    """The tags a pause needs (an approval's window, the hook record) are rate-limited
    writes: made on the watcher's thread, a burst of pauses held up every describe
    behind TagResource's budget. They are made on the pool, and the gate still runs."""
    world.simulator.rules = Rules(converge_seconds=0.6, minute_seconds=1.0)
    canary_with_pause(world.ecs, minutes=HOOK_MINUTES)
    url = create_events_queue(world.endpoint, REGION, ["prod"])
    approval = {"approvers": ["arn:aws:iam::123456789012:role/release-managers"], "timeout": "1s"}
    gate = {"at": HOOK_STAGE, "approval": approval, "on_timeout": "continue"}
    app = world.app(
        world.allowlist([default_entry(gates=[gate])]), events_queue_url=url, events_wait_seconds=1
    )
    assert app.ecs_events is not None
    app.ecs_events.start()
    writes: list[tuple[list[str], str]] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        keys = [t["key"] for t in params.get("tags", [])]
        writes.append((keys, threading.current_thread().name))

    app.ecs._client.meta.events.register("provide-client-params.ecs.TagResource", record)

    world.send(deploy(f"{REPO}:2.0", deploy_id="pool-writes"))
    for job in app.worker.poll(0):
        job.result(timeout=60)

    assert metric(app, "deployworker_messages_total", outcome="deployed") == 1
    windows = [thread for keys, thread in writes if WINDOW_TAG in keys]
    assert windows, f"the approval's window was never tagged: {writes}"
    assert "watcher" not in {thread for _, thread in writes}, writes
