"""Trust boundaries: an attacker with ordinary AWS permissions in the account (register
task definitions, tag resources, send to the queue) cannot steer the worker through
the `deployworker:*` tags, nor roll a service forward through `rollback`.

End to end through ThreadedMotoServer and the simulator; each test is named after the
attack it stops."""

from __future__ import annotations

import json
from typing import Any

import pytest

from conftest import REPO, World, deploy, drain, metric
from deployworker.deploy.plan import DEPLOY_ID_TAG, DEPLOY_KEY_TAG, PREVIOUS_TAG, deploy_key

EVIL = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/miner:1"


def reasons(world: World) -> list[str]:
    return [
        str(m["MessageAttributes"]["deployworker.reason"]["StringValue"])
        for m in world.dead_letters()
    ]


def rollback(**target: Any) -> dict[str, Any]:
    return {"cluster": "prod", "service": "web", "action": "rollback", **target}


def prestage(world: World, deploy_id: str, image: str, previous: str) -> str:
    """What an attacker registers ahead of CI's next deploy: the image CI will ask for,
    plus a sidecar and another environment, tagged with the predicted deploy key."""
    running = world.ecs.describe_task_definition(taskDefinition=previous)["taskDefinition"]
    app = {
        **running["containerDefinitions"][0],
        "image": image,
        "environment": [{"name": "DEBUG_SHELL", "value": "1"}],
    }
    sidecar = {"name": "miner", "image": EVIL, "essential": False, "memory": 64}
    key = deploy_key("prod", "web", deploy_id)
    return str(
        world.ecs.register_task_definition(
            family="prod-web",
            containerDefinitions=[app, sidecar],
            tags=[
                {"key": DEPLOY_KEY_TAG, "value": key},
                {"key": DEPLOY_ID_TAG, "value": deploy_id},
                {"key": PREVIOUS_TAG, "value": previous},
            ],
        )["taskDefinition"]["taskDefinitionArn"]
    )


@pytest.mark.parametrize("tag_key", ["worker-only-tag-key", None], ids=["sealed", "unsealed"])
def test_prestaged_revision_with_predicted_key_is_not_rolled_out(
    world: World, tag_key: str | None
) -> None:
    before = world.service(containers=("app",))
    staged = prestage(world, "build-2", f"{REPO}:2.0", before)
    app = world.app(tag_key=tag_key)
    world.send(deploy(f"{REPO}:2.0", deploy_id="build-2"), dedup="build-2")
    drain(app)
    running = world.describe()["taskDefinition"]
    assert running not in (before, staged)
    definition, _ = world.task_definition(running)
    assert [c["name"] for c in definition["containerDefinitions"]] == ["app"]
    assert world.images() == {"app": f"{REPO}:2.0"}
    assert "DEBUG_SHELL" not in str(definition)
    assert metric(app, "deployworker_messages_total", outcome="deployed") == 1


def test_forged_previous_tag_cannot_roll_back_to_another_family(world: World) -> None:
    world.service(containers=("app",))
    app = world.app()
    world.send(deploy(f"{REPO}:2.0", deploy_id="build-2"), dedup="build-2")
    drain(app)
    running = world.describe()["taskDefinition"]
    evil = world.ecs.register_task_definition(
        family="evil", containerDefinitions=[{"name": "app", "image": EVIL, "memory": 64}]
    )["taskDefinition"]["taskDefinitionArn"]
    world.ecs.tag_resource(resourceArn=running, tags=[{"key": PREVIOUS_TAG, "value": evil}])
    world.send(rollback(), dedup="back")
    drain(app)
    assert world.describe()["taskDefinition"] == running
    assert world.images() == {"app": f"{REPO}:2.0"}
    (reason,) = reasons(world)
    assert "no previous revision" in reason


def test_forged_previous_tag_without_a_tag_key_still_fails_the_family_check(world: World) -> None:
    world.service(containers=("app",))
    app = world.app(tag_key=None)
    world.send(deploy(f"{REPO}:2.0", deploy_id="build-2"), dedup="build-2")
    drain(app)
    running = world.describe()["taskDefinition"]
    evil = world.ecs.register_task_definition(
        family="evil", containerDefinitions=[{"name": "app", "image": EVIL, "memory": 64}]
    )["taskDefinition"]["taskDefinitionArn"]
    world.ecs.tag_resource(resourceArn=running, tags=[{"key": PREVIOUS_TAG, "value": evil}])
    world.send(rollback(), dedup="back")
    drain(app)
    assert world.describe()["taskDefinition"] == running
    (reason,) = reasons(world)
    assert "is not a revision of prod-web" in reason


def test_a_sealed_previous_still_rolls_back(world: World) -> None:
    before = world.service(containers=("app",))
    app = world.app()
    world.send(deploy(f"{REPO}:2.0", deploy_id="build-2"), dedup="build-2")
    drain(app)
    world.send(rollback(), dedup="back")
    drain(app)
    assert world.dead_letters() == []
    assert world.describe()["taskDefinition"] == before


def test_a_rollback_cannot_roll_forward_to_a_revision_that_was_rolled_back(world: World) -> None:
    world.service(containers=("app",))
    app = world.app()
    world.send(deploy(f"{REPO}:2.0", deploy_id="r2"), dedup="r2")
    drain(app)
    good = world.describe()["taskDefinition"]
    world.send(deploy(f"{REPO}:3-fail", deploy_id="r3"), dedup="r3")
    drain(app)
    assert world.describe()["taskDefinition"] == good  # rolled back
    assert metric(app, "deployworker_messages_total", outcome="rolled_back") == 1
    updates = metric(
        app,
        "deployworker_aws_requests_total",
        service="ecs",
        operation="UpdateService",
        result="ok",
    )
    world.send(rollback(to_deploy_id="r3"), dedup="forward")
    drain(app)
    (reason,) = reasons(world)
    assert "never ran successfully" in reason
    assert world.describe()["taskDefinition"] == good
    assert updates == metric(
        app,
        "deployworker_aws_requests_total",
        service="ecs",
        operation="UpdateService",
        result="ok",
    )


def test_a_rollback_cannot_roll_forward_to_a_revision_registered_by_hand(world: World) -> None:
    world.service(containers=("app",))
    app = world.app()
    world.send(deploy(f"{REPO}:2.0", deploy_id="r2"), dedup="r2")
    drain(app)
    running = world.describe()["taskDefinition"]
    # Allowlisted image and container: only its history is wrong (never live, no gates).
    staged = world.register(f"{REPO}:9.9")
    world.send(rollback(to_revision=int(staged.rsplit(":", 1)[1])), dedup="forward")
    drain(app)
    (reason,) = reasons(world)
    assert "never ran successfully" in reason
    assert world.describe()["taskDefinition"] == running


def update_by_hand(world: World, image: str) -> str:
    """Someone else's deploy, started after our message was sent."""
    arn = world.register(image)
    world.ecs.update_service(cluster="prod", service="web", taskDefinition=arn)
    return arn


def test_a_deployment_someone_else_started_is_not_taken_for_the_rollbacks_own(
    world: World,
) -> None:
    first = world.service(containers=("app",))
    app = world.app()
    world.send(deploy(f"{REPO}:2.0", deploy_id="r2"), dedup="r2")
    drain(app)
    world.send(rollback(to_revision=int(first.rsplit(":", 1)[1])), dedup="back")
    theirs = update_by_hand(world, f"{REPO}:5.0")
    world.wait_deployment(
        world.describe()["currentServiceDeployment"], lambda d: d["status"] != "PENDING"
    )
    drain(app)
    assert world.describe()["taskDefinition"] == first  # rolled back, not `theirs` reported
    assert theirs != first
    assert world.dead_letters() == []


def test_a_deployment_someone_else_started_is_not_taken_for_the_redeploys_own(
    world: World,
) -> None:
    world.service(containers=("app",))
    app = world.app()
    world.send({"cluster": "prod", "service": "web", "action": "redeploy"}, dedup="again")
    update_by_hand(world, f"{REPO}:5.0")
    updates = metric(
        app,
        "deployworker_aws_requests_total",
        service="ecs",
        operation="UpdateService",
        result="ok",
    )
    drain(app)
    # The worker forced its own deployment instead of following the other one.
    assert updates + 1 == metric(
        app,
        "deployworker_aws_requests_total",
        service="ecs",
        operation="UpdateService",
        result="ok",
    )
    assert metric(app, "deployworker_messages_total", outcome="deployed") == 1


def test_a_rejected_messages_text_never_reaches_chatops_as_received(world: World) -> None:
    from conftest import events_queue, read_events

    topic, url = events_queue(world)
    world.service(containers=("app",))
    app = world.app(events_topic_arn=topic)
    phishing = "https://example.invalid/urgent-approve-now"
    world.send(
        deploy(f"{REPO}:2.0", deploy_id="unlisted", service="db", source={"url": phishing}),
        group="prod/db",
        dedup="unlisted",
    )
    world.send(deploy(f"{REPO}:3.0", deploy_id="listed"), dedup="listed")
    drain(app)
    assert app.events is not None
    app.events.stop()
    events = read_events(world, url)
    received = [e for e in events if e["type"] == "received"]
    assert [e["deploy_id"] for e in received] == ["listed"]
    assert phishing not in json.dumps(events)  # nor in the `rejected` event
