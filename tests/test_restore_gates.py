"""The worker's own rollback of a deploy whose `converged` gate failed is a new service
deployment of the previous revision (UpdateService): it must not be judged by the
deploy's gates, which measure the revision being taken out. When the worker answers
every PAUSE hook of the service, the restore's pause is continued at once: left to its
timeout action ROLLBACK, ECS would undo the restore and put the failed revision back."""

from __future__ import annotations

import time

import pytest

from conftest import World, default_entry, events_queue, metric
from deployworker.local.simulator import Rules
from deployworker.rollout.analysis.measure import Measurement, PrometheusQuery, Query
from gated import HOOK_STAGE, canary, pause_hook, web_service
from test_gate_flow import continued, gates_of, run


class BadOnceVerified:
    """Healthy at the hook; the converged gate finds the errors, and from then on the
    hook's query sees them too (the new revision still serves)."""

    def __init__(self) -> None:
        self.bad = False

    def measure(self, query: Query) -> Measurement:
        assert isinstance(query, PrometheusQuery)
        if query.expr == "converged_errors":
            self.bad = True
        return Measurement(0.5 if self.bad else 0.0, time.time())


@pytest.mark.parametrize("timeout_action", ["CONTINUE", "ROLLBACK"])
def test_the_workers_rollback_after_a_failed_converged_gate_is_not_gated(
    world: World, timeout_action: str
) -> None:
    world.simulator.rules = Rules(converge_seconds=0.6, minute_seconds=1.0)
    before = web_service(world.ecs, canary([pause_hook(HOOK_STAGE, 5, timeout_action)]))
    errors = {"name": "errors", "prometheus": "errors", "max": 0.01, "count": 1}
    late = {"name": "converged-errors", "prometheus": "converged_errors", "max": 0.01, "count": 1}
    gates = [{"at": HOOK_STAGE, "analysis": [errors]}, {"at": "converged", "analysis": [late]}]
    topic, _ = events_queue(world)
    app = world.app(world.allowlist([default_entry(gates=gates)]), events_topic_arn=topic)
    gates_of(app).runner.provider = BadOnceVerified()
    sent = continued(app)
    run(world, app, "restore-gated")
    assert world.describe()["taskDefinition"] == before
    assert metric(app, "deployworker_messages_total", outcome="rolled_back") == 1
    # The deploy's hook continued by its gate; the restore's at once, by no gate.
    assert sent == ["CONTINUE", "CONTINUE"], sent


def test_the_rollback_action_continues_its_pause_when_the_worker_owns_the_hook(
    world: World,
) -> None:
    """`rollback` waits for no gate: its deployment's pause, at a stage the worker gates,
    is continued at once instead of waiting for ECS to undo the rollback."""
    world.simulator.rules = Rules(converge_seconds=0.6, minute_seconds=1.0)
    before = web_service(world.ecs, canary([pause_hook(HOOK_STAGE, 5, "ROLLBACK")]))
    errors = {"name": "errors", "prometheus": "errors", "max": 0.01, "count": 1}
    topic, _ = events_queue(world)
    gates = [{"at": HOOK_STAGE, "analysis": [errors]}]
    app = world.app(world.allowlist([default_entry(gates=gates)]), events_topic_arn=topic)
    gates_of(app).runner.provider = BadOnceVerified()  # healthy: the hook's query only
    sent = continued(app)
    run(world, app, "forward")
    assert world.describe()["taskDefinition"] != before

    world.send({"cluster": "prod", "service": "web", "action": "rollback", "deploy_id": "undo"})
    for job in app.worker.poll(0):
        job.result(timeout=60)
    assert world.describe()["taskDefinition"] == before
    assert metric(app, "deployworker_messages_total", outcome="deployed") == 2
    assert sent == ["CONTINUE", "CONTINUE"], sent  # the deploy's gate, then the rollback's
