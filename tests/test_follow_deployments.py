"""The worker follows ECS service deployments, end to end through moto and the simulator:
every strategy, ECS's own rollbacks, native rollback at the deadline, outside changes
that overtake a deploy, and controllers the worker must not touch."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from conftest import (
    REPO,
    World,
    default_entry,
    deploy,
    drain,
    events_queue,
    metric,
    read_events,
    wait_for,
)
from deployworker.app import App
from deployworker.cli.main import main
from deployworker.local.seed import container_definition
from deployworker.local.simulator import Rules
from deployworker.observe.logs import configure_logging

WRITES = {
    "RegisterTaskDefinition",
    "UpdateService",
    "StopServiceDeployment",
    "ContinueServiceDeployment",
    "RunTask",
}


def service(
    world: World,
    configuration: dict[str, Any] | None = None,
    controller: str | None = None,
    image: str = f"{REPO}:1.0",
    launch_type: str | None = None,
) -> str:
    """prod/web with the given deploymentConfiguration and controller; returns its TD."""
    world.ecs.create_cluster(clusterName="prod")
    arn: str = world.ecs.register_task_definition(
        family="prod-web",
        containerDefinitions=[container_definition("app", image)],
        cpu="256",
        memory="512",
    )["taskDefinition"]["taskDefinitionArn"]
    kwargs: dict[str, Any] = {}
    if configuration is not None:
        kwargs["deploymentConfiguration"] = configuration
    if controller is not None:
        kwargs["deploymentController"] = {"type": controller}
    if launch_type is not None:  # FARGATE: moto runs a migration task without instances
        kwargs["launchType"] = launch_type
    world.ecs.create_service(
        cluster="prod", serviceName="web", taskDefinition=arn, desiredCount=2, **kwargs
    )
    return arn


class Calls:
    """Every ECS call the worker's own client makes, in order, with when it was made."""

    def __init__(self, app: App) -> None:
        self.made: list[tuple[float, str]] = []
        client = app.ecs._client
        client.meta.events.register("before-call.ecs", self._record)

    def _record(self, model: Any, **_: Any) -> None:
        self.made.append((time.monotonic(), model.name))

    def writes(self, since: float = 0.0) -> list[str]:
        return [name for at, name in self.made if at >= since and name in WRITES]


def deployments(world: World) -> list[dict[str, Any]]:
    """Every service deployment of prod/web, described, newest first."""
    briefs = world.ecs.list_service_deployments(cluster="prod", service="web")["serviceDeployments"]
    arns = [b["serviceDeploymentArn"] for b in briefs]
    found: list[dict[str, Any]] = world.ecs.describe_service_deployments(
        serviceDeploymentArns=arns
    )["serviceDeployments"]
    return sorted(found, key=lambda d: d["createdAt"], reverse=True)


def test_an_outside_update_overtakes_the_deploy_and_the_worker_changes_nothing(
    world: World,
) -> None:
    service(world)
    app = world.app()
    calls = Calls(app)
    world.send(deploy(f"{REPO}:2-hang", deploy_id="ours"))
    jobs = app.worker.poll(0)
    wait_for(lambda: len(deployments(world)) == 2)  # ours is rolling out
    theirs: str = world.ecs.register_task_definition(
        family="prod-web", containerDefinitions=[container_definition("app", f"{REPO}:tf")]
    )["taskDefinition"]["taskDefinitionArn"]
    outside = time.monotonic()
    world.ecs.update_service(cluster="prod", service="web", taskDefinition=theirs)
    for job in jobs:
        job.result(timeout=30)
    assert world.describe()["taskDefinition"] == theirs
    assert metric(app, "deployworker_messages_total", outcome="overtaken") == 1
    assert calls.writes(since=outside) == []
    ours = deployments(world)[1]
    assert ours["status"] == "STOPPED"
    assert world.queue_depth() == 0


def test_a_canary_longer_than_the_timeout_is_deployed_not_rolled_back(
    world: World, capfd: pytest.CaptureFixture[str]
) -> None:
    world.simulator.rules = Rules(converge_seconds=0.6, minute_seconds=0.4)
    canary = {
        "strategy": "CANARY",
        "bakeTimeInMinutes": 3,
        "canaryConfiguration": {"canaryPercent": 10.0, "canaryBakeTimeInMinutes": 2},
    }
    service(world, canary)
    # 1 s: shorter than the canary bake (0.8 s here is 2 minutes) plus the bake (1.2 s).
    app = world.app(deploy_timeout_seconds=1)
    calls = Calls(app)
    world.send(deploy(f"{REPO}:2.0", deploy_id="canary"))
    started = time.monotonic()
    drain(app)
    assert time.monotonic() - started >= 2.0  # both bakes ran
    assert metric(app, "deployworker_messages_total", outcome="deployed") == 1
    assert world.images()["app"] == f"{REPO}:2.0"
    assert deployments(world)[0]["status"] == "SUCCESSFUL"
    assert "StopServiceDeployment" not in calls.writes()
    err = capfd.readouterr().err
    assert '"event": "deploy.timeout_raised"' in err
    assert '"minimum_seconds": 900.0' in err  # 3 + 2 minutes of bakes, plus 10 of margin


def test_a_failing_canary_is_rolled_back_by_ecs_and_not_by_the_worker(world: World) -> None:
    world.simulator.rules = Rules(converge_seconds=0.6, minute_seconds=0.05)
    before = service(
        world,
        {
            "strategy": "CANARY",
            "bakeTimeInMinutes": 1,
            "canaryConfiguration": {"canaryPercent": 5.0, "canaryBakeTimeInMinutes": 1},
            "deploymentCircuitBreaker": {"enable": True, "rollback": True},
        },
    )
    app = world.app()
    calls = Calls(app)
    world.send(deploy(f"{REPO}:2-fail", deploy_id="bad-canary"))
    drain(app)
    assert metric(app, "deployworker_messages_total", outcome="rolled_back") == 1
    assert world.describe()["taskDefinition"] == before
    assert calls.writes() == ["RegisterTaskDefinition", "UpdateService"]
    assert deployments(world)[0]["status"] == "ROLLBACK_SUCCESSFUL"


def test_a_hanging_rollout_is_stopped_with_native_rollback_past_its_deadline(
    world: World,
) -> None:
    before = service(world)
    app = world.app(world.allowlist([default_entry(timeout="2s")]))
    calls = Calls(app)
    world.send(deploy(f"{REPO}:2-hang", deploy_id="slow"))
    drain(app)
    assert metric(app, "deployworker_messages_total", outcome="rolled_back") == 1
    assert world.describe()["taskDefinition"] == before
    assert calls.writes() == ["RegisterTaskDefinition", "UpdateService", "StopServiceDeployment"]
    found = deployments(world)
    assert len(found) == 2  # the service's first deployment and ours: no third one
    assert found[0]["status"] == "ROLLBACK_SUCCESSFUL"


@pytest.mark.parametrize("controller", ["EXTERNAL", "CODE_DEPLOY"])
def test_services_ecs_does_not_deploy_itself_are_rejected_before_anything_changes(
    world: World, controller: str
) -> None:
    service(world, controller=controller)
    app = world.app(
        world.allowlist([default_entry(migrate={"container": "app", "command": ["m"]})])
    )
    calls = Calls(app)
    world.send(deploy(f"{REPO}:2.0", deploy_id="ctl"))
    drain(app)
    assert len(world.revisions()) == 1  # no new revision of the family
    assert calls.writes() == []  # nothing registered, migrated or updated
    (dead,) = world.dead_letters()
    reason = dead["MessageAttributes"]["deployworker.reason"]["StringValue"]
    assert f"{controller} deployment controller" in reason
    assert "ECS controller" in reason
    assert world.queue_depth() == 0


def test_status_wait_through_a_migration_never_reports_an_end_too_early(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    service(world, launch_type="FARGATE")
    entry = default_entry(migrate={"container": "app", "command": ["./migrate"]})
    app = world.app(world.allowlist([entry]), poll_wait_seconds=1, watch_interval_seconds=0.3)
    world.send(deploy(f"{REPO}:7.0", deploy_id="migrating"))
    codes: list[int] = []
    waiter = threading.Thread(
        target=lambda: codes.append(
            main(
                [
                    "status",
                    "--cluster",
                    "prod",
                    "--service",
                    "web",
                    "--deploy-id",
                    "migrating",
                    "--endpoint-url",
                    world.endpoint,
                    "--region",
                    "eu-west-1",
                    "--wait",
                    "--interval",
                    "0.05",
                    "--timeout",
                    "60",
                ]
            )
        )
    )
    waiter.start()
    app.start(serve_http=False)
    waiter.join(timeout=90)
    configure_logging("info")
    lines = [line for line in capsys.readouterr().out.splitlines() if "deploy migrating" in line]
    states = [line.split(": ")[1] for line in lines]
    assert codes == [0]
    assert states[-1] == "succeeded"
    assert "registered, not yet rolled out" in "\n".join(lines)
    assert set(states[:-1]) <= {"pending", "in_progress"}


def test_a_failed_deploy_event_carries_stopped_task_reasons_and_exit_codes(
    world: World,
) -> None:
    topic, url = events_queue(world)
    service(world, {"deploymentCircuitBreaker": {"enable": True, "rollback": True}})
    app = world.app(events_topic_arn=topic)
    world.send(deploy(f"{REPO}:3-fail", deploy_id="broken"))
    drain(app)
    app.events.stop()  # type: ignore[union-attr]
    (event,) = [e for e in read_events(world, url) if e["type"] == "rolled_back"]
    evidence = event["evidence"]
    assert "circuit breaker" in evidence["reason"]
    assert evidence["stopped_tasks"], evidence
    task = evidence["stopped_tasks"][0]
    assert task["stopped_reason"]
    assert [c["exit_code"] for c in task["containers"]] == [1]
    assert task["task"].startswith("arn:aws:ecs:")


def test_the_rollback_action_stops_an_unfinished_deployment_through_ecs(world: World) -> None:
    before = service(world)
    hanging: str = world.ecs.register_task_definition(
        family="prod-web", containerDefinitions=[container_definition("app", f"{REPO}:9-hang")]
    )["taskDefinition"]["taskDefinitionArn"]
    world.ecs.update_service(cluster="prod", service="web", taskDefinition=hanging)
    app = world.app()
    calls = Calls(app)
    world.send({"cluster": "prod", "service": "web", "action": "rollback", "deploy_id": "undo"})
    drain(app)
    assert metric(app, "deployworker_messages_total", outcome="deployed") == 1
    assert calls.writes() == ["StopServiceDeployment"]
    assert world.describe()["taskDefinition"] == before
    found = deployments(world)
    assert len(found) == 2
    assert found[0]["status"] == "ROLLBACK_SUCCESSFUL"


def test_a_deploy_paused_at_a_hook_is_in_progress_and_ecs_timeout_action_applies(
    world: World, capfd: pytest.CaptureFixture[str]
) -> None:
    world.simulator.rules = Rules(converge_seconds=0.6, minute_seconds=3.0)
    hook = {
        "targetType": "PAUSE",
        "lifecycleStages": ["POST_TEST_TRAFFIC_SHIFT"],
        "timeoutConfiguration": {"timeoutInMinutes": 1, "action": "CONTINUE"},
    }
    service(world, {"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 0, "lifecycleHooks": [hook]})
    app = world.app()
    world.send(deploy(f"{REPO}:2.0", deploy_id="paused"))
    jobs = app.worker.poll(0)
    wait_for(lambda: metric(app, "deployworker_deploys_paused") == 1)
    code = main(
        [
            "status",
            "--cluster",
            "prod",
            "--service",
            "web",
            "--deploy-id",
            "paused",
            "--endpoint-url",
            world.endpoint,
            "--region",
            "eu-west-1",
        ]
    )
    first = capfd.readouterr()
    out = first.out
    assert code == 4  # in progress
    assert "in_progress: paused at POST_TEST_TRAFFIC_SHIFT until" in out
    assert "(then CONTINUE)" in out
    for job in jobs:
        job.result(timeout=30)
    assert metric(app, "deployworker_messages_total", outcome="deployed") == 1
    assert metric(app, "deployworker_deploys_paused") == 0
    err = first.err + capfd.readouterr().err
    assert '"event": "deploy.paused"' in err
    assert '"timeout_action": "CONTINUE"' in err
    assert '"stage": "POST_TEST_TRAFFIC_SHIFT"' in err


def test_a_service_scaled_to_zero_says_nothing_was_started_or_verified(world: World) -> None:
    topic, url = events_queue(world)
    service(world)
    world.ecs.update_service(cluster="prod", service="web", desiredCount=0)
    app = world.app(events_topic_arn=topic)
    world.send(deploy(f"{REPO}:2.0", deploy_id="empty"))
    drain(app)
    app.events.stop()  # type: ignore[union-attr]
    assert world.images()["app"] == f"{REPO}:2.0"
    assert metric(app, "deployworker_messages_total", outcome="deployed") == 1
    (event,) = [e for e in read_events(world, url) if e["type"] == "converged"]
    assert event["outcome"] == "deployed"
    assert event["reason"] == "desiredCount is 0: nothing was started, nothing verified"


def test_a_service_deleted_mid_deploy_fails_at_once_without_a_rollback(world: World) -> None:
    topic, url = events_queue(world)
    service(world)
    # A deadline far beyond the test's bound: only noticing the deletion can end it.
    app = world.app(deploy_timeout_seconds=3600, events_topic_arn=topic)
    calls = Calls(app)
    world.send(deploy(f"{REPO}:2-hang", deploy_id="orphaned"))
    (group,) = app.worker.poll(0)
    hanging = wait_for(
        lambda: [d for d in deployments(world) if d["status"] == "IN_PROGRESS"] or None
    )
    world.ecs.delete_service(cluster="prod", service="web", force=True)
    group.result(timeout=60)  # a bound against hanging, far below the deadline
    assert metric(app, "deployworker_messages_total", outcome="failed") == 1
    assert calls.writes() == ["RegisterTaskDefinition", "UpdateService"]  # no rollback call
    assert world.queue_depth() == 0
    assert world.dead_letters() == []
    assert hanging[0]["serviceDeploymentArn"]
    app.events.stop()  # type: ignore[union-attr]
    (event,) = [e for e in read_events(world, url) if e["type"] == "failed"]
    assert event["reason"] == (
        "service prod/web is INACTIVE: it was deleted during the deploy, "
        "so there is nothing to follow or roll back"
    )
