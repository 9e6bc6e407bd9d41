"""What one signed deploy costs in ECS calls, end to end through moto and the simulator.

With signing on, a deploy looks for its deploy_id among the service's recent
deployments (a replayed message must not downgrade the service). The deployments are
listed every time; what the worker's own earlier deployment rolls out, and what a
service revision runs, never change, so they are not described again."""

from __future__ import annotations

import json
import time
from typing import Any

from conftest import REPO, World, deploy, drain
from deployworker.app import App
from deployworker.intake.signing import SIGNATURE_ATTRIBUTE, queue_arn, sign
from deployworker.local.seed import container_definition

KEY = "s3cret-key"


class Calls:
    """The ECS operations the worker's own client calls, in order."""

    def __init__(self, app: App) -> None:
        self.made: list[str] = []
        app.ecs._client.meta.events.register("before-call.ecs", self._record)

    def _record(self, model: Any, **_: Any) -> None:
        self.made.append(model.name)

    def since(self, start: int) -> list[str]:
        return [name for name in self.made[start:] if name != "DescribeServiceDeployments"]


def send_signed(world: World, image: str, deploy_id: str) -> None:
    body = json.dumps(deploy(image, deploy_id=deploy_id))
    here = queue_arn(world.resources.queue_url, "eu-west-1")
    signature = sign(body, KEY.encode(), int(time.time()), "prod/web", here)
    world.sqs.send_message(
        QueueUrl=world.resources.queue_url,
        MessageBody=body,
        MessageGroupId="prod/web",
        MessageDeduplicationId=deploy_id,
        MessageAttributes={SIGNATURE_ATTRIBUTE: {"DataType": "String", "StringValue": signature}},
    )


def test_a_second_signed_deploy_describes_no_service_revision(world: World) -> None:
    world.service()
    app = world.app(signing_key=KEY)
    calls = Calls(app)
    send_signed(world, f"{REPO}:2.0", "first")
    drain(app)
    start = len(calls.made)
    send_signed(world, f"{REPO}:3.0", "second")
    drain(app)

    assert world.images()["app"] == f"{REPO}:3.0"
    # The watch's DescribeServiceDeployments aside: read the service and its family's
    # newest revision, list the recent deployments (the replay check: the only one is
    # the worker's own), register, update. No DescribeServiceRevisions.
    assert calls.since(start) == [
        "DescribeServices",
        "DescribeTaskDefinition",
        "ListServiceDeployments",
        "RegisterTaskDefinition",
        "UpdateService",
    ]


def test_a_deployment_someone_else_started_is_described_not_assumed(world: World) -> None:
    world.service()
    app = world.app(signing_key=KEY)
    calls = Calls(app)
    send_signed(world, f"{REPO}:2.0", "first")
    drain(app)
    by_hand = world.ecs.register_task_definition(
        family="prod-web", containerDefinitions=[container_definition("app", f"{REPO}:9.0")]
    )["taskDefinition"]["taskDefinitionArn"]
    world.ecs.update_service(cluster="prod", service="web", taskDefinition=by_hand)
    start = len(calls.made)
    send_signed(world, f"{REPO}:3.0", "second")
    drain(app)

    assert world.images()["app"] == f"{REPO}:3.0"
    made = calls.since(start)
    assert made.count("ListServiceDeployments") == 1
    assert made.count("DescribeServiceRevisions") == 1  # the outside deployment's target
