"""What a deploy_id means, end to end through moto and the rollout simulator.

A deploy is keyed by (cluster, service, deploy_id): a redelivery of a deploy that
already ended ends the same way and writes nothing, two services of one family never
share a revision, and the same key with other images is refused with both named.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from conftest import REPO, World, default_entry, deploy, drain, metric, wait_for
from deployworker.deploy.plan import DEPLOY_ID_TAG, DEPLOY_KEY_TAG, deploy_key
from injected import error_response, inject
from test_follow_deployments import Calls, deployments


def rollback_cases(world: World, case: str) -> dict[str, Any]:
    """prod/web set up so that `web:2-fail` (or `-hang`) ends rolled back in the given way;
    returns the app's allowlist entry changes."""
    if case == "ecs_circuit_breaker":  # ECS rolls back itself: ROLLBACK_SUCCESSFUL
        world.service(circuit_breaker=True)
        return {}
    if case == "worker_restore":  # STOPPED by the breaker; the worker deploys the previous
        world.service()
        return {}
    world.service()  # "native_at_deadline": StopServiceDeployment(ROLLBACK) at the timeout
    return {"timeout": "2s"}


@pytest.mark.parametrize("case", ["ecs_circuit_breaker", "worker_restore", "native_at_deadline"])
def test_a_redelivered_deploy_that_was_rolled_back_ends_rolled_back_again_writing_nothing(
    world: World, case: str
) -> None:
    entry = rollback_cases(world, case)
    before = world.describe()["taskDefinition"]
    app = world.app(world.allowlist([default_entry(**entry)]))
    calls = Calls(app)
    image = f"{REPO}:2-hang" if case == "native_at_deadline" else f"{REPO}:2-fail"
    body = deploy(image, deploy_id="build-77")
    world.send(body, dedup="first")
    drain(app)
    assert metric(app, "deployworker_messages_total", outcome="rolled_back") == 1
    assert world.describe()["taskDefinition"] == before
    revisions, history = world.revisions(), len(deployments(world))

    # The same deploy again (SIGTERM during the rollback watch, a lost DeleteMessage...).
    again = time.monotonic()
    world.send(body, dedup="second")
    drain(app)
    assert metric(app, "deployworker_messages_total", outcome="rolled_back") == 2
    assert calls.writes(since=again) == []  # no RegisterTaskDefinition, UpdateService, Stop
    assert world.describe()["taskDefinition"] == before
    assert world.revisions() == revisions
    assert len(deployments(world)) == history
    assert world.queue_depth() == 0 and world.dead_letters() == []


def test_a_redelivery_finds_its_rollout_behind_another_services_revision(world: World) -> None:
    """A shared family: web's deploy fails and its DeleteMessage is lost; worker then
    registers the family's newest revision; SQS redelivers web's message."""
    web_before = world.service()
    world.ecs.create_service(
        cluster="prod", serviceName="worker", taskDefinition=web_before, desiredCount=2
    )
    allowlist = world.allowlist([default_entry(), default_entry(service="worker")])
    app = world.app(allowlist, visibility_timeout=5)
    calls = Calls(app)
    inject(app.sqs._client, "DeleteMessage", [error_response(400, "AccessDenied")])
    world.send(deploy(f"{REPO}:2-fail", deploy_id="build-5"))
    drain(app)
    world.send(deploy(f"{REPO}:2.0", service="worker", deploy_id="build-5"), group="prod/worker")
    drain(app)
    assert world.images(name="worker") == {"app": f"{REPO}:2.0"}
    revisions = world.revisions()
    assert world.describe()["taskDefinition"] != revisions[-1]  # not web's any more

    again = time.monotonic()
    wait_for(lambda: visible(world) == 1)  # the visibility timeout lapses
    drain(app)
    assert metric(app, "deployworker_messages_total", outcome="rolled_back") == 1
    assert calls.writes(since=again) == []
    assert world.revisions() == revisions
    assert world.describe()["taskDefinition"] == web_before
    assert world.queue_depth() == 0


def visible(world: World) -> int:
    attrs = world.sqs.get_queue_attributes(
        QueueUrl=world.resources.queue_url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"])


def test_two_services_of_one_family_with_one_deploy_id_get_their_own_revisions(
    world: World,
) -> None:
    arn = world.service()
    world.ecs.create_service(
        cluster="prod", serviceName="worker", taskDefinition=arn, desiredCount=2
    )
    app = world.app(world.allowlist([default_entry(), default_entry(service="worker")]))
    world.send(deploy(f"{REPO}:2.0", deploy_id="build-42"))
    drain(app)
    world.send(deploy(f"{REPO}:3.0", service="worker", deploy_id="build-42"), group="prod/worker")
    drain(app)
    assert metric(app, "deployworker_messages_total", outcome="deployed") == 2
    assert world.images(name="web") == {"app": f"{REPO}:2.0"}
    assert world.images(name="worker") == {"app": f"{REPO}:3.0"}
    web, worker = (world.describe(name=n)["taskDefinition"] for n in ("web", "worker"))
    assert web != worker
    assert world.task_definition(web)[1][DEPLOY_KEY_TAG] == deploy_key("prod", "web", "build-42")
    assert world.task_definition(worker)[1][DEPLOY_KEY_TAG] == deploy_key(
        "prod", "worker", "build-42"
    )
    assert world.task_definition(worker)[1][DEPLOY_ID_TAG] == "build-42"


@pytest.mark.parametrize("first", ["2.0", "2-fail"])  # deployed; rolled back
def test_the_same_deploy_id_with_another_image_is_dead_lettered_naming_both(
    world: World, first: str
) -> None:
    world.service()
    app = world.app()
    calls = Calls(app)
    world.send(deploy(f"{REPO}:{first}", deploy_id="build-9"), dedup="a")
    drain(app)
    images, revisions = world.images(), world.revisions()
    again = time.monotonic()
    world.send(deploy(f"{REPO}:2.1", deploy_id="build-9"), dedup="b")  # "corrected"
    drain(app)
    assert world.images() == images
    assert world.revisions() == revisions
    assert calls.writes(since=again) == []
    (dead,) = world.dead_letters()
    reason = dead["MessageAttributes"]["deployworker.reason"]["StringValue"]
    assert f"app={REPO}:{first}" in reason and f"app={REPO}:2.1" in reason
    assert "'build-9' of prod/web" in reason
    assert world.queue_depth() == 0
