"""Deploy events routed by SNS subscription filter policies on their message attributes,
and published as AWS Chatbot custom notifications, end to end through moto's SNS."""

from __future__ import annotations

import json
from typing import Any

from conftest import REPO, World, default_entry, deploy, drain
from deployworker.observe.chatbot import chatbot
from deployworker.observe.events import DeployEvent


def subscribed(world: World, topic: str, name: str, policy: dict[str, Any]) -> str:
    """A queue subscribed to `topic` (raw delivery) through `policy`."""
    url: str = world.sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = world.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    world.sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=arn["Attributes"]["QueueArn"],
        Attributes={"RawMessageDelivery": "true", "FilterPolicy": json.dumps(policy)},
    )
    return url


def received(world: World, url: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for _ in range(20):
        got = world.sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
        ).get("Messages", [])
        if not got:
            break
        found += [{**json.loads(m["Body"]), "_attributes": m["MessageAttributes"]} for m in got]
    return found


def test_filter_policies_route_chatbot_notifications_per_service_and_outcome(
    world: World,
) -> None:
    world.service()
    world.service(name="api")
    topic: str = world.sns.create_topic(Name="deploy-events")["TopicArn"]
    web = subscribed(world, topic, "web-team", {"cluster": ["prod"], "service": ["web"]})
    failures = subscribed(world, topic, "on-call", {"outcome": ["failed", "rolled_back"]})
    allowlist = world.allowlist([default_entry(), default_entry(service="api")])
    app = world.app(allowlist, events_topic_arn=topic, events_format="chatbot")
    world.send(deploy(f"{REPO}:2.0", deploy_id="web-ok"), group="prod/web")
    world.send(deploy(f"{REPO}:2-fail", service="api", deploy_id="api-bad"), group="prod/api")
    drain(app)
    app.events.stop()  # type: ignore[union-attr]  # publishes what is queued

    to_web = received(world, web)
    assert to_web and {n["metadata"]["additionalContext"]["service"] for n in to_web} == {"web"}
    assert {n["metadata"]["threadId"] for n in to_web} == {"web-ok"}
    for notification in to_web:
        assert (notification["version"], notification["source"]) == ("1.0", "custom")
        assert notification["content"]["textType"] == "client-markdown"
        assert notification["_attributes"]["service"] == {
            "DataType": "String",
            "StringValue": "web",
        }
    finished = [n for n in to_web if n["metadata"]["eventType"] == "converged"]
    assert finished[0]["content"]["title"] == ":white_check_mark: prod/web: deployed"

    to_on_call = received(world, failures)
    assert [
        (n["metadata"]["threadId"], n["metadata"]["additionalContext"]["outcome"])
        for n in to_on_call
    ] == [("api-bad", "rolled_back")]
    assert (
        to_on_call[0]["_attributes"]["type"]["StringValue"]
        == to_on_call[0]["metadata"]["eventType"]
    )


def test_an_approval_request_lists_its_commands_as_next_steps() -> None:
    event = DeployEvent(
        "approval_requested",
        deploy_id="b-1",
        cluster="prod",
        service="web",
        gate={"command": "deployworker approve ...", "reject_command": "deployworker reject ..."},
    )
    found = json.loads(chatbot(event))
    assert found["content"]["nextSteps"] == [
        "`deployworker approve ...`",
        "`deployworker reject ...`",
    ]
    assert found["metadata"]["threadId"] == "b-1"
    assert all(isinstance(v, str) for v in found["metadata"]["additionalContext"].values())
