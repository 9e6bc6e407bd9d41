"""Deploys the way teams run them: migrations, digest pinning, redeploy, rollback, promote,
superseding. Each through ThreadedMotoServer and the rollout simulator."""

from __future__ import annotations

import json
from typing import Any

import pytest

from conftest import REPO, World, default_entry, deploy, drain, metric
from deployworker.aws.clients import make_client
from deployworker.deploy.migrate import started_by
from deployworker.deploy.plan import DEPLOY_ID_TAG

MIGRATE = {"container": "app", "command": ["./manage.py", "migrate"], "timeout": "30s"}


def fargate_service(world: World) -> str:
    arn = world.service()
    world.ecs.delete_service(cluster="prod", service="web", force=True)
    world.ecs.create_service(
        cluster="prod", serviceName="web2", taskDefinition=arn, desiredCount=2, launchType="FARGATE"
    )
    return arn


def migration_tasks(world: World, deploy_id: str) -> list[dict[str, Any]]:
    arns = []
    for status in ("RUNNING", "STOPPED"):
        arns += world.ecs.list_tasks(
            cluster="prod", startedBy=started_by("prod", "web2", deploy_id), desiredStatus=status
        )["taskArns"]
    if not arns:
        return []
    tasks: list[dict[str, Any]] = world.ecs.describe_tasks(cluster="prod", tasks=arns)["tasks"]
    return tasks


def web2(**changes: Any) -> dict[str, Any]:
    return default_entry(service="web2", **changes)


def test_migration_runs_once_from_the_new_revision_before_the_update(world: World) -> None:
    fargate_service(world)
    app = world.app(world.allowlist([web2(migrate=MIGRATE)]))
    world.send(deploy(f"{REPO}:2.0", service="web2", deploy_id="mig-ok"), group="prod/web2")
    drain(app)
    service = world.describe(name="web2")
    tasks = migration_tasks(world, "mig-ok")
    assert len(tasks) == 1
    assert tasks[0]["taskDefinitionArn"] == service["taskDefinition"]  # the new revision
    assert tasks[0]["overrides"]["containerOverrides"] == [
        {"name": "app", "command": ["./manage.py", "migrate"]}
    ]
    assert tasks[0]["launchType"] == "FARGATE"
    assert world.images(name="web2")["app"] == f"{REPO}:2.0"
    assert metric(app, "deployworker_messages_total", outcome="deployed") == 1


def test_failed_migration_leaves_the_service_untouched(world: World) -> None:
    before = fargate_service(world)
    failing = {**MIGRATE, "command": ["./manage.py", "migrate", "--fail"]}
    app = world.app(world.allowlist([web2(migrate=failing)]))
    world.send(deploy(f"{REPO}:2.0", service="web2", deploy_id="mig-bad"), group="prod/web2")
    drain(app)
    assert world.describe(name="web2")["taskDefinition"] == before
    assert world.queue_depth() == 0
    assert world.dead_letters() == []  # an outcome, not a rejection
    assert metric(app, "deployworker_messages_total", outcome="migration_failed") == 1
    task = migration_tasks(world, "mig-bad")[0]
    assert (
        metric(
            app,
            "deployworker_deploys_total",
            cluster="prod",
            service="web2",
            outcome="migration_failed",
        )
        == 1
    )
    assert task["containers"][0]["exitCode"] == 1


def test_migration_is_not_run_twice_on_redelivery(world: World) -> None:
    from injected import error_response

    before = fargate_service(world)
    app = world.app(
        world.allowlist([web2(migrate=MIGRATE)]), aws_attempts=1, retry_backoff_seconds=0
    )
    calls: list[int] = []

    def fail_first_update(**_: Any) -> Any:
        calls.append(1)
        return error_response(503, "ServiceUnavailableException") if len(calls) == 1 else None

    app.ecs._client.meta.events.register_first("before-send.ecs.UpdateService", fail_first_update)
    world.send(deploy(f"{REPO}:2.0", service="web2", deploy_id="mig-again"), group="prod/web2")
    app.worker.run_once()
    assert world.describe(name="web2")["taskDefinition"] == before  # migrated, not yet updated
    assert len(migration_tasks(world, "mig-again")) == 1
    drain(app)
    assert world.images(name="web2")["app"] == f"{REPO}:2.0"
    assert len(migration_tasks(world, "mig-again")) == 1  # found by startedBy, not started again
    assert len(world.revisions("prod-web")) == 2


def push(world: World, tag: str, marker: str) -> str:
    ecr = make_client("ecr", "eu-west-1", world.endpoint)
    try:
        ecr.create_repository(repositoryName="web")
    except ecr.exceptions.RepositoryAlreadyExistsException:
        pass
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": len(marker),
                "digest": "sha256:" + marker.encode().hex().ljust(64, "0")[:64],
            },
            # moto derives the image digest from the layer digests.
            "layers": [
                {
                    "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    "size": 1,
                    "digest": "sha256:" + marker.encode().hex().rjust(64, "1")[:64],
                }
            ],
        }
    )
    image = ecr.put_image(repositoryName="web", imageManifest=manifest, imageTag=tag)["image"]
    return str(image["imageId"]["imageDigest"])


def test_digest_pinning_and_a_redeploy_after_the_tag_moved(world: World) -> None:
    world.service()
    first = push(world, "prod", "one")
    app = world.app(world.allowlist([default_entry(pin_digest=True)]), account_id="123456789012")
    world.send(deploy(f"{REPO}:prod", deploy_id="pin-1"), dedup="1")
    drain(app)
    assert world.images()["app"] == f"{REPO}:prod@{first}"

    second = push(world, "prod", "two")  # the environment tag moves
    world.send(
        {"cluster": "prod", "service": "web", "action": "redeploy", "deploy_id": "pin-2"}, dedup="2"
    )
    drain(app)
    assert world.images()["app"] == f"{REPO}:prod@{second}"
    assert len(world.revisions()) == 3

    world.send(
        {"cluster": "prod", "service": "web", "action": "redeploy", "deploy_id": "pin-3"}, dedup="3"
    )
    drain(app)
    assert len(world.revisions()) == 3  # the tag did not move: nothing to do
    assert metric(app, "deployworker_messages_total", outcome="noop") == 1


def test_unresolvable_tags_and_foreign_registries_are_rejected(world: World) -> None:
    world.service()
    push(world, "prod", "one")
    entry = default_entry(pin_digest=True, images=[REPO, "registry.example.com/web"])
    app = world.app(world.allowlist([entry]), account_id="123456789012")
    world.send(deploy(f"{REPO}:missing", deploy_id="pin-missing"), dedup="1")
    drain(app)  # one at a time: in one batch, the second would supersede the first
    world.send(deploy("registry.example.com/web:1", deploy_id="pin-foreign"), dedup="2")
    drain(app)
    reasons = sorted(
        m["MessageAttributes"]["deployworker.reason"]["StringValue"] for m in world.dead_letters()
    )
    assert "tag 'missing'" in reasons[1] and "cannot be resolved" in reasons[1]
    assert "not an ECR repository of this worker's account and region" in reasons[0]
    assert len(world.revisions()) == 1


def test_foreign_registry_tag_is_kept_when_configured(world: World) -> None:
    world.service()
    entry = default_entry(pin_digest=True, images=[REPO, "registry.example.com/web"])
    app = world.app(world.allowlist([entry]), non_ecr_pinning="keep")
    world.send(deploy("registry.example.com/web:1", deploy_id="keep"))
    drain(app)
    assert world.images()["app"] == "registry.example.com/web:1"


def test_redeploy_forces_a_new_deployment_of_the_same_revision(world: World) -> None:
    before = world.service()
    app = world.app()
    first = world.describe()["deployments"][0]["id"]
    world.send({"cluster": "prod", "service": "web", "action": "redeploy", "deploy_id": "force"})
    drain(app)
    service = world.describe()
    assert service["taskDefinition"] == before
    assert len(world.revisions()) == 1
    assert service["deployments"][0]["id"] != first
    assert service["deployments"][0]["rolloutState"] == "COMPLETED"
    assert metric(app, "deployworker_messages_total", outcome="deployed") == 1


def test_redeploy_of_a_service_not_allowed_is_rejected(world: World) -> None:
    world.service(cluster="dev")
    app = world.app()
    world.send({"cluster": "dev", "service": "web", "action": "redeploy"}, group="dev/web")
    drain(app)
    assert (
        "not in the allowlist"
        in world.dead_letters()[0]["MessageAttributes"]["deployworker.reason"]["StringValue"]
    )


def test_rollback_to_previous_to_a_deploy_id_and_to_a_revision(world: World) -> None:
    v1 = world.service()
    app = world.app()
    for n in (2, 3, 4):
        world.send(deploy(f"{REPO}:{n}.0", deploy_id=f"r{n}"), dedup=f"d{n}")
        drain(app)
    revisions = world.revisions()
    world.send({"cluster": "prod", "service": "web", "action": "rollback"}, dedup="back")
    drain(app)
    assert world.describe()["taskDefinition"] == revisions[2]  # the one before r4
    world.send(
        {"cluster": "prod", "service": "web", "action": "rollback", "to_deploy_id": "r2"},
        dedup="to-r2",
    )
    drain(app)
    assert world.describe()["taskDefinition"] == revisions[1]
    world.send(
        {"cluster": "prod", "service": "web", "action": "rollback", "to_revision": 1}, dedup="to-1"
    )
    drain(app)
    assert world.describe()["taskDefinition"] == v1
    assert len(world.revisions()) == 4  # rollbacks register nothing
    assert metric(app, "deployworker_messages_total", outcome="deployed") == 6


def test_rollback_to_an_unknown_deploy_id_is_rejected(world: World) -> None:
    before = world.service()
    app = world.app()
    world.send({"cluster": "prod", "service": "web", "action": "rollback", "to_deploy_id": "never"})
    drain(app)
    reason = world.dead_letters()[0]["MessageAttributes"]["deployworker.reason"]["StringValue"]
    assert "carries deploy_id 'never'" in reason
    assert world.describe()["taskDefinition"] == before


def promote(source: str = "staging") -> dict[str, Any]:
    return {
        "cluster": "prod",
        "service": "web",
        "action": "promote",
        "from": {"cluster": source, "service": "web"},
        "deploy_id": f"promote-from-{source}",
    }


def test_promote_runs_what_staging_runs_and_records_its_deploy_id(world: World) -> None:
    world.service(cluster="staging")
    world.service()
    entries = [
        default_entry(cluster="staging"),
        default_entry(promote_from=[{"cluster": "staging", "service": "web"}]),
    ]
    app = world.app(world.allowlist(entries))
    world.send(
        deploy(f"{REPO}:sha-abc", cluster="staging", deploy_id="stg-1"),
        group="staging/web",
        dedup="s",
    )
    drain(app)
    world.send(promote(), dedup="p")
    drain(app)
    assert world.images()["app"] == f"{REPO}:sha-abc"
    _, tags = world.task_definition(world.describe()["taskDefinition"])
    assert tags["deployworker:promoted-from"] == "staging/web@stg-1"
    assert tags[DEPLOY_ID_TAG] == "promote-from-staging"


@pytest.mark.parametrize(
    ("entries", "reason"),
    [
        (
            [default_entry(cluster="staging"), default_entry()],
            "does not list staging/web in promote_from",
        ),
        (
            [
                default_entry(cluster="staging", images=["registry.example.com/web"]),
                default_entry(promote_from=[{"cluster": "staging", "service": "web"}]),
            ],
            "'registry.example.com/web' is not allowlisted for prod/web",
        ),
    ],
    ids=["source-not-listed", "image-not-allowed"],
)
def test_promote_is_refused(world: World, entries: list[dict[str, Any]], reason: str) -> None:
    world.service(cluster="staging", image="registry.example.com/web:1")
    before = world.service()
    app = world.app(world.allowlist(entries))
    world.send(promote())
    drain(app)
    got = world.dead_letters()[0]["MessageAttributes"]["deployworker.reason"]["StringValue"]
    assert reason in got
    assert world.describe()["taskDefinition"] == before


def test_older_deploys_in_a_batch_are_superseded_by_the_newest(world: World) -> None:
    from conftest import events_queue, read_events

    topic, events_url = events_queue(world)
    world.service()
    world.service(cluster="staging")
    app = world.app(
        world.allowlist([default_entry(), default_entry(cluster="staging")]), events_topic_arn=topic
    )
    for n in (2, 3, 4):
        world.send(deploy(f"{REPO}:{n}.0", deploy_id=f"s{n}"), dedup=f"s{n}")
    world.send(
        deploy(f"{REPO}:9.0", cluster="staging", deploy_id="other"), group="staging/web", dedup="o"
    )
    drain(app)
    assert world.images()["app"] == f"{REPO}:4.0"
    assert [world.task_definition(a)[1].get(DEPLOY_ID_TAG) for a in world.revisions()] == [
        None,
        "s4",
    ]
    assert world.images(cluster="staging")["app"] == f"{REPO}:9.0"  # other services unaffected
    assert metric(app, "deployworker_messages_total", outcome="superseded") == 2
    assert metric(app, "deployworker_messages_total", outcome="deployed") == 2
    assert world.queue_depth() == 0
    assert app.events is not None
    app.events.stop()
    superseded = [e for e in read_events(world, events_url) if e["type"] == "superseded"]
    assert sorted(e["deploy_id"] for e in superseded) == ["s2", "s3"]
    assert all(
        e["outcome"] == "superseded" and "superseded by message" in e["reason"] for e in superseded
    )


def test_a_deploy_of_other_containers_or_an_invalid_newer_one_does_not_supersede(
    world: World,
) -> None:
    world.service(containers=("app", "worker"))
    app = world.app()
    world.send(deploy(f"{REPO}:2.0", deploy_id="app-2"), dedup="1")
    world.send(deploy(f"{REPO}:3.0", container="worker", deploy_id="worker-3"), dedup="2")
    world.send(deploy("evil.example.com/web:1", deploy_id="denied"), dedup="3")
    drain(app)
    assert world.images() == {"app": f"{REPO}:2.0", "worker": f"{REPO}:3.0"}
    assert metric(app, "deployworker_messages_total", outcome="superseded") == 0


def test_a_superseded_deploy_is_not_lost_when_the_newer_one_is_rejected_at_apply(
    world: World,
) -> None:
    """The newer deploy passes the allowlist (both containers are listed) but the task
    definition has no `worker` container, so apply rejects it: the older deploy it
    would have replaced runs after all, instead of being deleted as superseded."""
    world.service(containers=("app",))
    app = world.app()
    world.send(deploy(f"{REPO}:2.0", deploy_id="older"), dedup="older")
    newer = deploy(f"{REPO}:3.0", deploy_id="newer")
    newer.pop("container"), newer.pop("image")
    newer["images"] = {"app": f"{REPO}:3.0", "worker": f"{REPO}:3.0"}
    world.send(newer, dedup="newer")
    drain(app)
    assert world.images()["app"] == f"{REPO}:2.0"
    (letter,) = world.dead_letters()
    assert (
        "not in task definition"
        in letter["MessageAttributes"]["deployworker.reason"]["StringValue"]
    )
    assert metric(app, "deployworker_messages_total", outcome="superseded") == 0
    assert metric(app, "deployworker_messages_total", outcome="deployed") == 1
    assert world.queue_depth() == 0
