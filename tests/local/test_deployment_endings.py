"""How simulated ECS service deployments end other than well: PAUSE hooks answered or
timed out, the circuit breaker (with the stopped tasks and events it leaves), alarms,
and StopServiceDeployment. Through ThreadedMotoServer on 127.0.0.1 with boto3.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from conftest import REPO, HeldClock, World
from deployworker.local.simulator import Rules

BREAKER = {"enable": True, "rollback": True}
FINISHED = ("SUCCESSFUL", "STOPPED", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED")


def update(world: World, image: str) -> tuple[str, str]:
    """UpdateService to a new revision on `image`: (service deployment ARN, task definition)."""
    target = world.register(image)
    service = world.ecs.update_service(cluster="prod", service="web", taskDefinition=target)
    return service["service"]["currentServiceDeployment"], target


def hook(stage: str, **timeout: Any) -> dict[str, Any]:
    """A PAUSE hook at `stage`."""
    found: dict[str, Any] = {"targetType": "PAUSE", "lifecycleStages": [stage]}
    if timeout:
        found["timeoutConfiguration"] = timeout
    return found


def awaiting(deployment: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        h for h in deployment.get("lifecycleHookDetails", []) if h["status"] == "AWAITING_ACTION"
    ]


def error_code(call: Any, **kwargs: Any) -> str:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    code: str = caught.value.response["Error"]["Code"]
    return code


def test_a_pause_hook_waits_until_continued(world: World) -> None:
    world.simulator.rules = Rules(converge_seconds=0.5, minute_seconds=0.05)
    hooks = [hook("POST_SCALE_UP", timeoutInMinutes=600), hook("PRE_PRODUCTION_TRAFFIC_SHIFT")]
    world.service(deploymentConfiguration={"strategy": "BLUE_GREEN", "lifecycleHooks": hooks})
    arn, target = update(world, f"{REPO}:2")
    before = datetime.now().astimezone()
    waiting = world.wait_deployment(arn, lambda d: bool(awaiting(d)))
    assert waiting["lifecycleStage"] == "POST_SCALE_UP"
    [detail] = waiting["lifecycleHookDetails"]
    assert detail["targetType"] == "PAUSE" and detail["timeoutAction"] == "ROLLBACK"
    # 600 simulated minutes of 0.05 s: the hook expires 30 s after it opened.
    assert before < detail["expiresAt"] <= datetime.now().astimezone() + timedelta(seconds=30)
    time.sleep(0.5)
    assert world.service_deployment(arn)["lifecycleStage"] == "POST_SCALE_UP"
    world.ecs.continue_service_deployment(
        serviceDeploymentArn=arn, hookId=detail["hookId"], action="CONTINUE"
    )
    # The hook before production traffic shifts waits with production traffic still at 0,
    # under a new hookId; the list holds the active hooks only (botocore 1.44's
    # DeploymentLifecycleHookDetail: "a deployment lifecycle hook that is active").
    second = world.wait_deployment(
        arn, lambda d: any(h["hookId"] != detail["hookId"] for h in awaiting(d))
    )
    assert [h["status"] for h in second["lifecycleHookDetails"]] == ["AWAITING_ACTION"]
    assert second["lifecycleStage"] == "POST_TEST_TRAFFIC_SHIFT"
    assert second["targetServiceRevision"]["requestedProductionTrafficWeight"] == 0.0
    assert second["targetServiceRevision"]["requestedTestTrafficWeight"] == 100.0
    # Answering a hook twice, an unknown hook or an unknown deployment are errors.
    call = world.ecs.continue_service_deployment
    assert error_code(call, serviceDeploymentArn=arn, hookId=detail["hookId"]) == (
        "InvalidParameterException"
    )
    assert error_code(call, serviceDeploymentArn=arn, hookId="nope") == "InvalidParameterException"
    unknown = arn.rsplit("/", 1)[0] + "/unknown"
    assert error_code(call, serviceDeploymentArn=unknown, hookId="x") == (
        "ServiceDeploymentNotFoundException"
    )
    call(serviceDeploymentArn=arn, hookId=awaiting(second)[0]["hookId"])  # CONTINUE by default
    done = world.wait_deployment(arn, lambda d: d["status"] == "SUCCESSFUL")
    assert "lifecycleHookDetails" not in done or done["lifecycleHookDetails"] == []
    assert world.describe()["taskDefinition"] == target


def test_a_pause_hook_answered_rollback_rolls_back(world: World) -> None:
    world.simulator.rules = Rules(converge_seconds=0.5, minute_seconds=0.05)
    old = world.service(
        deploymentConfiguration={
            "strategy": "CANARY",
            "lifecycleHooks": [hook("POST_TEST_TRAFFIC_SHIFT")],
        }
    )
    arn, _ = update(world, f"{REPO}:2")
    waiting = world.wait_deployment(arn, lambda d: bool(awaiting(d)))
    hook_id = awaiting(waiting)[0]["hookId"]
    world.ecs.continue_service_deployment(
        serviceDeploymentArn=arn, hookId=hook_id, action="ROLLBACK"
    )
    done = world.wait_deployment(arn, lambda d: d["status"] == "ROLLBACK_SUCCESSFUL")
    assert not done.get("lifecycleHookDetails")  # answered: no longer active
    assert hook_id in done["rollback"]["reason"] and "rollback" in done["rollback"]["reason"]
    assert done["rollback"]["serviceRevisionArn"] == done["sourceServiceRevisions"][0]["arn"]
    assert done["targetServiceRevision"]["requestedProductionTrafficWeight"] == 0.0
    assert world.describe()["taskDefinition"] == old


@pytest.mark.parametrize(
    ("action", "status"), [("ROLLBACK", "ROLLBACK_SUCCESSFUL"), ("CONTINUE", "SUCCESSFUL")]
)
def test_a_pause_hook_times_out_into_its_timeout_action(
    world: World, sim_clock: HeldClock, action: str, status: str
) -> None:
    world.simulator.rules = Rules(converge_seconds=0.5, minute_seconds=0.05)
    hooks = [hook("POST_PRODUCTION_TRAFFIC_SHIFT", timeoutInMinutes=4, action=action)]
    old = world.service(deploymentConfiguration={"strategy": "BLUE_GREEN", "lifecycleHooks": hooks})
    arn, target = update(world, f"{REPO}:2")
    # The hook waits 0.2 s of the held clock: seen however slow the machine.
    sim_clock.walk(lambda: awaiting(world.service_deployment(arn)))
    done = sim_clock.walk(lambda: (d := world.service_deployment(arn))["status"] == status and d)
    assert not done.get("lifecycleHookDetails")  # timed out: no longer active
    if action == "ROLLBACK":
        assert "timed out" in done["rollback"]["reason"]
        assert world.describe()["taskDefinition"] == old
    else:
        assert world.describe()["taskDefinition"] == target


def test_the_circuit_breaker_rolls_back_and_leaves_stopped_tasks_and_events(
    world: World, sim_clock: HeldClock
) -> None:
    old = world.service(deploymentConfiguration={"deploymentCircuitBreaker": BREAKER})
    arn, failing = update(world, f"{REPO}:2-fail")
    seen = set()

    def rolled_back() -> dict[str, Any] | None:
        found = world.service_deployment(arn)
        if found["status"] == "ROLLBACK_SUCCESSFUL":
            return found
        seen.add(found["status"])
        return None

    found = sim_clock.walk(rolled_back)
    assert "ROLLBACK_IN_PROGRESS" in seen
    assert "circuit breaker" in found["rollback"]["reason"]
    assert found["rollback"]["serviceRevisionArn"] == found["sourceServiceRevisions"][0]["arn"]
    assert found["rollback"]["startedAt"] >= found["createdAt"]
    assert found["deploymentCircuitBreaker"]["status"] == "TRIGGERED"
    service = world.describe()
    assert service["taskDefinition"] == old
    assert service["deployments"][0]["taskDefinition"] == old
    # The tasks that failed stay visible, by service and by family.
    by_service = world.ecs.list_tasks(cluster="prod", serviceName="web", desiredStatus="STOPPED")
    by_family = world.ecs.list_tasks(cluster="prod", family="prod-web", desiredStatus="STOPPED")
    assert len(by_service["taskArns"]) == 2 and set(by_service["taskArns"]) == set(
        by_family["taskArns"]
    )
    assert world.ecs.list_tasks(cluster="prod", serviceName="other")["taskArns"] == []
    tasks = world.ecs.describe_tasks(cluster="prod", tasks=by_service["taskArns"])["tasks"]
    for task in tasks:
        assert task["taskDefinitionArn"] == failing
        assert (task["lastStatus"], task["desiredStatus"]) == ("STOPPED", "STOPPED")
        assert task["stoppedReason"] == "Essential container in task exited"
        assert task["stopCode"] == "EssentialContainerExited"
        assert task["group"] == "service:web"
        assert [(c["name"], c["exitCode"]) for c in task["containers"]] == [("app", 1)]
        assert all(c["reason"] for c in task["containers"])
    events = service["events"]
    assert [e["createdAt"] for e in events] == sorted(
        (e["createdAt"] for e in events), reverse=True
    )
    messages = [e["message"] for e in events]
    assert "(service web) deployment failed: tasks failed to start." in messages
    assert sum(m.startswith("(service web) has started 1 tasks: (task ") for m in messages) == 2


def test_a_failure_without_rollback_stops_the_deployment(world: World) -> None:
    world.service(
        deploymentConfiguration={"deploymentCircuitBreaker": {"enable": True, "rollback": False}}
    )
    arn, failing = update(world, f"{REPO}:2-fail")
    done = world.wait_deployment(arn, lambda d: d["status"] == "STOPPED")
    assert "circuit breaker" in done["statusReason"] and "rollback" not in done
    assert world.describe()["taskDefinition"] == failing
    assert world.describe()["deployments"][0]["rolloutState"] == "FAILED"


@pytest.mark.parametrize("strategy", ["BLUE_GREEN", "ROLLING"])
def test_an_alarm_during_the_bake_rolls_back(
    world: World, sim_clock: HeldClock, strategy: str
) -> None:
    world.simulator.rules = Rules(converge_seconds=0.5, minute_seconds=0.05)
    alarms = {"alarmNames": ["web-5xx", "web-latency"], "enable": True, "rollback": True}
    configuration = {"strategy": strategy, "bakeTimeInMinutes": 4, "alarms": alarms}
    old = world.service(deploymentConfiguration=configuration)
    arn, _ = update(world, f"{REPO}:2-alarm")
    stages = set()

    def rolled_back() -> dict[str, Any] | None:
        found = world.service_deployment(arn)
        if found["status"] == "ROLLBACK_SUCCESSFUL":
            return found
        stages.add(found.get("lifecycleStage"))
        return None

    found = sim_clock.walk(rolled_back)
    assert ("BAKE_TIME" in stages) == (strategy != "ROLLING")
    assert "web-5xx" in found["rollback"]["reason"]
    assert found["alarms"]["status"] == "TRIGGERED"
    assert found["alarms"]["triggeredAlarmNames"] == ["web-5xx"]
    assert found["alarms"]["alarmNames"] == ["web-5xx", "web-latency"]
    assert world.describe()["taskDefinition"] == old
    # Without alarms configured, the same image completes.
    world.ecs.update_service(
        cluster="prod",
        service="web",
        deploymentConfiguration={"alarms": {**alarms, "enable": False}},
    )
    arn, _ = update(world, f"{REPO}:3-alarm")
    ended = sim_clock.walk(lambda: world.service_deployment(arn)["status"] in FINISHED and arn)
    assert world.service_deployment(ended)["status"] == "SUCCESSFUL"


def test_stop_rolls_back_the_same_deployment(world: World) -> None:
    # A real minute per simulated minute: the bake would outlast the test.
    world.simulator.rules = Rules(converge_seconds=0.5, minute_seconds=60)
    old = world.service(deploymentConfiguration={"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 30})
    initial = world.describe()["currentServiceDeployment"]
    arn, _ = update(world, f"{REPO}:2")
    world.wait_deployment(arn, lambda d: d.get("lifecycleStage") == "BAKE_TIME")
    stopped = world.ecs.stop_service_deployment(serviceDeploymentArn=arn, stopType="ROLLBACK")
    assert stopped["serviceDeploymentArn"] == arn
    assert world.service_deployment(arn)["status"] in ("ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS")
    done = world.wait_deployment(arn, lambda d: d["status"] == "ROLLBACK_SUCCESSFUL")
    assert "requested" in done["rollback"]["reason"]
    assert world.describe()["taskDefinition"] == old
    assert world.describe()["currentServiceDeployment"] == arn
    listed = world.ecs.list_service_deployments(cluster="prod", service="web")["serviceDeployments"]
    assert [d["serviceDeploymentArn"] for d in listed] == [initial, arn]
    # Finished deployments cannot be stopped; unknown ones are not found.
    stop = world.ecs.stop_service_deployment
    assert error_code(stop, serviceDeploymentArn=arn) == "ConflictException"
    assert error_code(stop, serviceDeploymentArn=initial) == "ConflictException"
    unknown = arn.rsplit("/", 1)[0] + "/unknown"
    assert error_code(stop, serviceDeploymentArn=unknown) == "ServiceDeploymentNotFoundException"
