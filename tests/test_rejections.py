"""Messages that cannot be deployed land in the DLQ with a reason and block nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse, HTTPHeaders

from conftest import OTHER_REPO, REGION, REPO, World, deploy, drain, metric
from deployworker.app import build
from deployworker.aws.clients import make_client
from deployworker.errors import ConfigError
from deployworker.settings import Settings
from injected import FakeRaw, inject

NOT_ALLOWED = [
    (deploy(cluster="staging"), "service staging/web is not in the allowlist"),
    (deploy(service="api"), "service prod/api is not in the allowlist"),
    (deploy(container="sidecar"), "container 'sidecar' of prod/web is not allowlisted"),
    (
        deploy(f"{REPO}-evil:1.0"),
        "image repository '123456789012.dkr.ecr.eu-west-1.amazonaws.com/web-evil' is not allowlisted",
    ),
    (
        deploy("docker.io/library/nginx:1.25"),
        "image repository 'docker.io/library/nginx' is not allowlisted",
    ),
    (deploy(cluster="arn:aws:ecs:us-east-1:123456789012:cluster/prod"), "is in region us-east-1"),
    (
        deploy(service="arn:aws:ecs:eu-west-1:999999999999:service/prod/web"),
        "is in account 999999999999, not 123456789012",
    ),
]

INVALID: list[tuple[str | dict[str, Any], str]] = [
    ("{not json", "message body is not valid JSON"),
    (
        json.dumps({"cluster": "prod", "service": "web", "container": "app"}),
        "container and image must be given together",
    ),
    (deploy(colour="blue"), "unknown field 'colour'"),
    (deploy("web:"), "malformed image reference"),
    (deploy(f"{REPO}"), "has neither a tag nor a digest"),
]


def dead_letter_reasons(world: World) -> list[str]:
    return [
        m["MessageAttributes"]["deployworker.reason"]["StringValue"] for m in world.dead_letters()
    ]


@pytest.mark.parametrize(("body", "reason"), NOT_ALLOWED, ids=lambda v: str(v)[:40])
def test_not_allowed_goes_to_dlq_and_the_group_moves_on(
    world: World, body: dict[str, Any], reason: str
) -> None:
    before = world.service()
    app = world.app()
    world.send(body, dedup="bad")
    world.send(deploy(f"{REPO}:5.0", deploy_id="good"), dedup="good")

    drain(app)

    dead = world.dead_letters()
    assert len(dead) == 1
    attributes = dead[0]["MessageAttributes"]
    assert reason in attributes["deployworker.reason"]["StringValue"]
    assert attributes["deployworker.outcome"]["StringValue"] == "rejected_not_allowed"
    assert json.loads(dead[0]["Body"]) == body
    # The denied message changed nothing; the next one in the same group deployed.
    assert world.images()["app"] == f"{REPO}:5.0"
    assert before in world.revisions() and len(world.revisions()) == 2
    assert world.queue_depth() == 0
    assert metric(app, "deployworker_messages_total", outcome="rejected_not_allowed") == 1
    # No per-service label was created from the denied message.
    assert (
        metric(
            app,
            "deployworker_deploys_total",
            cluster="staging",
            service="web",
            outcome="rejected_not_allowed",
        )
        == 0
    )


@pytest.mark.parametrize(("body", "reason"), INVALID, ids=lambda v: str(v)[:40])
def test_invalid_goes_to_dlq_with_reason(
    world: World, body: str | dict[str, Any], reason: str
) -> None:
    before = world.service()
    app = world.app()
    world.send(body, dedup="bad")
    drain(app)
    reasons = dead_letter_reasons(world)
    assert len(reasons) == 1 and reason in reasons[0]
    assert world.revisions() == [before]
    assert world.queue_depth() == 0
    assert metric(app, "deployworker_messages_total", outcome="rejected_invalid") == 1


def test_container_missing_from_task_definition_is_rejected(world: World) -> None:
    before = world.service(containers=("app",))
    app = world.app()
    world.send(deploy(f"{OTHER_REPO}:1.1", container="worker"))
    drain(app)
    reasons = dead_letter_reasons(world)
    assert len(reasons) == 1 and "worker not in task definition prod-web:1" in reasons[0]
    assert world.revisions() == [before]


def test_rollback_of_a_service_not_allowed_is_rejected(world: World) -> None:
    world.service(cluster="staging", name="web")
    app = world.app()
    world.send({"cluster": "staging", "service": "web", "action": "rollback"}, group="staging/web")
    drain(app)
    assert "not in the allowlist" in dead_letter_reasons(world)[0]


def test_queue_without_dlq_is_a_startup_error(world: World) -> None:
    url = world.sqs.create_queue(QueueName="lonely.fifo", Attributes={"FifoQueue": "true"})[
        "QueueUrl"
    ]
    settings = Settings(queue_url=url, region="eu-west-1", endpoint_url=world.endpoint)
    with pytest.raises(
        ConfigError, match="has no redrive policy and DEPLOYWORKER_DLQ_URL is not set"
    ):
        build(settings)


def test_explicit_dlq_setting_wins(world: World) -> None:
    other = world.sqs.create_queue(QueueName="other-dlq.fifo", Attributes={"FifoQueue": "true"})[
        "QueueUrl"
    ]
    app = world.app(dlq_url=other)
    assert app.dlq_url == other
    assert world.app().dlq_url == world.resources.dlq_url


def test_the_worker_learns_its_account_from_sts_and_denies_foreign_arns(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DEPLOYWORKER_ACCOUNT_ID", raising=False)
    before = world.service()
    app = world.app()
    assert app.settings.account_id is None
    foreign = "arn:aws:ecs:eu-west-1:210987654321:service/prod/web"
    world.send(deploy(f"{REPO}:6.0", service=foreign, deploy_id="foreign"))
    drain(app)
    (reason,) = dead_letter_reasons(world)
    assert reason == f"{foreign!r} is in account 210987654321, not 123456789012"
    assert world.revisions() == [before]
    assert world.describe()["taskDefinition"] == before
    assert world.queue_depth() == 0


def test_an_account_sts_cannot_tell_is_a_startup_error(world: World) -> None:
    sts = make_client("sts", REGION, world.endpoint)
    # STS speaks the query protocol: its errors are XML.
    body = b"<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code>"
    body += b"<Message>injected</Message></Error></ErrorResponse>"
    inject(
        sts,
        "GetCallerIdentity",
        [AWSResponse("http://127.0.0.1", 403, HTTPHeaders(), FakeRaw(body))],
    )

    def clients(service: str) -> Any:
        return sts if service == "sts" else make_client(service, REGION, world.endpoint)

    settings = Settings(
        queue_url=world.resources.queue_url, region=REGION, endpoint_url=world.endpoint
    )
    with pytest.raises(ConfigError, match="set DEPLOYWORKER_ACCOUNT_ID"):
        build(settings, clients=clients)
