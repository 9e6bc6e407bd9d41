"""A migration runs once per deploy: one clientToken across RunTask retries, a revision
tag that outlives ListTasks' memory, and the task placed (and given volumes) like the
service's own. End to end through ThreadedMotoServer where moto models it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from moto.ecs.models import ecs_backends

from conftest import REPO, World, default_entry, deploy, drain, metric
from deployworker.app import App
from deployworker.deploy.migrate import MIGRATED_TAG, client_token, run_kwargs, started_by
from deployworker.intake.entries import Migrate

MIGRATE = {"container": "app", "command": ["./manage.py", "migrate"], "timeout": "30s"}
ACCOUNT = "123456789012"


def fargate(world: World) -> str:
    arn = world.service()
    world.ecs.delete_service(cluster="prod", service="web", force=True)
    world.ecs.create_service(
        cluster="prod", serviceName="web2", taskDefinition=arn, desiredCount=2, launchType="FARGATE"
    )
    return arn


def worker(world: World, **settings: Any) -> App:
    entry = default_entry(service="web2", migrate=MIGRATE)
    return world.app(world.allowlist([entry]), retry_backoff_seconds=0, **settings)


def run_task_requests(app: App) -> list[dict[str, Any]]:
    """The body of every RunTask attempt the worker's client makes."""
    sent: list[dict[str, Any]] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        sent.append(json.loads(params["body"]))

    app.ecs._client.meta.events.register("before-call.ecs.RunTask", record)
    return sent


def test_a_retried_run_task_sends_the_same_client_token(world: World) -> None:
    from injected import error_response, inject

    fargate(world)
    app = worker(world, aws_attempts=2)
    sent = run_task_requests(app)
    inject(app.ecs._client, "RunTask", [error_response(503, "ServiceUnavailableException")])
    world.send(deploy(f"{REPO}:2.0", service="web2", deploy_id="mig-token"), group="prod/web2")
    drain(app)
    token = client_token("prod", "web2", "mig-token")
    assert len(token) == 64
    assert [body["clientToken"] for body in sent] == [token, token]
    assert world.images(name="web2")["app"] == f"{REPO}:2.0"
    assert metric(app, "deployworker_messages_total", outcome="deployed") == 1


def test_a_redrive_after_ecs_forgot_the_task_does_not_migrate_again(world: World) -> None:
    from injected import error_response, inject

    before = fargate(world)
    app = worker(world, aws_attempts=1)
    sent = run_task_requests(app)
    inject(app.ecs._client, "UpdateService", [error_response(503, "ServiceUnavailableException")])
    world.send(deploy(f"{REPO}:2.0", service="web2", deploy_id="mig-redrive"), group="prod/web2")
    app.worker.run_once()
    assert world.describe(name="web2")["taskDefinition"] == before  # migrated, not updated
    target = world.revisions()[-1]
    _, tags = world.task_definition(target)
    assert tags[MIGRATED_TAG].startswith(f"arn:aws:ecs:eu-west-1:{ACCOUNT}:task/prod/")
    # Hours later ListTasks no longer shows the stopped migration task.
    ecs_backends[ACCOUNT]["eu-west-1"].tasks["prod"] = {}
    assert (
        world.ecs.list_tasks(
            cluster="prod",
            startedBy=started_by("prod", "web2", "mig-redrive"),
            desiredStatus="STOPPED",
        )["taskArns"]
        == []
    )
    drain(app)
    assert len(sent) == 1  # the tag, not ListTasks, said it was done
    assert world.describe(name="web2")["taskDefinition"] == target
    assert world.images(name="web2")["app"] == f"{REPO}:2.0"
    assert metric(app, "deployworker_messages_total", outcome="deployed") == 1


def test_the_migrated_tag_is_not_carried_to_the_next_revision(world: World) -> None:
    fargate(world)
    app = worker(world)
    for n in (2, 3):
        world.send(
            deploy(f"{REPO}:{n}.0", service="web2", deploy_id=f"m{n}"),
            group="prod/web2",
            dedup=f"m{n}",
        )
        drain(app)
    newest = world.describe(name="web2")["taskDefinition"]
    tags = [world.task_definition(arn)[1] for arn in world.revisions()]
    assert [MIGRATED_TAG in t for t in tags] == [False, True, True]
    assert world.revisions()[-1] == newest
    assert world.task_definition(world.revisions()[1])[1][MIGRATED_TAG] != tags[2][MIGRATED_TAG]


EBS = {
    "roleArn": "arn:aws:iam::123456789012:role/ebs",
    "sizeInGiB": 20,
    "volumeType": "gp3",
    "filesystemType": "ext4",
    "tagSpecifications": [{"resourceType": "volume", "propagateTags": "SERVICE"}],
}
PLACEMENT = {
    "placementConstraints": [{"type": "memberOf", "expression": "attribute:zone == a"}],
    "placementStrategy": [{"type": "spread", "field": "attribute:ecs.availability-zone"}],
}


@pytest.mark.parametrize(
    ("service", "expected"),
    [
        ({}, {}),
        ({"launchType": "EC2", **PLACEMENT}, {"launchType": "EC2", **PLACEMENT}),
        (
            {
                "launchType": "FARGATE",
                "deployments": [
                    {"status": "ACTIVE", "volumeConfigurations": [{"name": "old"}]},
                    {
                        "status": "PRIMARY",
                        "volumeConfigurations": [{"name": "data", "managedEBSVolume": EBS}],
                    },
                ],
            },
            {
                "launchType": "FARGATE",
                "volumeConfigurations": [{"name": "data", "managedEBSVolume": EBS}],
            },
        ),
        (
            {"deployments": [{"status": "PRIMARY", "volumeConfigurations": []}], **PLACEMENT},
            PLACEMENT,
        ),
    ],
    ids=["plain", "placement", "launch-volumes", "no-volumes"],
)
def test_the_task_is_placed_and_given_volumes_as_the_service(
    service: dict[str, Any], expected: dict[str, Any]
) -> None:
    doc = {"clusterArn": "arn:aws:ecs:eu-west-1:1:cluster/prod", "serviceName": "web", **service}
    migrate = Migrate.model_validate({"container": "app", "command": ["m"]})
    got = run_kwargs(doc, "td:2", migrate, "dw-x", "tok")
    assert {k: v for k, v in got.items() if k in expected} == expected
    assert set(got) - set(expected) == {
        "cluster",
        "taskDefinition",
        "startedBy",
        "clientToken",
        "overrides",
    }


def test_forged_migrated_tag_does_not_skip_the_migration(world: World) -> None:
    from injected import error_response, inject

    fargate(world)
    app = worker(world, aws_attempts=1)
    sent = run_task_requests(app)
    inject(app.ecs._client, "RunTask", [error_response(503, "ServiceUnavailableException")])
    world.send(deploy(f"{REPO}:2.0", service="web2", deploy_id="mig"), group="prod/web2")
    app.worker.run_once()
    target = world.revisions()[-1]
    assert world.describe(name="web2")["taskDefinition"] != target  # not migrated yet
    # The attacker marks the registered revision as migrated.
    world.ecs.tag_resource(
        resourceArn=target,
        tags=[{"key": "deployworker:migrated", "value": "arn:aws:ecs:eu-west-1:1:task/prod/x"}],
    )
    drain(app)
    assert len(sent) == 2  # the failed attempt, then the migration the forged tag hid
    assert world.describe(name="web2")["taskDefinition"] == target
    assert metric(app, "deployworker_messages_total", outcome="deployed") == 1
