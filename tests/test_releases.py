"""Releases end to end: web, worker, a schedule and a rule, through moto and the simulator."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from conftest import REGION, REPO, World, drain, events_queue, metric, read_events
from deployworker.aws.clients import make_client
from deployworker.deploy.plan import DEPLOY_KEY_TAG
from deployworker.local.seed import container_definition
from deployworker.local.simulator import Rules

CLUSTER_ARN = "arn:aws:ecs:eu-west-1:123456789012:cluster/prod"
SCHEDULE_ROLE = "arn:aws:iam::123456789012:role/scheduler"
RULE_ROLE = "arn:aws:iam::123456789012:role/events"


class Shop:
    """The release `shop`: web and worker share prod-web; the schedule and the rule
    share prod-jobs. The rule also has a non-ECS target that must stay untouched."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.scheduler = make_client("scheduler", REGION, world.endpoint)
        self.events = make_client("events", REGION, world.endpoint)
        self.web_arn = world.service(name="web", circuit_breaker=True, launchType="FARGATE")
        world.ecs.create_service(
            cluster="prod", serviceName="worker", taskDefinition=self.web_arn, desiredCount=1
        )
        world.ecs.update_service(
            cluster="prod",
            service="worker",
            deploymentConfiguration={
                "deploymentCircuitBreaker": {"enable": True, "rollback": True}
            },
        )
        self.jobs_arn = world.ecs.register_task_definition(
            family="prod-jobs",
            containerDefinitions=[container_definition("app", f"{REPO}:1.0")],
            tags=[{"key": "team", "value": "data"}],
        )["taskDefinition"]["taskDefinitionArn"]
        self.scheduler.create_schedule(
            Name="nightly-report",
            ScheduleExpression="cron(0 2 * * ? *)",
            FlexibleTimeWindow={"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 15},
            Description="the nightly report",
            State="ENABLED",
            Target={
                "Arn": CLUSTER_ARN,
                "RoleArn": SCHEDULE_ROLE,
                "Input": '{"containerOverrides": []}',
                "RetryPolicy": {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 600},
                "EcsParameters": {
                    "TaskDefinitionArn": self.jobs_arn,
                    "TaskCount": 1,
                    "LaunchType": "FARGATE",
                    "NetworkConfiguration": {
                        "awsvpcConfiguration": {
                            "Subnets": ["subnet-1"],
                            "AssignPublicIp": "DISABLED",
                        }
                    },
                },
            },
        )
        self.events.put_rule(Name="cleanup", ScheduleExpression="rate(1 day)")
        self.events.put_targets(
            Rule="cleanup",
            Targets=[
                {
                    "Id": "cleanup-task",
                    "Arn": CLUSTER_ARN,
                    "RoleArn": RULE_ROLE,
                    "Input": '{"x": 1}',
                    "EcsParameters": {
                        "TaskDefinitionArn": self.jobs_arn,
                        "TaskCount": 2,
                        "LaunchType": "FARGATE",
                        "NetworkConfiguration": {"awsvpcConfiguration": {"Subnets": ["subnet-2"]}},
                    },
                },
                {"Id": "audit", "Arn": "arn:aws:sqs:eu-west-1:123456789012:audit"},
            ],
        )
        self.schedule_before = self.schedule()
        self.targets_before = self.targets()

    def allowlist(self, **release: Any) -> Path:
        document = {
            "version": 1,
            "services": [
                {"cluster": "prod", "service": "web", "containers": ["app"], "images": [REPO]}
            ],
            "releases": [
                {
                    "name": "shop",
                    "cluster": "prod",
                    "images": [REPO],
                    "members": [
                        {"service": "web", "containers": ["app"]},
                        {"service": "worker", "containers": ["app"]},
                        {"schedule": "nightly-report", "containers": ["app"]},
                        {"rule": "cleanup", "containers": ["app"]},
                    ],
                    "phases": [["worker"], ["web"], ["nightly-report", "cleanup"]],
                    **release,
                }
            ],
        }
        path = self.world.tmp / "allowlist.yaml"
        path.write_text(yaml.safe_dump(document))
        return path

    def send(self, image: str, deploy_id: str, **body: Any) -> None:
        message = {"release": "shop", "image": image, "deploy_id": deploy_id, **body}
        self.world.send(message, group="release/shop", dedup=deploy_id)

    def schedule(self) -> dict[str, Any]:
        found: dict[str, Any] = self.scheduler.get_schedule(
            Name="nightly-report", GroupName="default"
        )
        return {
            k: v for k, v in found.items() if k not in ("ResponseMetadata", "LastModificationDate")
        }

    def targets(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.events.list_targets_by_rule(Rule="cleanup")["Targets"]
        return found

    def schedule_arn(self) -> str:
        return str(self.schedule()["Target"]["EcsParameters"]["TaskDefinitionArn"])

    def rule_arn(self) -> str:
        return str(self.targets()[0]["EcsParameters"]["TaskDefinitionArn"])


def with_arn(document: Any, arn: str) -> Any:
    copied = json.loads(json.dumps(document, default=str))
    copied["EcsParameters"]["TaskDefinitionArn"] = arn
    return copied


def test_a_release_ships_one_image_to_every_member_with_one_revision_per_family(
    world: World,
) -> None:
    shop = Shop(world)
    app = world.app(shop.allowlist())
    shop.send(f"{REPO}:2.0", "shop-2")

    drain(app)

    assert world.queue_depth() == 0
    assert world.dead_letters() == []
    web_revisions = world.revisions("prod-web")
    jobs_revisions = world.revisions("prod-jobs")
    assert len(web_revisions) == 2
    assert len(jobs_revisions) == 2
    new_web, new_jobs = web_revisions[-1], jobs_revisions[-1]
    assert world.describe(name="web")["taskDefinition"] == new_web
    assert world.describe(name="worker")["taskDefinition"] == new_web
    assert world.images(name="worker") == {"app": f"{REPO}:2.0"}
    jobs, tags = world.task_definition(new_jobs)
    assert [c["image"] for c in jobs["containerDefinitions"]] == [f"{REPO}:2.0"]
    assert tags["team"] == "data"
    assert tags["deployworker:release-state"] == "deployed"
    # Schedule and rule: only the task definition changed; the SQS target is untouched.
    after = shop.schedule()
    before = dict(shop.schedule_before)
    before["Target"] = with_arn(before["Target"], new_jobs)
    assert json.loads(json.dumps(after, default=str)) == json.loads(json.dumps(before, default=str))
    assert shop.targets() == [
        with_arn(shop.targets_before[0], new_jobs),
        shop.targets_before[1],
    ]
    assert metric(app, "deployworker_releases_total", release="shop", outcome="deployed") == 1


def test_a_failing_rollout_puts_every_member_back_and_ends_rolled_back(world: World) -> None:
    shop = Shop(world)
    app = world.app(shop.allowlist(phases=[["worker", "nightly-report"], ["web", "cleanup"]]))
    # Worker and the schedule move in phase one; web's rollout fails in phase two (its
    # circuit breaker rolls it back), so every member changed so far must go back.
    world.simulator.rules = Rules(converge_seconds=0.6, fail_pattern=None)

    def fail_web(params: dict[str, Any], **_: Any) -> None:
        if params.get("service") == "web" and params.get("taskDefinition") != shop.web_arn:
            world.simulator.rules = Rules(converge_seconds=0.6, fail_pattern=r":2\.0")

    app.ecs._client.meta.events.register("before-parameter-build.ecs.UpdateService", fail_web)
    shop.send(f"{REPO}:2.0", "shop-fail")

    drain(app)

    assert world.queue_depth() == 0
    assert world.dead_letters() == []
    assert world.describe(name="web")["taskDefinition"] == shop.web_arn
    assert world.describe(name="worker")["taskDefinition"] == shop.web_arn
    assert shop.schedule_arn() == shop.jobs_arn
    assert shop.rule_arn() == shop.jobs_arn
    assert (
        shop.schedule() == shop.schedule_before
        or shop.schedule()["Target"] == (shop.schedule_before["Target"])
    )
    assert shop.targets() == shop.targets_before
    new_web = world.revisions("prod-web")[-1]
    tags = world.task_definition(new_web)[1]
    assert tags["deployworker:release-state"] == "rolled_back"
    assert "member web failed" in tags["deployworker:release-reason"]
    assert metric(app, "deployworker_releases_total", release="shop", outcome="rolled_back") == 1


def test_a_redelivered_release_is_replayed_without_any_write(world: World) -> None:
    shop = Shop(world)
    allowlist = shop.allowlist()
    app = world.app(allowlist)
    shop.send(f"{REPO}:2.0", "shop-2")
    drain(app)
    updates: list[str] = []
    again = world.app(allowlist)
    again.ecs._client.meta.events.register(
        "before-send.ecs.*", lambda event_name, **_: updates.append(event_name)
    )
    message = {"release": "shop", "image": f"{REPO}:2.0", "deploy_id": "shop-2"}
    world.send(message, group="release/shop", dedup="shop-2-again")

    drain(again)

    assert world.queue_depth() == 0
    assert len(world.revisions("prod-web")) == 2
    writes = [u for u in updates if u.split(".")[-1] in ("RegisterTaskDefinition", "UpdateService")]
    assert writes == []
    assert metric(again, "deployworker_releases_total", release="shop", outcome="deployed") == 1


def test_a_member_deploy_in_its_own_group_is_rejected_with_the_release_group(
    world: World,
) -> None:
    shop = Shop(world)
    app = world.app(shop.allowlist())
    body = {
        "cluster": "prod",
        "service": "web",
        "container": "app",
        "image": f"{REPO}:3.0",
        "deploy_id": "web-3",
    }
    world.send(body, group="prod/web", dedup="web-3")

    drain(app)

    [dead] = world.dead_letters()
    reason = dead["MessageAttributes"]["deployworker.reason"]["StringValue"]
    assert "release/shop" in reason
    assert world.describe(name="web")["taskDefinition"] == shop.web_arn
    # In the release's group it deploys as any single-service message does.
    world.send(body, group="release/shop", dedup="web-3b")
    drain(app)
    assert world.images(name="web") == {"app": f"{REPO}:3.0"}


def test_a_release_message_for_another_group_or_an_unknown_container_is_rejected(
    world: World,
) -> None:
    shop = Shop(world)
    app = world.app(shop.allowlist())
    world.send({"release": "shop", "image": f"{REPO}:2.0", "deploy_id": "x"}, group="prod/web")
    world.send(
        {"release": "shop", "images": {"sidecar": f"{REPO}:2.0"}, "deploy_id": "y"},
        group="release/shop",
    )

    drain(app)

    reasons = sorted(
        d["MessageAttributes"]["deployworker.reason"]["StringValue"] for d in world.dead_letters()
    )
    assert len(reasons) == 2
    assert "release/shop" in reasons[0] or "release/shop" in reasons[1]
    assert any("sidecar" in r for r in reasons)
    assert len(world.revisions("prod-web")) == 1
    assert DEPLOY_KEY_TAG not in world.task_definition(shop.web_arn)[1]


def test_the_rollback_action_returns_every_member_of_a_release(world: World) -> None:
    shop = Shop(world)
    app = world.app(shop.allowlist())
    shop.send(f"{REPO}:2.0", "shop-2")
    drain(app)
    assert shop.schedule_arn() != shop.jobs_arn

    undo = {"release": "shop", "action": "rollback", "to_deploy_id": "shop-2", "deploy_id": "u-2"}
    world.send(undo, group="release/shop", dedup="u-2")
    drain(app)

    assert world.describe(name="web")["taskDefinition"] == shop.web_arn
    assert world.describe(name="worker")["taskDefinition"] == shop.web_arn
    assert shop.schedule_arn() == shop.jobs_arn
    assert shop.targets() == shop.targets_before
    assert len(world.revisions("prod-web")) == 2  # nothing registered
    assert metric(app, "deployworker_releases_total", release="shop", outcome="rolled_back") == 1
    # A rollback of a release that never ran is refused with the reason.
    world.send({**undo, "to_deploy_id": "never", "deploy_id": "u-3"}, group="release/shop")
    drain(app)
    [dead] = world.dead_letters()
    assert "never" in dead["MessageAttributes"]["deployworker.reason"]["StringValue"]


def test_of_two_releases_waiting_in_one_batch_only_the_newest_runs(world: World) -> None:
    shop = Shop(world)
    app = world.app(shop.allowlist())
    shop.send(f"{REPO}:2.0", "shop-2")
    shop.send(f"{REPO}:3.0", "shop-3")

    drain(app)

    assert world.images(name="web") == {"app": f"{REPO}:3.0"}
    assert len(world.revisions("prod-web")) == 2  # shop-2 registered nothing
    assert metric(app, "deployworker_releases_total", release="shop", outcome="superseded") == 1
    assert metric(app, "deployworker_releases_total", release="shop", outcome="deployed") == 1


def test_promote_ships_the_images_another_release_runs(world: World) -> None:
    shop = Shop(world)
    world.service(cluster="staging", name="web", image=f"{REPO}:5.0")
    path = shop.allowlist(promote_from=["staging-shop"])
    document = yaml.safe_load(path.read_text())
    staging: dict[str, Any] = {"name": "staging-shop", "cluster": "staging", "images": [REPO]}
    staging["members"] = [{"service": "web", "containers": ["app"]}]
    document["releases"].append(staging)
    path.write_text(yaml.safe_dump(document))
    app = world.app(path)
    promote = {"release": "shop", "action": "promote", "from": {"release": "staging-shop"}}
    world.send({**promote, "deploy_id": "p-5"}, group="release/shop", dedup="p-5")

    drain(app)

    assert world.images(name="web") == {"app": f"{REPO}:5.0"}
    assert world.images(name="worker") == {"app": f"{REPO}:5.0"}
    jobs = world.task_definition(shop.schedule_arn())[0]
    assert jobs["containerDefinitions"][0]["image"] == f"{REPO}:5.0"
    # The source must be listed in promote_from.
    world.send(
        {"release": "staging-shop", "action": "promote", "from": {"release": "shop"}},
        group="release/staging-shop",
        dedup="p-6",
    )
    drain(app)
    [dead] = world.dead_letters()
    assert "promote_from" in dead["MessageAttributes"]["deployworker.reason"]["StringValue"]


def test_every_member_step_and_the_outcome_are_events(world: World) -> None:
    shop = Shop(world)
    topic, url = events_queue(world)
    app = world.app(shop.allowlist(), events_topic_arn=topic)
    shop.send(f"{REPO}:2.0", "shop-2")

    drain(app)
    app.events.stop()  # type: ignore[union-attr]

    events = [e for e in read_events(world, url) if e.get("release") == "shop"]
    steps = [(e["type"], e.get("service")) for e in events if e["type"].startswith("release.")]
    assert ("release.registered", "prod-web") in steps
    assert ("release.registered", "prod-jobs") in steps
    updated = [s for t, s in steps if t == "release.updated"]
    assert updated == ["worker", "web", "nightly-report", "cleanup/cleanup-task"]
    assert [s for t, s in steps if t == "release.converged"] == ["worker", "web"]
    [outcome] = [e for e in events if e["type"] == "converged"]
    assert outcome["outcome"] == "deployed"
    assert outcome["members"] == {
        "web": "deployed",
        "worker": "deployed",
        "nightly-report": "deployed",
        "cleanup/cleanup-task": "deployed",
    }
