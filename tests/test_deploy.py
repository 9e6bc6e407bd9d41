"""End-to-end deploys through ThreadedMotoServer (real HTTP) and the rollout simulator."""

from __future__ import annotations

import threading
import time
from typing import Any

from conftest import OTHER_REPO, REPO, World, default_entry, deploy, drain, metric
from deployworker.deploy.plan import deploy_key
from deployworker.local.simulator import Rules

# Fields DescribeTaskDefinition adds that are not part of the definition itself.
READ_ONLY = {
    "taskDefinitionArn",
    "revision",
    "status",
    "requiresAttributes",
    "compatibilities",
    "registeredAt",
    "registeredBy",
    "deregisteredAt",
}


def comparable(td: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in td.items() if k not in READ_ONLY}


def test_happy_path_changes_only_the_image(world: World) -> None:
    before_arn = world.service()
    app = world.app()
    world.send(deploy(f"{REPO}:2.0", deploy_id="build-1", source={"commit": "9f3c2d1"}))

    drain(app)

    service = world.describe()
    assert service["taskDefinition"] != before_arn
    before, before_tags = world.task_definition(before_arn)
    after, after_tags = world.task_definition(service["taskDefinition"])
    expected = comparable(before)
    expected["containerDefinitions"] = [
        {**expected["containerDefinitions"][0], "image": f"{REPO}:2.0"}
    ]
    assert comparable(after) == expected
    assert after["revision"] == before["revision"] + 1
    assert after_tags == {
        **before_tags,
        "deployworker:deploy-key": deploy_key("prod", "web", "build-1"),
        "deployworker:deploy-id": "build-1",
        "deployworker:previous": before_arn,
        "deployworker:source-commit": "9f3c2d1",
        "deployworker:mac": after_tags["deployworker:mac"],  # sealed: `deploy.trust`
    }
    assert len(after_tags["deployworker:mac"]) == 64
    assert world.queue_depth() == 0
    assert world.dead_letters() == []
    assert metric(app, "deployworker_messages_total", outcome="deployed") == 1
    assert (
        metric(app, "deployworker_deploys_total", cluster="prod", service="web", outcome="deployed")
        == 1
    )
    assert metric(app, "deployworker_messages_received_total") == 1


def test_one_container_changes_and_the_other_is_untouched(world: World) -> None:
    world.service(containers=("app", "worker"))
    app = world.app()
    world.send(deploy(f"{REPO}:2.0", deploy_id="one"))
    drain(app)
    assert world.images() == {"app": f"{REPO}:2.0", "worker": f"{OTHER_REPO}:1.0"}


def test_images_form_changes_both_containers(world: World) -> None:
    world.service(containers=("app", "worker"))
    app = world.app()
    body = deploy(container=None, image=None, deploy_id="both")
    body["images"] = {"app": f"{REPO}:3.0", "worker": f"{OTHER_REPO}:3.0"}
    world.send(body)
    drain(app)
    assert world.images() == {"app": f"{REPO}:3.0", "worker": f"{OTHER_REPO}:3.0"}
    assert len(world.revisions()) == 2


def test_same_image_is_a_noop(world: World) -> None:
    # A digest proves itself; a tag is a noop only when proven (tests/deploy/test_mutable_tags).
    pinned = f"{REPO}@sha256:{'1' * 64}"
    world.service(image=pinned)
    app = world.app()
    world.send(deploy(pinned, deploy_id="same"))
    drain(app)
    assert len(world.revisions()) == 1
    assert world.queue_depth() == 0
    assert metric(app, "deployworker_messages_total", outcome="noop") == 1


def test_failed_rollout_is_rolled_back_by_the_worker(world: World) -> None:
    before = world.service()
    app = world.app()
    world.send(deploy(f"{REPO}:2-fail", deploy_id="bad"))
    drain(app)
    assert world.describe()["taskDefinition"] == before
    assert len(world.revisions()) == 2
    assert world.queue_depth() == 0
    assert metric(app, "deployworker_messages_total", outcome="rolled_back") == 1


def test_circuit_breaker_rollback_is_followed_not_repeated(world: World) -> None:
    before = world.service(circuit_breaker=True)
    app = world.app()
    world.send(deploy(f"{REPO}:2-fail", deploy_id="cb"))
    drain(app)
    assert world.describe()["taskDefinition"] == before
    assert metric(app, "deployworker_messages_total", outcome="rolled_back") == 1
    # The circuit breaker rolled back; the worker made only its own deploy's UpdateService.
    assert (
        metric(
            app,
            "deployworker_aws_requests_total",
            service="ecs",
            operation="UpdateService",
            result="ok",
        )
        == 1
    )


def test_failed_rollout_without_rollback_is_failed(world: World) -> None:
    world.service()
    app = world.app(world.allowlist([default_entry(rollback=False)]))
    world.send(deploy(f"{REPO}:2-fail", deploy_id="bad-no-rb"))
    drain(app)
    assert world.images()["app"] == f"{REPO}:2-fail"
    assert world.queue_depth() == 0
    assert metric(app, "deployworker_messages_total", outcome="failed") == 1


def test_timeout_rolls_back(world: World) -> None:
    before = world.service()
    app = world.app(world.allowlist([default_entry(timeout="2s")]))
    world.send(deploy(f"{REPO}:2-hang", deploy_id="slow"))
    started = time.monotonic()
    drain(app)
    assert time.monotonic() - started >= 2
    assert world.describe()["taskDefinition"] == before
    assert metric(app, "deployworker_messages_total", outcome="rolled_back") == 1


def test_sns_envelope_deploys(world: World) -> None:
    world.service()
    app = world.app()
    world.sns.publish(
        TopicArn=world.resources.topic_arn,
        Message='{"cluster":"prod","service":"web","container":"app","image":"%s:4.0"}' % REPO,
        MessageGroupId="prod/web",
    )
    drain(app)
    assert world.images()["app"] == f"{REPO}:4.0"
    assert world.dead_letters() == []


def test_heartbeat_keeps_a_long_deploy_invisible(world: World) -> None:
    world.service()
    world.simulator.rules = Rules(converge_seconds=8)
    app = world.app(visibility_timeout=5, heartbeat_seconds=1)
    world.send(deploy(f"{REPO}:2.0", deploy_id="long"))
    seen: list[str] = []
    stop = threading.Event()

    def competing_consumer() -> None:
        while not stop.is_set():
            got = world.sqs.receive_message(QueueUrl=world.resources.queue_url, WaitTimeSeconds=0)
            seen.extend(m["MessageId"] for m in got.get("Messages", []))
            time.sleep(0.3)

    started = time.monotonic()
    jobs = app.worker.poll(0)
    consumer = threading.Thread(target=competing_consumer)
    consumer.start()
    try:
        for job in jobs:
            job.result(timeout=30)
    finally:
        stop.set()
        consumer.join()
    assert time.monotonic() - started > 7  # well past the 5 s visibility timeout
    assert seen == []
    assert world.images()["app"] == f"{REPO}:2.0"
    assert world.queue_depth() == 0


def test_every_deploy_log_line_carries_its_fields_and_no_secrets(world: World) -> None:
    import io
    import json

    from deployworker.observe.logs import configure_logging

    world.service()
    app = world.app()
    stream = io.StringIO()
    configure_logging("debug", stream)
    try:
        world.send(deploy(f"{REPO}:2-fail", deploy_id="logged", source={"actor": "ci"}))
        drain(app)
    finally:
        configure_logging()
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    deploy_lines = [e for e in lines if e["event"].split(".")[0] in ("deploy", "rollback")]
    assert {e["event"] for e in deploy_lines} >= {
        "deploy.accepted",
        "deploy.registered",
        "deploy.updated",
        "deploy.failed",
        "rollback.started",
        "rollback.converged",
        "deploy.finished",
    }
    for event in deploy_lines:
        assert event["deploy_id"] == "logged"
        assert (event["cluster"], event["service"]) == ("prod", "web")
        assert event["image"] == f"{REPO}:2-fail"
        assert event["source"] == {"actor": "ci"}
    text = stream.getvalue()
    assert "APP_MODE" not in text and "db-password" not in text
