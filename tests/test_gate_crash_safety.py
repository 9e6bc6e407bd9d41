"""A worker SIGKILLed during a gate: the redelivered message resumes the same hook's gate
and the hook is answered exactly once (ContinueServiceDeployment counted at the server)."""

from __future__ import annotations

import signal
from typing import Any

import pytest
from moto.ecs.responses import EC2ContainerServiceResponse

from conftest import REPO, World, default_entry, deploy
from deployworker.local.simulator import Rules
from gated import canary_with_pause
from workers import WorkerProcess, stop_all, wait_until

STAGE = "POST_TEST_TRAFFIC_SHIFT"
MANAGERS = "arn:aws:iam::123456789012:role/release-managers"


@pytest.fixture
def answers(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Every ContinueServiceDeployment the emulated ECS receives: (hookId, action)."""
    seen: list[tuple[str, str]] = []
    original = EC2ContainerServiceResponse.continue_service_deployment

    def counting(self: Any) -> Any:
        seen.append((str(self._get_param("hookId")), str(self._get_param("action"))))
        return original(self)

    monkeypatch.setattr(EC2ContainerServiceResponse, "continue_service_deployment", counting)
    return seen


@pytest.mark.parametrize("step", ["gate_running", "gate_answered"])
def test_sigkill_during_a_gate_then_redelivery_answers_the_hook_once(
    world: World, answers: list[tuple[str, str]], step: str
) -> None:
    world.simulator.rules = Rules(converge_seconds=1.0, minute_seconds=1.0)
    # ECS would roll back after 30 simulated minutes (30 s here): only a worker continues it.
    canary_with_pause(world.ecs, minutes=30)
    # No votes reach these workers: the 2 s window closes and on_timeout continues.
    gate = {
        "at": STAGE,
        "approval": {"approvers": [MANAGERS], "timeout": "2s"},
        "on_timeout": "continue",
    }
    allowlist = world.allowlist([default_entry(gates=[gate])])
    deploy_id = f"gate-{step}"
    world.send(deploy(f"{REPO}:2.0", deploy_id=deploy_id))

    first = WorkerProcess(world, allowlist, "first", failpoint=step)
    try:
        assert first.wait_exit(40) == -signal.SIGKILL
    finally:
        first.kill()
    paused = [e for e in first.events() if e["event"] == "deploy.paused"]
    assert paused
    hook_id = paused[0]["hook_id"]
    second = WorkerProcess(world, allowlist, "second")
    try:
        finished = second.wait_for_event("deploy.finished", timeout=60, deploy_id=deploy_id)
        wait_until(lambda: world.queue_depth() == 0, timeout=10)
    finally:
        stop_all([second])

    assert finished["outcome"] == "deployed"
    assert answers == [(hook_id, "CONTINUE")]  # the same hook, continued exactly once
    assert world.images()["app"] == f"{REPO}:2.0"
    resumed = [e["event"] for e in second.events()]
    assert "deploy.resumed" in resumed
    if step == "gate_running":  # the gate itself ran again, on the same hook
        assert "gate.started" in resumed
        [answered] = [e for e in second.events() if e["event"] == "gate.hook_answered"]
        assert answered["hook_id"] == hook_id
    else:  # answered before the crash: the second worker never starts that gate again
        assert "gate.started" not in resumed
