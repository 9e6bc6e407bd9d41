"""Two PAUSE hooks, told apart by hookId: ECS lists only the *active* hooks in
`lifecycleHookDetails` (botocore 1.44's DeploymentLifecycleHookDetail: "a deployment
lifecycle hook that is active during a service deployment"), so the worker can never
count its way to a hook's stage. With hooks at POST_TEST_TRAFFIC_SHIFT and
PRE_PRODUCTION_TRAFFIC_SHIFT, both wait while the deployment reports
POST_TEST_TRAFFIC_SHIFT; PRE_PRODUCTION_TRAFFIC_SHIFT then waits again before the
CANARY's second step ("For linear and canary deployments, this stage is invoked before
every traffic shift step", the model's lifecycleStages documentation)."""

from __future__ import annotations

import signal
import threading
import time
from typing import Any

import pytest
from moto.ecs.responses import EC2ContainerServiceResponse

from conftest import REGION, REPO, World, default_entry, deploy, metric, wait_for
from deployworker.aws.clients import make_client
from deployworker.deploy.gates.hookid import HOOKS_TAG
from deployworker.local.simulator import Rules
from gated import canary, pause_hook, web_service
from test_gate_flow import ERRORS, Values, continued, gated_app, gates_of, ours, run
from workers import WorkerProcess, stop_all, wait_until

POST_TEST, PRE_PRODUCTION = "POST_TEST_TRAFFIC_SHIFT", "PRE_PRODUCTION_TRAFFIC_SHIFT"
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


def both_hooks(world: World) -> str:
    """prod/web as a 1 % CANARY pausing at POST_TEST and at PRE_PRODUCTION (30 s each,
    then ECS rolls back); returns its task definition."""
    return web_service(
        world.ecs, canary([pause_hook(POST_TEST, minutes=30), pause_hook(PRE_PRODUCTION, 30)])
    )


def awaiting(deployment: dict[str, Any]) -> list[str]:
    details = deployment.get("lifecycleHookDetails") or []
    return [h["hookId"] for h in details if h["status"] == "AWAITING_ACTION"]


def test_a_gate_only_at_pre_production_judges_each_pre_production_hook_not_the_first(
    world: World, answers: list[tuple[str, str]]
) -> None:
    world.simulator.rules = Rules(converge_seconds=0.6, minute_seconds=1.0)
    both_hooks(world)
    app, _ = gated_app(world, {"at": PRE_PRODUCTION, "analysis": [{**ERRORS, "count": 1}]})
    gates_of(app).runner.provider = Values(errors=0.001)
    sent = continued(app)
    first: list[str] = []

    def person() -> None:
        # Someone continues the POST_TEST hook by hand, after the worker saw it wait.
        deadline = time.monotonic() + 30
        while not first and time.monotonic() < deadline:
            with_deployments = world.ecs.list_service_deployments(cluster="prod", service="web")
            if len(with_deployments["serviceDeployments"]) > 1 and (ids := awaiting(ours(world))):
                wait_for(lambda: metric(app, "deployworker_deploys_paused") == 1)
                first.append(ids[0])
                world.ecs.continue_service_deployment(
                    serviceDeploymentArn=ours(world)["serviceDeploymentArn"],
                    hookId=ids[0],
                    action="CONTINUE",
                )
            time.sleep(0.05)

    helper = threading.Thread(target=person, daemon=True)
    helper.start()
    run(world, app, "pre-production-only")
    helper.join(timeout=5)

    assert metric(app, "deployworker_messages_total", outcome="deployed") == 1
    assert world.images()["app"] == f"{REPO}:2.0"
    assert ours(world)["status"] == "SUCCESSFUL"
    # The person answered the POST_TEST hook; the worker's gate answered each of the two
    # PRE_PRODUCTION hooks (before the 1 % step and before the 100 % step), and no other.
    worker_answers = [a for a in answers if a[0] not in first]
    assert sent == ["CONTINUE", "CONTINUE"]
    assert [action for _, action in worker_answers] == ["CONTINUE", "CONTINUE"]
    assert len({hook for hook, _ in worker_answers}) == 2
    assert (
        metric(
            app,
            "deployworker_gate_evaluations_total",
            cluster="prod",
            service="web",
            result="passed",
        )
        == 2
    )


def test_an_analysis_gate_never_continues_the_hook_that_waits_for_an_approval_after_redelivery(
    world: World, answers: list[tuple[str, str]]
) -> None:
    world.simulator.rules = Rules(converge_seconds=1.0, minute_seconds=1.0)
    before = both_hooks(world)
    make_client(
        "cloudwatch", REGION, world.endpoint
    ).put_metric_alarm(  # an alarm that stays OK: the analysis passes
        AlarmName="web-5xx",
        MetricName="5xx",
        Namespace="web",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1.0,
        ComparisonOperator="GreaterThanThreshold",
    )
    analysis = {"name": "alarms", "cloudwatch_alarms": ["web-5xx"], "interval": "1s"}
    approval = {"approvers": [MANAGERS], "timeout": "3s"}  # nobody votes: it rolls back
    gates = [
        {"at": POST_TEST, "analysis": [analysis]},
        {"at": PRE_PRODUCTION, "approval": approval},
    ]
    allowlist = world.allowlist([default_entry(gates=gates)])
    world.send(deploy(f"{REPO}:2.0", deploy_id="two-hooks"))

    # The first copy continues the POST_TEST hook on its analysis, then dies.
    first = WorkerProcess(world, allowlist, "first", failpoint="gate_answered")
    try:
        assert first.wait_exit(60) == -signal.SIGKILL
    finally:
        first.kill()
    assert [action for _, action in answers] == ["CONTINUE"]
    revision = world.describe()["taskDefinition"]

    # The redelivered message finds the PRE_PRODUCTION hook waiting (the only active one,
    # still at lifecycle stage POST_TEST_TRAFFIC_SHIFT): it is the approval gate's.
    second = WorkerProcess(world, allowlist, "second")
    try:
        finished = second.wait_for_event("deploy.finished", timeout=90, deploy_id="two-hooks")
        wait_until(lambda: world.queue_depth() == 0, timeout=10)
    finally:
        stop_all([second])
    assert finished["outcome"] == "rolled_back"
    assert "approval" in finished["reason"]
    assert [action for _, action in answers] == ["CONTINUE", "ROLLBACK"]
    assert answers[0][0] != answers[1][0]
    assert world.describe()["taskDefinition"] == before
    started = [e for e in second.events() if e["event"] == "gate.started"]
    assert [e["stage"] for e in started] == [PRE_PRODUCTION]
    tags = world.ecs.list_tags_for_resource(resourceArn=revision)["tags"]
    assert HOOKS_TAG in {t["key"] for t in tags}  # which hook was POST_TEST's, on record
