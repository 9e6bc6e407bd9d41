"""The simulator's PAUSE hooks and their events, checked against what AWS documents.

- botocore 1.44, DeploymentLifecycleHook.lifecycleStages: "PAUSE hooks cannot be
  configured at TEST_TRAFFIC_SHIFT or PRODUCTION_TRAFFIC_SHIFT stages. These stages are
  only valid for AWS_LAMBDA hooks."; PRE_PRODUCTION_TRAFFIC_SHIFT: "For linear and
  canary deployments, this stage is invoked before every traffic shift step."
- botocore 1.44, DeploymentLifecycleHookDetail: "The details of a deployment lifecycle
  hook that is active during a service deployment" (so `lifecycleHookDetails` holds
  only the active hooks).
- The ECS guide, "Pause hooks for Amazon ECS service deployments": "Amazon ECS generates
  a unique hookId for the pause hook" and "emits an EventBridge event with the
  detail-type ECS Hook State Change and the event name HOOK_AWAITING_ACTION".
- The ECS guide, "Amazon ECS service deployment state change events":
  SERVICE_DEPLOYMENT_FAILED "is sent for services with deployment circuit breaker logic
  turned on", whether or not the breaker rolls back.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from conftest import REGION, REPO, World
from deployworker.local.seed import ACCOUNT_ID, create_events_queue
from deployworker.local.simulator import Rules

SERVICE_ARN = f"arn:aws:ecs:{REGION}:{ACCOUNT_ID}:service/prod/web"


def pause(stage: str, minutes: int = 600) -> dict[str, Any]:
    timeout = {"timeoutInMinutes": minutes, "action": "ROLLBACK"}
    return {"targetType": "PAUSE", "lifecycleStages": [stage], "timeoutConfiguration": timeout}


def update(world: World, image: str) -> str:
    world.ecs.update_service(cluster="prod", service="web", taskDefinition=world.register(image))
    arn: str = world.describe()["currentServiceDeployment"]
    return arn


def waiting(deployment: dict[str, Any]) -> list[str]:
    details = deployment.get("lifecycleHookDetails") or []
    return [h["hookId"] for h in details if h["status"] == "AWAITING_ACTION"]


def received(world: World, url: str, count: int, limit: float = 20) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    deadline = time.monotonic() + limit
    while len(found) < count and time.monotonic() < deadline:
        got = world.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        found += [json.loads(m["Body"]) for m in got.get("Messages", [])]
    return found


@pytest.mark.parametrize("stage", ["TEST_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT"])
def test_ecs_refuses_a_pause_hook_where_only_lambda_hooks_may_run(world: World, stage: str) -> None:
    config = {"strategy": "CANARY", "lifecycleHooks": [pause(stage)]}
    with pytest.raises(ClientError) as created:
        world.service(deploymentConfiguration=config)
    assert created.value.response["Error"]["Code"] == "InvalidParameterException"
    assert stage in created.value.response["Error"]["Message"]
    world.service(name="api", deploymentConfiguration={"strategy": "CANARY"})
    with pytest.raises(ClientError) as updated:
        world.ecs.update_service(cluster="prod", service="api", deploymentConfiguration=config)
    assert updated.value.response["Error"]["Code"] == "InvalidParameterException"
    lambda_hook = {
        "targetType": "AWS_LAMBDA",
        "hookTargetArn": f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:check",
        "roleArn": f"arn:aws:iam::{ACCOUNT_ID}:role/hooks",
        "lifecycleStages": [stage],
    }
    lambda_config = {"strategy": "CANARY", "lifecycleHooks": [lambda_hook]}
    world.ecs.update_service(cluster="prod", service="api", deploymentConfiguration=lambda_config)


def test_a_linear_deploy_pauses_before_every_step_with_a_new_hook_id_each_time(
    world: World,
) -> None:
    world.simulator.rules = Rules(converge_seconds=0.5, minute_seconds=0.01)
    config = {
        "strategy": "LINEAR",
        "bakeTimeInMinutes": 0,
        "linearConfiguration": {"stepPercent": 25.0, "stepBakeTimeInMinutes": 0},
        "lifecycleHooks": [pause("PRE_PRODUCTION_TRAFFIC_SHIFT")],
    }
    world.service(deploymentConfiguration=config)
    url = create_events_queue(world.endpoint, REGION)  # every service of the region
    arn = update(world, f"{REPO}:2")
    seen: list[tuple[str, str, float]] = []  # (hookId, lifecycleStage, production weight)
    deadline = time.monotonic() + 30
    while (found := world.service_deployment(arn))["status"] != "SUCCESSFUL":
        assert time.monotonic() < deadline, found
        ids = waiting(found)
        if ids:
            assert len(found["lifecycleHookDetails"]) == 1  # active hooks only
            weight = found["targetServiceRevision"]["requestedProductionTrafficWeight"]
            seen.append((ids[0], found["lifecycleStage"], weight))
            world.ecs.continue_service_deployment(serviceDeploymentArn=arn, hookId=ids[0])
        time.sleep(0.02)
    # One pause before each of the four 25 % steps; traffic waits at the last step's weight.
    assert [(stage, weight) for _, stage, weight in seen] == [
        ("POST_TEST_TRAFFIC_SHIFT", 0.0),
        ("PRODUCTION_TRAFFIC_SHIFT", 25.0),
        ("PRODUCTION_TRAFFIC_SHIFT", 50.0),
        ("PRODUCTION_TRAFFIC_SHIFT", 75.0),
    ]
    ids = [hook_id for hook_id, _, _ in seen]
    assert len(set(ids)) == 4 and all(i.startswith("ecs-pause-") for i in ids)
    assert not found.get("lifecycleHookDetails")  # answered hooks are no longer active
    # Each pause was told as ECS tells it: ECS Hook State Change, HOOK_AWAITING_ACTION,
    # naming the service in `resources`.
    events = [e for e in received(world, url, 7) if e["detail-type"] == "ECS Hook State Change"]
    assert [e["detail"]["hookId"] for e in events] == ids
    for event in events:
        assert event["source"] == "aws.ecs" and event["resources"] == [SERVICE_ARN]
        assert event["detail"]["eventName"] == "HOOK_AWAITING_ACTION"


def test_a_circuit_breaker_that_stops_without_rollback_sends_failed(world: World) -> None:
    breaker = {"enable": True, "rollback": False}
    world.service(deploymentConfiguration={"deploymentCircuitBreaker": breaker})
    url = create_events_queue(world.endpoint, REGION, ["prod"])
    arn = update(world, f"{REPO}:2-fail")
    world.wait_deployment(arn, lambda d: d["status"] == "STOPPED")
    events = received(world, url, 2)
    assert [e["detail"]["eventName"] for e in events] == [
        "SERVICE_DEPLOYMENT_IN_PROGRESS",
        "SERVICE_DEPLOYMENT_FAILED",
    ]
    assert events[1]["detail"]["eventType"] == "ERROR"
    assert events[1]["resources"] == [SERVICE_ARN]


def test_local_modes_rule_covers_a_service_allowlisted_after_the_start(world: World) -> None:
    # Local mode creates its rule once, at the start: it names no cluster, so a service
    # an allowlist reload adds later (here in a cluster nobody listed then) is covered.
    url = create_events_queue(world.endpoint, REGION)
    world.service(cluster="late", name="api")
    world.ecs.update_service(
        cluster="late", service="api", taskDefinition=world.register(f"{REPO}:2", "late-api")
    )
    events = received(world, url, 2)
    assert [e["detail"]["eventName"] for e in events] == [
        "SERVICE_DEPLOYMENT_IN_PROGRESS",
        "SERVICE_DEPLOYMENT_COMPLETED",
    ]
    assert events[0]["resources"] == [f"arn:aws:ecs:{REGION}:{ACCOUNT_ID}:service/late/api"]
