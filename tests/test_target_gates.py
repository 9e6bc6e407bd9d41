"""Gates of a service in another account and region, end to end through moto.

The target's pipeline measures CloudWatch in the target (moto's AssumeRole acts in the
role's account, and the alarm lives only there), answers the target's PAUSE hook with
the target's ECS, and reads the votes tagged on the target's revision.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

import boto3
import pytest
import yaml

from conftest import (
    REGION,
    REPO,
    World,
    default_entry,
    deploy,
    events_queue,
    metric,
    read_events,
    wait_for,
)
from deployworker.app import App
from deployworker.aws.clients import make_client
from deployworker.cli.main import main
from deployworker.deploy.approvals.votes import approve_command
from deployworker.local.seed import container_definition, create_events_queue
from deployworker.local.simulator import Rules
from gated import canary_with_pause

TARGET = "222222222222"
TARGET_REGION = "us-west-2"
ROLE = f"arn:aws:iam::{TARGET}:role/deployworker-target"
HOOK_STAGE = "POST_TEST_TRAFFIC_SHIFT"
GROUP = f"{TARGET}/{TARGET_REGION}/prod/web"


def in_target(world: World, service: str) -> Any:
    """A client acting in the target account and region (as the target's own admin)."""
    sts = boto3.client("sts", region_name=TARGET_REGION, endpoint_url=world.endpoint)
    creds = sts.assume_role(RoleArn=f"arn:aws:iam::{TARGET}:role/admin", RoleSessionName="setup")
    c = creds["Credentials"]
    client: Any = boto3.client  # the service is a variable: no typed overload applies
    return client(
        service,
        region_name=TARGET_REGION,
        endpoint_url=world.endpoint,
        aws_access_key_id=c["AccessKeyId"],
        aws_secret_access_key=c["SecretAccessKey"],
        aws_session_token=c["SessionToken"],
    )


def alarm(cloudwatch: Any, state: str) -> None:
    cloudwatch.put_metric_alarm(
        AlarmName="web-5xx",
        MetricName="HTTPCode_Target_5XX_Count",
        Namespace="AWS/ApplicationELB",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=10,
        ComparisonOperator="GreaterThanThreshold",
    )
    cloudwatch.set_alarm_state(AlarmName="web-5xx", StateValue=state, StateReason="test")


def gated_app(world: World, gate: dict[str, Any], **settings: Any) -> App:
    path = world.tmp / "accounts.yaml"
    document = {
        "version": 1,
        "accounts": {"prod": {"account_id": TARGET, "role_arn": ROLE}},
        "services": [default_entry(account="prod", region=TARGET_REGION, gates=[gate])],
    }
    path.write_text(yaml.safe_dump(document))
    return world.app(path, **settings)


def run(world: World, app: App, deploy_id: str) -> None:
    body = deploy(f"{REPO}:2.0", deploy_id=deploy_id, account="prod", region=TARGET_REGION)
    world.send(body, group=GROUP)
    for job in app.worker.poll(0):
        job.result(timeout=60)


def image_of(ecs: Any) -> str:
    service = ecs.describe_services(cluster="prod", services=["web"])["services"][0]
    td = ecs.describe_task_definition(taskDefinition=service["taskDefinition"])
    image: str = td["taskDefinition"]["containerDefinitions"][0]["image"]
    return image


ALARMS = {"name": "alarms", "cloudwatch_alarms": ["web-5xx"], "interval": "1s", "count": 2}


def test_a_gate_in_another_account_reads_the_alarm_there_and_continues_the_hook(
    world: World,
) -> None:
    world.simulator.rules = Rules(converge_seconds=0.6, minute_seconds=1.0)
    ecs = in_target(world, "ecs")
    canary_with_pause(ecs)
    alarm(in_target(world, "cloudwatch"), "OK")  # exists only in the target
    app = gated_app(world, {"at": HOOK_STAGE, "analysis": [ALARMS]})
    run(world, app, "canary-1")
    assert metric(app, "deployworker_messages_total", outcome="deployed") == 1
    assert (
        metric(
            app,
            "deployworker_gate_evaluations_total",
            cluster="prod",
            service="web",
            result="passed",
        )
        == 1
    )
    assert image_of(ecs) == f"{REPO}:2.0"
    briefs = ecs.list_service_deployments(cluster="prod", service="web")["serviceDeployments"]
    found = ecs.describe_service_deployments(
        serviceDeploymentArns=[b["serviceDeploymentArn"] for b in briefs]
    )["serviceDeployments"]
    newest = max(found, key=lambda d: d["createdAt"])
    assert newest["status"] == "SUCCESSFUL"
    assert not newest.get("lifecycleHookDetails")  # answered: no hook is active


def test_a_gate_in_another_account_rolls_back_when_the_alarm_there_fires(
    world: World,
) -> None:
    world.simulator.rules = Rules(converge_seconds=0.6, minute_seconds=1.0)
    ecs = in_target(world, "ecs")
    before = canary_with_pause(ecs)
    alarm(in_target(world, "cloudwatch"), "ALARM")
    app = gated_app(world, {"at": HOOK_STAGE, "analysis": [ALARMS]})
    run(world, app, "canary-2")
    assert metric(app, "deployworker_messages_total", outcome="rolled_back") == 1
    assert (
        metric(
            app,
            "deployworker_gate_evaluations_total",
            cluster="prod",
            service="web",
            result="failed",
        )
        == 1
    )
    service = ecs.describe_services(cluster="prod", services=["web"])["services"][0]
    assert service["taskDefinition"] == before


MANAGERS = "arn:aws:iam::123456789012:role/release-managers"


def assumed(world: World, role: str, name: str) -> dict[str, str]:
    """An assumed-role session of a home role, as the environment would hold it."""
    iam = make_client("iam", "eu-west-1", world.endpoint)
    trust = {"Version": "2012-10-17", "Statement": []}
    with contextlib.suppress(iam.exceptions.EntityAlreadyExistsException):
        iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust))
    sts = make_client("sts", "eu-west-1", world.endpoint)
    arn = f"arn:aws:iam::123456789012:role/{role}"
    c = sts.assume_role(RoleArn=arn, RoleSessionName=name)["Credentials"]
    return {
        "AWS_ACCESS_KEY_ID": c["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": c["SecretAccessKey"],
        "AWS_SESSION_TOKEN": c["SessionToken"],
    }


def approve(
    world: World, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], *target: str
) -> int:
    """`deployworker approve` as an approver runs it, with these credentials."""
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    args = ["approve", "--cluster", "prod", "--service", "web", "--deploy-id", "voted"]
    args += ["--queue-url", world.resources.queue_url, "--region", "eu-west-1"]
    return main([*args, "--endpoint-url", world.endpoint, *target])


def vote_tags(ecs: Any) -> dict[str, str]:
    newest = ecs.list_task_definitions(familyPrefix="prod-web")["taskDefinitionArns"][-1]
    tags = ecs.list_tags_for_resource(resourceArn=newest)["tags"]
    return {t["key"]: t["value"] for t in tags if t["key"].startswith("deployworker:vote:")}


def test_an_approval_for_a_deploy_in_another_account_is_tagged_there_and_continues_it(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.simulator.rules = Rules(converge_seconds=0.6, minute_seconds=1.0)
    ecs = in_target(world, "ecs")
    canary_with_pause(ecs)
    gate = {"at": HOOK_STAGE, "approval": {"approvers": [MANAGERS], "timeout": "5m"}}
    topic, events = events_queue(world)
    app = gated_app(world, gate, events_topic_arn=topic)
    monkeypatch.setenv("DEPLOYWORKER_ALLOWLIST_PATH", str(world.tmp / "accounts.yaml"))
    body = deploy(f"{REPO}:2.0", deploy_id="voted", account="prod", region=TARGET_REGION)
    world.send(body, group=GROUP)
    app.worker.start()
    wait_for(
        lambda: metric(app, "deployworker_approvals_pending", cluster="prod", service="web") == 1
    )
    alice = assumed(world, "release-managers", "alice")
    # A vote without the target names home's prod/web, which has no entry here.
    assert approve(world, monkeypatch, alice) == 0
    [dead] = wait_for(world.dead_letters)
    reason = dead["MessageAttributes"]["deployworker.reason"]["StringValue"]
    assert "prod/web is not in the allowlist" in reason
    target = ["--target-account", "prod", "--target-region", TARGET_REGION]
    assert approve(world, monkeypatch, alice, *target) == 0
    wait_for(lambda: metric(app, "deployworker_messages_total", outcome="deployed") == 1, 60)
    assert metric(app, "deployworker_approval_votes_total", result="counted") == 1
    assert image_of(ecs) == f"{REPO}:2.0"
    [vote] = vote_tags(ecs).values()
    assert "release-managers/alice" in vote
    app.events.stop()  # type: ignore[union-attr]
    [asked] = [e for e in read_events(world, events) if e["type"] == "approval_requested"]
    # The command names the target, then where votes go (the worker's region and queue).
    assert asked["gate"]["command"].startswith(
        approve_command("prod", "web", "voted", where=(TARGET, TARGET_REGION))
    )
    assert (
        f"--target-account {TARGET} --target-region us-west-2 --region" in asked["gate"]["command"]
    )


def test_an_ecs_event_from_another_account_wakes_the_targets_watcher(world: World) -> None:
    """The events queue carries the target's events (its bus forwards them): the one
    naming the target's deployment wakes the target's watcher, which settles the deploy
    long before the 60 s safety net; an account nobody watches is dropped and counted."""
    world.service()
    world.simulator.rules = Rules(converge_seconds=0.6, minute_seconds=1.0)
    ecs = in_target(world, "ecs")
    ecs.create_cluster(clusterName="prod")
    revision = ecs.register_task_definition(
        family="prod-web", containerDefinitions=[container_definition("app", f"{REPO}:1.0")]
    )["taskDefinition"]["taskDefinitionArn"]
    ecs.create_service(cluster="prod", serviceName="web", taskDefinition=revision, desiredCount=2)
    url = create_events_queue(world.endpoint, REGION, ["prod"])
    path = world.tmp / "events.yaml"
    document = {
        "version": 1,
        "accounts": {"prod": {"account_id": TARGET, "role_arn": ROLE}},
        "services": [default_entry(account="prod", region=TARGET_REGION)],
    }
    path.write_text(yaml.safe_dump(document))
    app = world.app(path, events_queue_url=url, events_safety_net_seconds=60, events_wait_seconds=1)
    assert app.ecs_events is not None
    app.ecs_events.start()
    body = deploy(f"{REPO}:2.0", deploy_id="evented", account="prod", region=TARGET_REGION)
    world.send(body, group=GROUP)
    jobs = app.worker.poll(0)
    (arn,) = wait_for(lambda: app.targets.built() and app.targets.built()[0].watcher.followed())
    assert app.watcher.followed() == frozenset()  # home follows nothing

    def status() -> str:
        found = ecs.describe_service_deployments(serviceDeploymentArns=[arn])
        return str(found["serviceDeployments"][0]["status"])

    wait_for(lambda: status() == "SUCCESSFUL", 30)
    for account, deployment in (
        ("333333333333", arn.replace(TARGET, "333333333333")),
        (TARGET, arn),
    ):
        event = {
            "version": "0",
            "id": f"from-{account}",
            "detail-type": "ECS Deployment State Change",
            "source": "aws.ecs",
            "account": account,
            "region": TARGET_REGION,
            "time": "2025-05-23T12:31:14Z",
            "resources": [f"arn:aws:ecs:{TARGET_REGION}:{account}:service/prod/web"],
            "detail": {
                "eventName": "SERVICE_DEPLOYMENT_COMPLETED",
                "serviceDeploymentArn": deployment,
            },
        }
        world.sqs.send_message(QueueUrl=url, MessageBody=json.dumps(event))
    for job in jobs:
        job.result(timeout=20)  # the safety net alone would take 60 s
    assert metric(app, "deployworker_messages_total", outcome="deployed") == 1
    assert metric(app, "deployworker_ecs_events_total", result="deployment") == 1
    wait_for(lambda: metric(app, "deployworker_ecs_events_total", result="unwatched") == 1)
