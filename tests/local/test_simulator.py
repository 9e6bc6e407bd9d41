"""The rollout simulator itself: it must behave like ECS where the worker looks."""

from __future__ import annotations

import time

from conftest import REPO, World
from deployworker.local.simulator import Rules


def wait_for(world: World, predicate: object, limit: float = 10) -> dict[str, object]:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        service = world.describe()
        if predicate(service):  # type: ignore[operator]
            return service
        time.sleep(0.1)
    raise AssertionError("simulated rollout did not reach the state")


def new_revision(world: World, image: str) -> str:
    td = world.ecs.describe_task_definition(taskDefinition="prod-web")["taskDefinition"]
    arn: str = world.ecs.register_task_definition(
        family="prod-web", containerDefinitions=[{**td["containerDefinitions"][0], "image": image}]
    )["taskDefinition"]["taskDefinitionArn"]
    return arn


def test_update_starts_a_primary_deployment_that_completes(world: World) -> None:
    old = world.service()
    target = new_revision(world, f"{REPO}:2")
    first = world.describe()["deployments"][0]["id"]
    deployments = world.ecs.update_service(cluster="prod", service="web", taskDefinition=target)[
        "service"
    ]["deployments"]
    assert [(d["status"], d["taskDefinition"], d["rolloutState"]) for d in deployments] == [
        ("PRIMARY", target, "IN_PROGRESS"),
        ("ACTIVE", old, "IN_PROGRESS"),
    ]
    assert deployments[0]["id"] != first
    done = wait_for(world, lambda s: s["deployments"][0]["rolloutState"] == "COMPLETED")
    assert len(done["deployments"]) == 1  # type: ignore[arg-type]
    assert done["deployments"][0]["runningCount"] == 2  # type: ignore[index]


def test_failing_image_fails_and_circuit_breaker_rolls_back(world: World) -> None:
    old = world.service(circuit_breaker=True)
    target = new_revision(world, f"{REPO}:2-fail")
    world.ecs.update_service(cluster="prod", service="web", taskDefinition=target)
    failed = wait_for(
        world, lambda s: any(d.get("rolloutState") == "FAILED" for d in s["deployments"])
    )
    primary = failed["deployments"][0]  # type: ignore[index]
    assert primary["taskDefinition"] == old and primary["status"] == "PRIMARY"
    assert failed["taskDefinition"] == old
    wait_for(
        world,
        lambda s: s["deployments"][0]["rolloutState"] == "COMPLETED" and s["taskDefinition"] == old,
    )


def test_failing_image_without_breaker_stays_failed(world: World) -> None:
    world.service()
    target = new_revision(world, f"{REPO}:2-fail")
    world.ecs.update_service(cluster="prod", service="web", taskDefinition=target)
    failed = wait_for(world, lambda s: s["deployments"][0].get("rolloutState") == "FAILED")
    assert failed["taskDefinition"] == target


def test_hanging_image_never_converges_and_no_change_starts_nothing(world: World) -> None:
    world.simulator.rules = Rules(converge_seconds=0.2)
    world.service()
    target = new_revision(world, f"{REPO}:2-hang")
    world.ecs.update_service(cluster="prod", service="web", taskDefinition=target)
    time.sleep(1)
    assert world.describe()["deployments"][0]["rolloutState"] == "IN_PROGRESS"
    # An update that changes nothing starts no deployment; a forced one does.
    before = len(world.describe()["deployments"])
    world.ecs.update_service(cluster="prod", service="web", desiredCount=2)
    assert len(world.describe()["deployments"]) == before
    world.ecs.update_service(cluster="prod", service="web", forceNewDeployment=True)
    assert len(world.describe()["deployments"]) == before + 1
