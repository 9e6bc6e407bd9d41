"""Answering a hook: only one still awaiting an action, only while the message is ours."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from deployworker.aws.held import before_write
from deployworker.deploy.approvals.ballot import WINDOW_TAG
from deployworker.deploy.gates.contract import NoVotes
from deployworker.deploy.gates.decide import Action, Decision
from deployworker.deploy.gates.drive import GateDriver
from deployworker.deploy.gates.runner import Runner
from deployworker.deploy.gates.schedule import Scheduler
from deployworker.errors import CopyLost, RetryableAwsError
from deployworker.outcome import Outcome, Result
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
    j = SimpleNamespace(fields={}, lost=lost, gate=None, gate_reason=None, gate_hook="hook-1")
    j.held = lambda: held_check(j)
    return j


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


def test_a_late_retry_leaves_the_next_pauses_gate_to_be_settled() -> None:
    """A CONTINUE retried after the next hook was claimed (the first attempt did land)
    must not clear that hook's gate: `settled` could then never cancel it."""
    ecs = FakeEcs("AWAITING_ACTION")
    ecs.fail = 1
    later: list[Any] = []
    gates, j = driver(ecs, later), job()
    gates._answer(j, ARN, PAUSE, Decision(Action.CONTINUE, "passed", ""))
    ecs.status = "SUCCEEDED"
    j.gate_hook, j.gate = "hook-2", "the next hook's gate"
    later[0]()
    assert j.gate == "the next hook's gate"


def paused_job() -> Any:
    return SimpleNamespace(
        fields={}, lost=None, gate=None, gate_hook=None, gate_epoch=0, applied=None,
        request=SimpleNamespace(action="deploy"), entry=SimpleNamespace(gates=()),
        held=lambda: None, key=("prod", "web"), base=SimpleNamespace(deploy_id="d-1", deployment=ARN),
        opening=threading.Lock(),
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


class TaggingEcs(FakeEcs):
    """Records each window the driver tags, in the order the writes land."""

    def __init__(self) -> None:
        super().__init__("AWAITING_ACTION")
        self.windows: list[int] = []

    def tag_resource(self, arn: str, tags: dict[str, str]) -> None:
        if WINDOW_TAG in tags:
            self.windows.append(int(tags[WINDOW_TAG]))


def approval_job() -> Any:
    j = paused_job()
    j.applied = SimpleNamespace(target="arn:aws:ecs:eu-west-1:1:task-definition/web:7")
    j.applied.configuration = None
    return j


def pause_at(hook_id: str, began: float) -> Any:
    updated = datetime.fromtimestamp(began, UTC)
    return SimpleNamespace(pause=Pause(hook_id, "POST_TEST_TRAFFIC_SHIFT", None, None, updated))


def voting_driver(monkeypatch: pytest.MonkeyPatch, ecs: TaggingEcs, later: list[Any]) -> Any:
    import deployworker.deploy.gates.drive as drive

    gate = SimpleNamespace(approval="a vote is needed")
    monkeypatch.setattr(drive, "hook_stage", lambda *_: "POST_TEST_TRAFFIC_SHIFT")
    monkeypatch.setattr(drive, "gate_at", lambda gates, stage: gate)
    monkeypatch.setattr(drive, "log_progress", lambda *_, **__: None)
    gates = driver(ecs, later)
    started: list[float | None] = []

    def start(gate: Any, subject: Any, fields: Any, end: Any, window: float | None = None) -> Any:
        started.append(window)
        return "run"

    gates.runner.start = start  # type: ignore[method-assign,assignment]
    return gates, started


def test_a_pause_handled_after_its_deployment_ended_tags_no_window(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The receiver refuses a person's second vote in the newest window it finds tagged:
    a pause claimed before the deployment ended must not tag its (older) window after
    the `converged` gate tagged its own, or a vote cast for the hook would make that
    person's vote on the converged gate a duplicate."""
    ecs, later = TaggingEcs(), list[Any]()
    gates, started = voting_driver(monkeypatch, ecs, later)
    j, hook_began = approval_job(), float(int(time.time()) - 600)
    gates.progress(j, ARN, pause_at("hook-1", hook_began))
    gates.settled(j)  # the hook was answered elsewhere and the deployment converged
    gates.verify(j, Result(Outcome.DEPLOYED, ""), lambda _: None, lambda *_: None)
    converged_window = ecs.windows[-1]
    later[0]()  # the pool gets to the pause only now
    assert ecs.windows == [converged_window]
    assert len(started) == 1  # the converged gate only


def test_a_pause_overtaken_by_the_next_one_starts_no_gate_and_tags_no_window(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two pauses of one deployment claimed before the pool handled the first (it was
    answered elsewhere, then the next LINEAR step paused): only the newer one is gated,
    and the window tag never goes back to the older one's."""
    ecs, later = TaggingEcs(), list[Any]()
    gates, started = voting_driver(monkeypatch, ecs, later)
    j, first = approval_job(), float(int(time.time()) - 600)
    gates.progress(j, ARN, pause_at("hook-1", first))
    gates.progress(j, ARN, pause_at("hook-2", first + 300))
    later[1]()
    later[0]()
    assert ecs.windows == [int(first + 300)]
    assert started == [first + 300]


class PacedEcs(FakeEcs):
    """ContinueServiceDeployment as `Caller.once` makes it: the copy is lost while the
    call waits for its rate-limit token, then the held check runs, then the call."""

    def __init__(self, j: Any) -> None:
        super().__init__("AWAITING_ACTION")
        self.job = j

    def continue_service_deployment(self, arn: str, hook_id: str, action: str) -> None:
        self.job.lost = "heartbeat failed while the call waited for its token"
        before_write("ecs", "ContinueServiceDeployment")
        super().continue_service_deployment(arn, hook_id, action)


def test_a_copy_lost_while_the_answer_waits_for_its_token_answers_nothing() -> None:
    """Every ECS write checks that its copy is still held, after its rate-limit wait
    (`aws.held`): the gate's answer too, though it runs on a gate's pool thread."""
    j = job()
    ecs = PacedEcs(j)
    driver(ecs, [])._answer(j, ARN, PAUSE, Decision(Action.CONTINUE, "passed", ""))
    assert ecs.continued == []


def held_check(j: Any) -> None:
    if j.lost is not None:
        raise CopyLost(j.lost)
