"""Answering a hook: only one still awaiting an action, only while the message is ours."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from deployworker.deploy.gates.contract import NoVotes
from deployworker.deploy.gates.decide import Action, Decision
from deployworker.deploy.gates.drive import GateDriver
from deployworker.deploy.gates.runner import Runner
from deployworker.deploy.gates.schedule import Scheduler
from deployworker.errors import RetryableAwsError
from deployworker.rollout.analysis.providers import Providers
from deployworker.rollout.assess import Pause

ARN = "arn:aws:ecs:eu-west-1:123456789012:service-deployment/prod/web/abc"
PAUSE = Pause("hook-1", "POST_TEST_TRAFFIC_SHIFT", None, "ROLLBACK")


class FakeEcs:
    def __init__(self, status: str | None) -> None:
        self.status = status
        self.continued: list[tuple[str, str, str]] = []
        self.fail = 0

    def describe_service_deployments(self, arns: list[str]) -> tuple[list[Any], list[Any]]:
        hooks = [] if self.status is None else [{"hookId": "hook-1", "status": self.status}]
        return [{"serviceDeploymentArn": arns[0], "lifecycleHookDetails": hooks}], []

    def continue_service_deployment(self, arn: str, hook_id: str, action: str) -> None:
        if self.fail:
            self.fail -= 1
            raise RetryableAwsError("ContinueServiceDeployment", "ThrottlingException", "slow")
        self.continued.append((arn, hook_id, action))


def driver(ecs: FakeEcs, later: list[Any]) -> GateDriver:
    runner = Runner(Providers(None, None, None), NoVotes(), Scheduler(lambda step: step()))
    runner.later = lambda seconds, step: later.append(step)  # type: ignore[method-assign]
    woken: list[str] = []
    return GateDriver(ecs, runner, woken.extend)  # type: ignore[arg-type]


def job(lost: str | None = None) -> Any:
    return SimpleNamespace(fields={}, lost=lost, gate=None, gate_reason=None)


@pytest.mark.parametrize(
    ("status", "action", "expected"),
    [
        ("AWAITING_ACTION", Action.CONTINUE, [(ARN, "hook-1", "CONTINUE")]),
        ("AWAITING_ACTION", Action.ROLLBACK, [(ARN, "hook-1", "ROLLBACK")]),
        ("SUCCEEDED", Action.CONTINUE, []),  # answered before a crash: never twice
        ("TIMED_OUT", Action.ROLLBACK, []),
        (None, Action.CONTINUE, []),
    ],
)
def test_only_a_hook_still_awaiting_action_is_answered(
    status: str | None, action: Action, expected: list[tuple[str, str, str]]
) -> None:
    ecs = FakeEcs(status)
    j = job()
    driver(ecs, [])._answer(j, ARN, PAUSE, Decision(action, "x", "gate at X: why"))
    assert ecs.continued == expected
    assert j.gate_reason == ("gate at X: why" if action is Action.ROLLBACK else None)


def test_a_lost_message_answers_nothing() -> None:
    ecs = FakeEcs("AWAITING_ACTION")
    driver(ecs, [])._answer(job("lost"), ARN, PAUSE, Decision(Action.CONTINUE, "passed", ""))
    assert ecs.continued == []


def test_an_aws_error_is_retried_later() -> None:
    ecs = FakeEcs("AWAITING_ACTION")
    ecs.fail = 1
    later: list[Any] = []
    driver(ecs, later)._answer(job(), ARN, PAUSE, Decision(Action.CONTINUE, "passed", ""))
    assert ecs.continued == []
    [retry] = later
    retry()
    assert ecs.continued == [(ARN, "hook-1", "CONTINUE")]


def paused_job() -> Any:
    return SimpleNamespace(
        fields={}, lost=None, gate=None, gate_hook=None, gate_epoch=0, applied=None,
        request=SimpleNamespace(action="deploy"), entry=SimpleNamespace(gates=()),
        held=lambda: None, key=("prod", "web"), base=SimpleNamespace(deploy_id="d-1"),
    )  # fmt: skip


@pytest.mark.parametrize("ended_first", [False, True])
def test_a_pause_is_handed_to_the_pool_once_and_starts_no_gate_after_the_end(
    monkeypatch: pytest.MonkeyPatch, ended_first: bool
) -> None:
    """The watcher's thread only claims a pause; the pool starts its gate, unless the
    deployment ended (or the copy was lost) in between."""
    import deployworker.deploy.gates.drive as drive

    monkeypatch.setattr(drive, "hook_stage", lambda *_: PAUSE.stage)
    monkeypatch.setattr(drive, "gate_at", lambda gates, stage: "the gate")
    monkeypatch.setattr(drive, "log_progress", lambda *_, **__: None)
    later: list[Any] = []
    gates = driver(FakeEcs("AWAITING_ACTION"), later)
    started: list[Any] = []
    gates.runner.start = lambda gate, *_: started.append(gate) or "run"  # type: ignore[method-assign,func-returns-value,assignment]
    j, now = paused_job(), SimpleNamespace(pause=PAUSE)
    gates.progress(j, ARN, now)  # type: ignore[arg-type]
    gates.progress(j, ARN, now)  # type: ignore[arg-type]  # the same pause, reported again
    assert len(later) == 1 and started == []  # nothing ran on the watcher's thread
    if ended_first:
        gates.settled(j)
    later[0]()
    assert started == ([] if ended_first else ["the gate"])
    assert j.gate == (None if ended_first else "run")
