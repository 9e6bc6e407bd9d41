"""Shutting a worker down stops its gates: no gate step is left on a timer to run
after the resume pool it would run on is shut down (it used to fire seconds later,
in whatever ran next, as `gate.dispatch_failed`)."""

from __future__ import annotations

from conftest import REPO, World, default_entry, deploy, metric, wait_for
from deployworker.local.simulator import Rules
from gated import HOOK_STAGE, canary_with_pause
from test_gate_flow import gates_of
from test_one_person_one_vote import RELEASE


def test_shutdown_stops_a_gate_that_waits_for_a_vote(world: World) -> None:
    world.simulator.rules = Rules(converge_seconds=0.6, minute_seconds=1.0)
    canary_with_pause(world.ecs, minutes=30)
    approval = {"approvers": [RELEASE], "timeout": "60s"}
    app = world.app(
        world.allowlist([default_entry(gates=[{"at": HOOK_STAGE, "approval": approval}])])
    )
    world.send(deploy(f"{REPO}:2.0", deploy_id="shut-down"))
    app.worker.start()
    wait_for(
        lambda: metric(app, "deployworker_approvals_pending", cluster="prod", service="web") == 1
    )
    scheduler = gates_of(app).runner.scheduler
    # The approval looks at its votes every 5 s and ends at 60 s: both are on the timer.
    wait_for(lambda: scheduler.pending >= 1)
    thread = scheduler._thread
    assert thread is not None and thread.is_alive()

    app.shutdown()

    assert scheduler.pending == 0
    assert not thread.is_alive()
    scheduler.after(0.0, lambda: None)  # a gate step still running when it stopped
    assert scheduler.pending == 0 and scheduler._thread is None
