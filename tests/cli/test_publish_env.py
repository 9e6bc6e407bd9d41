"""`publish` reads its destination from the environment, and sends every action."""

from __future__ import annotations

import json

import pytest

from conftest import REGION, World
from deployworker.cli.main import main


def received(world: World) -> list[dict[str, object]]:
    got = world.sqs.receive_message(QueueUrl=world.resources.queue_url, MaxNumberOfMessages=10)
    return [json.loads(m["Body"]) for m in got.get("Messages", [])]


def test_publish_sends_to_the_queue_the_environment_names_and_every_action(
    world: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DEPLOYWORKER_QUEUE_URL", world.resources.queue_url)
    monkeypatch.delenv("DEPLOYWORKER_DEPLOY_TOPIC_ARN", raising=False)
    where = ["--cluster", "prod", "--service", "web", "--region", REGION]
    where += ["--endpoint-url", world.endpoint]
    assert main(["publish", *where, "--action", "promote", "--from", "staging/web"]) == 0
    assert main(["publish", *where, "--action", "rollback", "--to-deploy-id", "build-1"]) == 0
    assert main(["publish", *where, "--action", "redeploy"]) == 0
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len({p["deploy_id"] for p in printed}) == 3  # a fresh deploy_id each run
    bodies = received(world)
    assert [b["action"] for b in bodies] == ["promote", "rollback", "redeploy"]
    assert bodies[0]["from"] == {"cluster": "staging", "service": "web"}
    assert bodies[1]["to_deploy_id"] == "build-1"
    assert main(["publish", *where, "--action", "promote", "--from", "staging"]) == 64
