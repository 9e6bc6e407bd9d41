"""Rollback to a named revision, end to end: the allowlist applies to what it would run,
and revisions deleted or deregistered since do not stop the search for a deploy_id."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import OTHER_REPO, REPO, World, default_entry, deploy, drain, metric
from deployworker.app import App


def reason(world: World) -> str:
    letters = world.dead_letters()
    assert len(letters) == 1
    return str(letters[0]["MessageAttributes"]["deployworker.reason"]["StringValue"])


def rollback(**target: Any) -> dict[str, Any]:
    return {"cluster": "prod", "service": "web", "action": "rollback", **target}


def deployed(world: World, app: App, *images: str) -> list[str]:
    """Deploy each image to app (deploy_id r<n>) one at a time; returns the revisions."""
    for n, image in enumerate(images, start=2):
        world.send(deploy(image, deploy_id=f"r{n}"), dedup=f"d{n}")
        drain(app)
    return world.revisions()


@pytest.mark.parametrize(
    "target", [{"to_deploy_id": "r2"}, {"to_revision": 2}], ids=["to_deploy_id", "to_revision"]
)
def test_a_rollback_target_outside_the_allowlist_is_dead_lettered(
    world: World, target: dict[str, Any]
) -> None:
    world.service()
    # r2 ran an image from a repository the entry allowed then and no longer does.
    deployed(world, world.app(), f"{OTHER_REPO}:9", f"{REPO}:3.0")
    running = world.describe()["taskDefinition"]
    narrowed = world.app(world.allowlist([default_entry(images=[REPO])], name="narrow.yaml"))
    world.send(rollback(**target), dedup="back")
    drain(narrowed)
    assert f"image repository {OTHER_REPO!r} is not allowlisted for prod/web" in reason(world)
    assert world.describe()["taskDefinition"] == running
    assert metric(narrowed, "deployworker_messages_total", outcome="deployed") == 0


def test_a_rollback_target_with_a_container_outside_the_allowlist_is_dead_lettered(
    world: World,
) -> None:
    world.service()
    td = world.ecs.describe_task_definition(taskDefinition="prod-web")["taskDefinition"]
    debug = {**td["containerDefinitions"][0], "name": "debug", "essential": False}
    world.ecs.register_task_definition(
        family="prod-web", containerDefinitions=[*td["containerDefinitions"], debug]
    )
    before = world.describe()["taskDefinition"]
    app = world.app()
    world.send(rollback(to_revision=2))
    drain(app)
    assert "container 'debug' of prod/web is not allowlisted" in reason(world)
    assert world.describe()["taskDefinition"] == before


def test_an_allowed_rollback_target_still_rolls_back(world: World) -> None:
    world.service()
    app = world.app()
    revisions = deployed(world, app, f"{OTHER_REPO}:9", f"{REPO}:3.0")
    world.send(rollback(to_deploy_id="r2"), dedup="back")
    drain(app)
    assert world.describe()["taskDefinition"] == revisions[1]
    assert world.dead_letters() == []


def test_to_deploy_id_skips_a_deleted_revision_between(world: World) -> None:
    world.service()
    app = world.app()
    revisions = deployed(world, app, f"{REPO}:2.0", f"{REPO}:3.0", f"{REPO}:4.0")
    world.ecs.deregister_task_definition(taskDefinition=revisions[2])
    world.ecs.delete_task_definitions(taskDefinitions=[revisions[2]])
    world.send(rollback(to_deploy_id="r2"), dedup="back")
    drain(app)
    assert world.dead_letters() == []
    assert world.describe()["taskDefinition"] == revisions[1]
    assert world.images()["app"] == f"{REPO}:2.0"


def test_to_deploy_id_never_picks_an_inactive_revision(world: World) -> None:
    world.service()
    app = world.app()
    revisions = deployed(world, app, f"{REPO}:2.0", f"{REPO}:3.0", f"{REPO}:4.0")
    running = world.describe()["taskDefinition"]
    world.ecs.deregister_task_definition(taskDefinition=revisions[1])  # r2
    world.ecs.deregister_task_definition(taskDefinition=revisions[2])
    world.ecs.delete_task_definitions(taskDefinitions=[revisions[2]])
    world.send(rollback(to_deploy_id="r2"), dedup="back")
    drain(app)
    got = reason(world)
    assert "no ACTIVE revision of prod-web" in got and "carries deploy_id 'r2'" in got
    assert "skipped revisions 3 (deleted), 2 (inactive)" in got
    assert world.describe()["taskDefinition"] == running
