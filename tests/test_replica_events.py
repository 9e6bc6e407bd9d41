"""Several replicas, one source of ECS's events: each replica reads a queue of its own
subscribed to the events topic, so every replica sees every event and the one that
follows a deployment learns of its end at once, whichever replica took its message."""

from __future__ import annotations

import time
from typing import Any

from conftest import REGION, REPO, World, deploy, metric
from deployworker.app import App
from deployworker.local.seed import create_events_topic
from deployworker.local.simulator import Rules
from deployworker.rollout.replicaqueue import HEARTBEAT_TAG, TOPIC_TAG

PREFIX = "test-ecs-events"


def replicas(world: World, count: int) -> tuple[list[App], str]:
    world.service()
    topic = create_events_topic(world.endpoint, REGION, ["prod"])
    apps = []
    for _ in range(count):
        app = world.app(
            ecs_events_topic_arn=topic,
            ecs_events_prefix=PREFIX,
            events_safety_net_seconds=120,  # only events can end a deploy within seconds
            events_wait_seconds=1,
            replicas=count,
        )
        assert app.ecs_events is not None
        app.ecs_events.start()
        apps.append(app)
    return apps, topic


def own_queues(world: World) -> list[str]:
    found: list[str] = world.sqs.list_queues(QueueNamePrefix=PREFIX).get("QueueUrls", [])
    return found


def test_every_replica_hears_of_the_deploy_it_follows_at_once(world: World) -> None:
    world.simulator.rules = Rules(converge_seconds=0.6)
    apps, topic = replicas(world, 3)
    assert len(own_queues(world)) == 3
    subscribed = world.sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert len(subscribed) == 3

    took: list[float] = []
    for n, app in enumerate(apps):  # each deploy taken by a different replica, in turn
        world.send(deploy(f"{REPO}:{n + 2}.0", deploy_id=f"replica-{n}"))
        started = time.monotonic()
        for job in app.worker.poll(0):
            job.result(timeout=60)
        took.append(time.monotonic() - started)
        assert metric(app, "deployworker_messages_total", outcome="deployed") == 1

    # With one shared queue two of three would wait for the 120 s safety net (or time out).
    assert max(took) < 15, took
    assert world.images() == {"app": f"{REPO}:4.0"}
    for app in apps:  # every replica read the events of all three rollouts
        heard = sum(
            metric(app, "deployworker_ecs_events_total", result=result)
            for result in ("deployment", "service", "unwatched", "ignored", "invalid", "quiet")
        )
        assert heard >= 3, heard


def test_a_replica_removes_its_queue_when_it_stops_and_sweeps_dead_ones(world: World) -> None:
    apps, topic = replicas(world, 2)
    first, second = apps
    assert first.ecs_events is not None and second.ecs_events is not None
    first.ecs_events.stop()
    assert len(own_queues(world)) == 1
    assert len(world.sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]) == 1

    # `second` dies without a word: its queue keeps its last heartbeat.
    [left] = own_queues(world)
    world.sqs.tag_queue(QueueUrl=left, Tags={HEARTBEAT_TAG: str(int(time.time()) - 3600)})
    other: dict[str, Any] = world.sqs.create_queue(
        QueueName=f"{PREFIX}-not-ours", tags={TOPIC_TAG: "arn:aws:sns:eu-west-1:1:other"}
    )
    third = world.app(ecs_events_topic_arn=topic, ecs_events_prefix=PREFIX, events_wait_seconds=1)
    assert third.ecs_events is not None
    third.ecs_events.start()

    queues = own_queues(world)
    assert left not in queues  # the dead replica's queue is gone, with its subscription
    assert other["QueueUrl"] in queues  # another topic's queue is not ours to remove
    assert len(queues) == 2
    assert len(world.sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]) == 1
    third.ecs_events.stop()
    second.ecs_events.stop()
