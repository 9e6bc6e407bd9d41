"""ECS's EventBridge events wake the watcher, end to end: the simulator puts them on
moto's default bus, a rule delivers them to the events queue, the worker's consumer
reads them. An event is a hint: the verdict still comes from DescribeServiceDeployments."""

from __future__ import annotations

import json
import time
from concurrent.futures import Future
from typing import Any

import pytest

from conftest import REGION, REPO, World, default_entry, deploy, metric, wait_for
from deployworker.app import App
from deployworker.aws.clients import make_client
from deployworker.local.seed import (
    ACCOUNT_ID,
    EVENTS_RULE_NAME,
    container_definition,
    create_events_queue,
)

SERVICE_ARN = f"arn:aws:ecs:{REGION}:{ACCOUNT_ID}:service/prod/web"


class Describes:
    """When the worker's own ECS client called DescribeServiceDeployments."""

    def __init__(self, app: App) -> None:
        self.at: list[float] = []
        app.ecs._client.meta.events.register("before-call.ecs", self._record)

    def _record(self, model: Any, **_: Any) -> None:
        if model.name == "DescribeServiceDeployments":
            self.at.append(time.time())

    def between(self, start: float, end: float) -> int:
        return sum(1 for at in self.at if start <= at <= end)


def events_app(world: World, safety_net: float = 60.0, **overrides: Any) -> tuple[App, str]:
    """prod/web, the events queue and rule, and a worker reading it (consumer started)."""
    world.service()
    url = create_events_queue(world.endpoint, REGION, ["prod"])
    app = world.app(
        events_queue_url=url,
        events_safety_net_seconds=safety_net,
        events_wait_seconds=1,
        **overrides,
    )
    assert app.ecs_events is not None
    app.ecs_events.start()
    return app, url


def settled_at(jobs: list[Future[None]]) -> list[float]:
    """Filled with the wall time at which each job settled."""
    done: list[float] = []
    for job in jobs:
        job.add_done_callback(lambda _: done.append(time.time()))
    return done


def current_deployment(world: World) -> dict[str, Any]:
    return world.service_deployment(world.describe()["currentServiceDeployment"])


def test_the_verdict_follows_the_rollouts_end_within_a_second_with_two_describes(
    world: World,
) -> None:
    app, _ = events_app(world)  # rounds every 60 s: only events can be this quick
    describes = Describes(app)
    world.send(deploy(f"{REPO}:2.0", deploy_id="evented"))
    sent = time.time()
    jobs = app.worker.poll(0)
    done = settled_at(jobs)
    for job in jobs:
        job.result(timeout=30)
    found = current_deployment(world)
    assert found["status"] == "SUCCESSFUL"
    ended = found["finishedAt"].timestamp()
    latency = done[0] - ended
    print(f"latency {latency:.3f} s, describes {describes.between(sent, done[0])}")
    assert 0 <= latency <= 1.5, latency
    assert describes.between(sent, done[0]) <= 2
    assert metric(app, "deployworker_messages_total", outcome="deployed") == 1
    assert metric(app, "deployworker_ecs_events_total", result="service") >= 1
    # The rollout's own start cannot end its verdict: counted, and no describe for it.
    assert metric(app, "deployworker_ecs_events_total", result="quiet") == 1
    assert world.queue_depth(app.ecs_events._queue_url) == 0  # type: ignore[union-attr]


def test_a_lost_event_still_settles_within_the_safety_net(world: World) -> None:
    app, _ = events_app(world, safety_net=1.0, watch_interval_seconds=0.1)
    events = make_client("events", REGION, world.endpoint)
    events.remove_targets(Rule=EVENTS_RULE_NAME, Ids=["worker"])  # every event is lost
    describes = Describes(app)
    world.send(deploy(f"{REPO}:2.0", deploy_id="lost"))
    sent = time.time()
    jobs = app.worker.poll(0)
    done = settled_at(jobs)
    for job in jobs:
        job.result(timeout=30)
    found = current_deployment(world)
    assert found["status"] == "SUCCESSFUL"
    latency = done[0] - found["finishedAt"].timestamp()
    assert 0 <= latency <= 1.0 + 0.5, latency  # one safety-net round, plus settling
    # Rounds ran at the safety net's cadence, not at the 0.1 s watch interval.
    assert metric(app, "deployworker_watch_cadence_seconds") == 1.0
    assert describes.between(sent, done[0]) <= (done[0] - sent) / 1.0 + 1
    assert metric(app, "deployworker_messages_total", outcome="deployed") == 1
    assert (
        sum(
            metric(app, "deployworker_ecs_events_total", result=r)
            for r in ("deployment", "service", "unwatched", "ignored", "invalid")
        )
        == 0
    )


def test_a_forged_completed_event_costs_a_describe_and_ends_nothing(world: World) -> None:
    world.service()
    url = create_events_queue(world.endpoint, REGION, ["prod"])
    app = world.app(
        world.allowlist([default_entry(timeout="3s")]),
        events_queue_url=url,
        events_safety_net_seconds=60,
        events_wait_seconds=1,
    )
    assert app.ecs_events is not None
    app.ecs_events.start()
    describes = Describes(app)
    world.send(deploy(f"{REPO}:2-hang", deploy_id="forged"))
    jobs = app.worker.poll(0)
    wait_for(lambda: app.watcher.watching == 1)
    (arn,) = app.watcher.followed()
    forged = {
        "version": "0",
        "id": "forged-1",
        "detail-type": "ECS Deployment State Change",
        "source": "aws.ecs",
        "account": ACCOUNT_ID,
        "time": "2025-05-23T12:31:14Z",
        "region": REGION,
        "resources": [SERVICE_ARN],
        "detail": {
            "eventType": "INFO",
            "eventName": "SERVICE_DEPLOYMENT_COMPLETED",
            "serviceDeploymentArn": arn,
            "deploymentId": "ecs-svc/1",
            "updatedAt": "2025-05-23T12:31:14Z",
            "reason": "ECS deployment ecs-svc/1 completed.",
        },
    }
    before = time.time()
    world.sqs.send_message(QueueUrl=url, MessageBody=json.dumps(forged))
    wait_for(lambda: metric(app, "deployworker_ecs_events_total", result="deployment") == 1)
    wait_for(lambda: describes.between(before, time.time()) >= 1, limit=5)
    assert world.service_deployment(arn)["status"] in ("PENDING", "IN_PROGRESS")  # unfinished
    assert not jobs[0].done()  # no verdict: the deploy goes on
    assert app.watcher.watching == 1
    for job in jobs:
        job.result(timeout=30)
    # Its deadline ended it, with ECS's rollback: the forged COMPLETED counted for nothing.
    assert metric(app, "deployworker_messages_total", outcome="rolled_back") == 1
    assert metric(app, "deployworker_messages_total", outcome="deployed") == 0


def test_events_for_services_nobody_watches_are_dropped_counted_and_not_logged(
    world: World, capfd: pytest.CaptureFixture[str]
) -> None:
    app, url = events_app(world)
    describes = Describes(app)
    world.ecs.create_cluster(clusterName="staging")
    for name in ("api", "billing"):
        body = {
            "version": "0",
            "id": f"other-{name}",
            "detail-type": "ECS Deployment State Change",
            "source": "aws.ecs",
            "account": ACCOUNT_ID,
            "region": REGION,
            "time": "2025-05-23T12:31:14Z",
            "resources": [f"arn:aws:ecs:{REGION}:{ACCOUNT_ID}:service/staging/{name}"],
            "detail": {"eventName": "SERVICE_DEPLOYMENT_COMPLETED", "reason": "secret-ish text"},
        }
        world.sqs.send_message(QueueUrl=url, MessageBody=json.dumps(body))
    world.sqs.send_message(QueueUrl=url, MessageBody="not json at all")
    wait_for(lambda: metric(app, "deployworker_ecs_events_total", result="unwatched") == 2)
    wait_for(lambda: metric(app, "deployworker_ecs_events_total", result="invalid") == 1)
    wait_for(lambda: world.queue_depth(url) == 0)  # read and deleted
    assert describes.at == []
    err = capfd.readouterr().err
    assert "secret-ish text" not in err
    assert "not json at all" not in err


def test_a_newer_deployments_start_wakes_the_overtaken_deploy_its_own_start_does_not(
    world: World,
) -> None:
    app, _ = events_app(world)  # rounds every 60 s: only an event can end this within 30 s
    describes = Describes(app)
    world.send(deploy(f"{REPO}:2-hang", deploy_id="ours"))  # never converges by itself
    jobs = app.worker.poll(0)
    # Our rollout's own start: counted as quiet, and nothing described for it.
    wait_for(lambda: metric(app, "deployworker_ecs_events_total", result="quiet") == 1)
    assert describes.at == []
    theirs: str = world.ecs.register_task_definition(
        # Theirs never ends either: only its start can tell the watcher ours was stopped.
        family="prod-web",
        containerDefinitions=[container_definition("app", f"{REPO}:tf-hang")],
    )["taskDefinition"]["taskDefinitionArn"]
    world.ecs.update_service(cluster="prod", service="web", taskDefinition=theirs)
    for job in jobs:
        job.result(timeout=30)  # the newer deployment's start woke the watcher
    assert metric(app, "deployworker_messages_total", outcome="overtaken") == 1
    assert metric(app, "deployworker_ecs_events_total", result="service") >= 1
    assert world.describe()["taskDefinition"] == theirs
    assert len(describes.at) <= 2
