"""Simulated ECS service deployments: revisions, strategies, stages, traffic weights,
supersession, deployment controllers and the list/describe operations. Everything goes
through ThreadedMotoServer on 127.0.0.1 with boto3; waits poll with a bounded deadline.
Tests that record every stage hold the simulator's clock (`sim_clock`) and move it between
two describes, so a busy machine cannot let a stage pass unseen.
"""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from conftest import REPO, HeldClock, World
from deployworker.local.simulator import Rules

DEPLOYMENT_ARN = r"arn:aws:ecs:eu-west-1:123456789012:service-deployment/prod/web/\w+"
REVISION_ARN = r"arn:aws:ecs:eu-west-1:123456789012:service-revision/prod/web/\d+"
FINISHED = {"SUCCESSFUL", "STOPPED", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED"}


def update(world: World, image: str, **more: Any) -> str:
    """UpdateService to a new revision on `image`; returns the new service deployment ARN."""
    target = world.register(image)
    service = world.ecs.update_service(cluster="prod", service="web", taskDefinition=target, **more)
    arn: str = service["service"]["currentServiceDeployment"]
    return arn


def record(
    world: World, arn: str, clock: HeldClock, limit: float = 30, step: float = 0.02
) -> list[tuple[Any, ...]]:
    """(status, stage, production weight, test weight) each time one changes, to the end.
    After each describe the held clock moves `step` simulated seconds, less than any
    stage of these tests lasts, so each stage is described at least once."""
    seen: list[tuple[Any, ...]] = []
    for _ in range(round(limit / step)):
        found = world.service_deployment(arn)
        target = found["targetServiceRevision"]
        now = (
            found["status"],
            found.get("lifecycleStage"),
            target.get("requestedProductionTrafficWeight"),
            target.get("requestedTestTrafficWeight"),
        )
        if not seen or seen[-1] != now:
            seen.append(now)
        if found["status"] in FINISHED:
            return seen
        clock.advance(step)
    raise AssertionError(f"deployment did not finish: {seen}")


def changes(values: list[Any]) -> list[Any]:
    """`values` without consecutive repeats."""
    return [v for n, v in enumerate(values) if n == 0 or values[n - 1] != v]


def test_create_service_keeps_its_configuration_and_a_successful_first_deployment(
    world: World,
) -> None:
    configuration = {
        "strategy": "LINEAR",
        "bakeTimeInMinutes": 3,
        "linearConfiguration": {"stepPercent": 25.0, "stepBakeTimeInMinutes": 2},
        "canaryConfiguration": {"canaryPercent": 5.0, "canaryBakeTimeInMinutes": 1},
        "lifecycleHooks": [{"targetType": "PAUSE", "lifecycleStages": ["POST_SCALE_UP"]}],
        "deploymentCircuitBreaker": {"enable": True, "rollback": True},
        "alarms": {"alarmNames": ["web-5xx"], "enable": True, "rollback": True},
        "maximumPercent": 150,
        "minimumHealthyPercent": 50,
    }
    td = world.service(deploymentConfiguration=configuration, deploymentController={"type": "ECS"})
    service = world.describe()
    assert service["deploymentConfiguration"] == configuration
    assert service["deploymentController"] == {"type": "ECS"}
    arn = service["currentServiceDeployment"]
    assert re.fullmatch(DEPLOYMENT_ARN, arn)
    first = world.service_deployment(arn)
    assert first["status"] == "SUCCESSFUL"
    assert not first.get("sourceServiceRevisions")
    revision_arn = first["targetServiceRevision"]["arn"]
    assert re.fullmatch(REVISION_ARN, revision_arn)
    revision = world.ecs.describe_service_revisions(serviceRevisionArns=[revision_arn])
    assert revision["failures"] == []
    described = revision["serviceRevisions"][0]
    assert described["taskDefinition"] == td
    assert described["launchType"] == "EC2"
    assert described["containerImages"] == [{"containerName": "app", "image": f"{REPO}:1.0"}]
    assert described["createdAt"] is not None
    # Without a configuration, ECS's defaults show.
    world.service(name="api")
    defaults = world.describe(name="api")["deploymentConfiguration"]
    assert defaults["strategy"] == "ROLLING" and defaults["maximumPercent"] == 200


def test_rolling_update_walks_its_stages_without_traffic_weights(
    world: World, sim_clock: HeldClock
) -> None:
    world.simulator.rules = Rules(converge_seconds=2.5)
    world.service()
    initial = world.describe()["currentServiceDeployment"]
    target = world.register(f"{REPO}:2")
    service = world.ecs.update_service(cluster="prod", service="web", taskDefinition=target)
    arn = service["service"]["currentServiceDeployment"]
    assert arn != initial and re.fullmatch(DEPLOYMENT_ARN, arn)
    assert world.describe()["currentServiceDeployment"] == arn
    seen = record(world, arn, sim_clock)
    assert [s[:2] for s in seen] == [
        ("PENDING", None),
        ("IN_PROGRESS", "RECONCILE_SERVICE"),
        ("IN_PROGRESS", "SCALE_UP"),
        ("IN_PROGRESS", "CLEAN_UP"),
        ("SUCCESSFUL", "CLEAN_UP"),
    ]
    assert {s[2:] for s in seen} == {(None, None)}
    done = world.service_deployment(arn)
    source = world.service_deployment(initial)["targetServiceRevision"]["arn"]
    assert [s["arn"] for s in done["sourceServiceRevisions"]] == [source]
    assert done["targetServiceRevision"]["runningTaskCount"] == 2
    assert done["startedAt"] >= done["createdAt"] and done["finishedAt"] >= done["startedAt"]
    revision = world.ecs.describe_service_revisions(
        serviceRevisionArns=[done["targetServiceRevision"]["arn"]]
    )["serviceRevisions"][0]
    assert revision["taskDefinition"] == target
    legacy = world.describe()["deployments"]
    assert [(d["status"], d["rolloutState"]) for d in legacy] == [("PRIMARY", "COMPLETED")]


def test_blue_green_shifts_test_then_all_production_traffic_then_bakes(
    world: World, sim_clock: HeldClock
) -> None:
    world.simulator.rules = Rules(converge_seconds=2.5, minute_seconds=0.05)
    world.service(deploymentConfiguration={"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 5})
    arn = update(world, f"{REPO}:2")
    seen = record(world, arn, sim_clock)
    assert seen == [
        ("PENDING", None, 0.0, 0.0),
        ("IN_PROGRESS", "RECONCILE_SERVICE", 0.0, 0.0),
        ("IN_PROGRESS", "PRE_SCALE_UP", 0.0, 0.0),
        ("IN_PROGRESS", "SCALE_UP", 0.0, 0.0),
        ("IN_PROGRESS", "POST_SCALE_UP", 0.0, 0.0),
        ("IN_PROGRESS", "TEST_TRAFFIC_SHIFT", 0.0, 100.0),
        ("IN_PROGRESS", "POST_TEST_TRAFFIC_SHIFT", 0.0, 100.0),
        ("IN_PROGRESS", "PRODUCTION_TRAFFIC_SHIFT", 100.0, 100.0),
        ("IN_PROGRESS", "POST_PRODUCTION_TRAFFIC_SHIFT", 100.0, 100.0),
        ("IN_PROGRESS", "BAKE_TIME", 100.0, 100.0),
        ("IN_PROGRESS", "CLEAN_UP", 100.0, 100.0),
        ("SUCCESSFUL", "CLEAN_UP", 100.0, 100.0),
    ]
    source = world.service_deployment(arn)["sourceServiceRevisions"][0]
    assert source["requestedProductionTrafficWeight"] == 0.0
    assert source["requestedTaskCount"] == 0  # cleaned up


@pytest.mark.parametrize(
    ("linear", "weights"),
    [
        ({}, [0.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0, 100.0]),
        ({"stepPercent": 30.0, "stepBakeTimeInMinutes": 4}, [0.0, 30.0, 60.0, 90.0, 100.0]),
    ],
)
def test_linear_shifts_production_traffic_in_steps(
    world: World, sim_clock: HeldClock, linear: dict[str, Any], weights: list[float]
) -> None:
    world.simulator.rules = Rules(converge_seconds=1.0, minute_seconds=0.05)
    configuration: dict[str, Any] = {"strategy": "LINEAR", "bakeTimeInMinutes": 1}
    if linear:
        configuration["linearConfiguration"] = linear
    world.service(deploymentConfiguration=configuration)
    arn = update(world, f"{REPO}:2")
    seen = record(world, arn, sim_clock)
    assert changes([s[2] for s in seen]) == weights
    shifting = [s[2] for s in seen if s[1] == "PRODUCTION_TRAFFIC_SHIFT"]
    assert shifting[0] == weights[1] and seen[-1][0] == "SUCCESSFUL"


@pytest.mark.parametrize(
    ("canary", "weights"),
    [
        ({}, [0.0, 5.0, 100.0]),
        ({"canaryPercent": 20.0, "canaryBakeTimeInMinutes": 4}, [0.0, 20.0, 100.0]),
    ],
)
def test_canary_shifts_a_canary_then_the_rest(
    world: World, sim_clock: HeldClock, canary: dict[str, Any], weights: list[float]
) -> None:
    world.simulator.rules = Rules(converge_seconds=1.0, minute_seconds=0.05)
    configuration: dict[str, Any] = {"strategy": "CANARY"}
    if canary:
        configuration["canaryConfiguration"] = canary
    world.service(deploymentConfiguration=configuration)
    arn = update(world, f"{REPO}:2")
    seen = record(world, arn, sim_clock)
    assert changes([s[2] for s in seen]) == weights
    assert seen[-1][0] == "SUCCESSFUL"


def test_bakes_last_simulated_minutes(world: World) -> None:
    # One simulated minute is a real minute here: the bake of one minute outlasts the test.
    world.simulator.rules = Rules(converge_seconds=0.5, minute_seconds=60)
    world.service(deploymentConfiguration={"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 1})
    arn = update(world, f"{REPO}:2")
    world.wait_deployment(arn, lambda d: d.get("lifecycleStage") == "BAKE_TIME")
    time.sleep(1.0)
    assert world.service_deployment(arn)["lifecycleStage"] == "BAKE_TIME"
    # A shorter minute applies to deployments started afterwards; the new one stops the old.
    world.simulator.rules = Rules(converge_seconds=0.5, minute_seconds=0.01)
    quick = update(world, f"{REPO}:3")
    world.wait_deployment(quick, lambda d: d["status"] == "SUCCESSFUL")
    assert world.service_deployment(arn)["status"] == "STOPPED"


def test_a_newer_deployment_stops_the_older_one(world: World) -> None:
    world.service()
    hanging = update(world, f"{REPO}:2-hang")
    world.wait_deployment(hanging, lambda d: d.get("lifecycleStage") == "SCALE_UP")
    newer = update(world, f"{REPO}:3")
    older = world.service_deployment(hanging)
    assert older["status"] == "STOPPED"
    assert newer in older["statusReason"]
    assert older.get("stoppedAt") is not None
    done = world.wait_deployment(newer, lambda d: d["status"] == "SUCCESSFUL")
    sources = [s["arn"] for s in done["sourceServiceRevisions"]]
    assert older["targetServiceRevision"]["arn"] in sources
    # A forced deployment is a new service deployment too.
    forced = world.ecs.update_service(cluster="prod", service="web", forceNewDeployment=True)
    assert forced["service"]["currentServiceDeployment"] not in (newer, hanging)


@pytest.mark.parametrize(
    ("controller", "message"),
    [
        (
            "CODE_DEPLOY",
            "Unable to update task definition on services with a CODE_DEPLOY deployment "
            "controller. Use AWS CodeDeploy to trigger a new deployment.",
        ),
        ("EXTERNAL", "Unable to update task definition on services with a EXTERNAL deployment"),
    ],
)
def test_code_deploy_and_external_services_refuse_a_task_definition(
    world: World, controller: str, message: str
) -> None:
    world.service(deploymentController={"type": controller})
    target = world.register(f"{REPO}:2")
    with pytest.raises(ClientError) as caught:
        world.ecs.update_service(cluster="prod", service="web", taskDefinition=target)
    assert caught.value.response["Error"]["Code"] == "InvalidParameterException"
    assert caught.value.response["Error"]["Message"].startswith(message)
    service = world.describe()
    assert service["deploymentController"] == {"type": controller}
    assert service["taskDefinition"] != target
    # Other updates still work.
    world.ecs.update_service(cluster="prod", service="web", desiredCount=3)
    assert world.describe()["desiredCount"] == 3


def test_list_service_deployments_oldest_first_with_filters_and_pages(world: World) -> None:
    # ECS's API reference (ListServiceDeployments) documents no order; local mode lists
    # oldest first so that code trusting "newest first" fails here, not on AWS.
    world.service()
    first = world.describe()["currentServiceDeployment"]
    second = update(world, f"{REPO}:2-hang")
    third = update(world, f"{REPO}:3-hang")
    fourth = update(world, f"{REPO}:4-hang")

    def listed(**filters: Any) -> list[str]:
        found = world.ecs.list_service_deployments(cluster="prod", service="web", **filters)
        return [d["serviceDeploymentArn"] for d in found["serviceDeployments"]]

    assert listed() == [first, second, third, fourth]
    assert listed(status=["STOPPED"]) == [second, third]
    assert listed(status=["SUCCESSFUL", "IN_PROGRESS", "PENDING"]) == [first, fourth]
    third_at = world.service_deployment(third)["createdAt"]
    assert listed(createdAt={"after": third_at}) == [third, fourth]
    assert listed(createdAt={"before": third_at}) == [first, second, third]
    page = world.ecs.list_service_deployments(cluster="prod", service="web", maxResults=3)
    assert len(page["serviceDeployments"]) == 3
    rest = world.ecs.list_service_deployments(
        cluster="prod", service="web", maxResults=3, nextToken=page["nextToken"]
    )
    assert [d["serviceDeploymentArn"] for d in rest["serviceDeployments"]] == [fourth]
    assert "nextToken" not in rest
    brief = world.ecs.list_service_deployments(
        service="arn:aws:ecs:eu-west-1:123456789012:service/prod/web", cluster="prod"
    )
    assert (
        brief["serviceDeployments"][0]["targetServiceRevisionArn"]
        == (world.service_deployment(first)["targetServiceRevision"]["arn"])
    )
    with pytest.raises(ClientError) as caught:
        world.ecs.list_service_deployments(cluster="prod", service="nope")
    assert caught.value.response["Error"]["Code"] == "ServiceNotFoundException"


def test_describe_takes_at_most_20_arns_and_reports_missing_ones(world: World) -> None:
    world.service()
    arn = world.describe()["currentServiceDeployment"]
    missing = arn.rsplit("/", 1)[0] + "/missing"
    found = world.ecs.describe_service_deployments(serviceDeploymentArns=[arn, missing])
    assert [d["serviceDeploymentArn"] for d in found["serviceDeployments"]] == [arn]
    assert found["failures"] == [{"arn": missing, "reason": "MISSING"}]
    revision = world.service_deployment(arn)["targetServiceRevision"]["arn"]
    revisions = world.ecs.describe_service_revisions(serviceRevisionArns=[revision, missing])
    assert revisions["failures"] == [{"arn": missing, "reason": "MISSING"}]
    for operation, key in (
        (world.ecs.describe_service_deployments, "serviceDeploymentArns"),
        (world.ecs.describe_service_revisions, "serviceRevisionArns"),
    ):
        assert operation(**{key: [arn] * 20}) is not None
        with pytest.raises(ClientError) as caught:
            operation(**{key: [arn] * 21})
        assert caught.value.response["Error"]["Code"] == "InvalidParameterException"
