"""Optional HMAC signing: unsigned, forged, stale and replayed messages cannot deploy."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import REPO, World, deploy, drain
from deployworker.cli.publish import publish
from deployworker.errors import Rejection, RejectionKind
from deployworker.intake.signing import SIGNATURE_ATTRIBUTE, queue_arn, sign, verify

KEY = b"s3cret-key"
GROUP = "prod/web"
QUEUE = "arn:aws:sqs:eu-west-1:123456789012:deploys.fifo"
WHERE = (GROUP, [QUEUE])


def test_sign_and_verify_round_trip() -> None:
    signature = sign('{"a":1}', KEY, 1_700_000_000, GROUP, QUEUE)
    verify('{"a":1}', signature, [KEY], 1_700_000_100, 3600, *WHERE)


def test_either_of_two_keys_verifies() -> None:
    signature = sign('{"a":1}', b"previous", 1_700_000_000, GROUP, QUEUE)
    verify('{"a":1}', signature, [KEY, b"previous"], 1_700_000_001, 300, *WHERE)


def test_the_queue_arn_is_computed_from_its_url() -> None:
    url = "https://sqs.eu-west-1.amazonaws.com/123456789012/deploys.fifo"
    assert queue_arn(url, None) == QUEUE
    assert queue_arn("http://127.0.0.1:5000/123456789012/deploys.fifo", "eu-west-1") == QUEUE
    gov = queue_arn("https://sqs.us-gov-west-1.amazonaws.com/1/q.fifo", None)
    assert gov == "arn:aws-us-gov:sqs:us-gov-west-1:1:q.fifo"


@pytest.mark.parametrize(
    ("body", "signature", "reason"),
    [
        ('{"a":1}', None, "not signed"),
        ('{"a":1}', "sha256=abc", "malformed"),
        ('{"a":1}', "t=1700000000,v1=" + "0" * 64, "is v1"),
        ('{"a":2}', sign('{"a":1}', KEY, 1_700_000_000, GROUP, QUEUE), "does not match"),
        ('{"a":1}', sign('{"a":1}', b"other", 1_700_000_000, GROUP, QUEUE), "does not match"),
        ('{"a":1}', sign('{"a":1}', KEY, 1_700_000_000, "prod/api", QUEUE), "does not match"),
        ('{"a":1}', sign('{"a":1}', KEY, 1_700_000_000, GROUP, QUEUE + "x"), "does not match"),
        ('{"a":1}', sign('{"a":1}', KEY, 1_600_000_000, GROUP, QUEUE), "more than 3600s"),
    ],
)
def test_bad_signatures_are_not_allowed(body: str, signature: str | None, reason: str) -> None:
    with pytest.raises(Rejection) as caught:
        verify(body, signature, [KEY], 1_700_000_100, 3600, *WHERE)
    assert caught.value.kind == RejectionKind.NOT_ALLOWED
    assert reason in caught.value.reason


@given(st.text(max_size=200), st.text(max_size=100))
def test_verify_never_raises_anything_but_rejection(body: str, signature: str) -> None:
    try:
        verify(body, signature, [KEY], time.time(), 3600, *WHERE)
    except Rejection:
        pass


def send(
    world: World, body: str, attributes: dict[str, str] | None = None, dedup: str = "x"
) -> None:
    kwargs: dict[str, Any] = {}
    if attributes:
        kwargs["MessageAttributes"] = {
            k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()
        }
    world.sqs.send_message(
        QueueUrl=world.resources.queue_url,
        MessageBody=body,
        MessageGroupId="prod/web",
        MessageDeduplicationId=dedup,
        **kwargs,
    )


def test_worker_requires_signatures_when_configured(world: World) -> None:
    world.service()
    app = world.app(signing_key="s3cret-key", deploy_topic_arn=world.resources.topic_arn)
    here = queue_arn(world.resources.queue_url, "eu-west-1")
    common: dict[str, Any] = {
        "region": "eu-west-1",
        "endpoint_url": world.endpoint,
        "signing_key": KEY,
    }
    publish(
        deploy(f"{REPO}:2.0", deploy_id="signed-q"),
        topic_arn=None,
        queue_url=world.resources.queue_url,
        **common,
    )
    drain(app)
    assert world.images()["app"] == f"{REPO}:2.0"

    publish(
        deploy(f"{REPO}:3.0", deploy_id="signed-sns"),
        topic_arn=world.resources.topic_arn,
        queue_url=None,
        **common,
    )
    drain(app)
    assert world.images()["app"] == f"{REPO}:3.0"  # signature carried inside the SNS envelope

    body = json.dumps(deploy(f"{REPO}:4.0", deploy_id="unsigned"))
    send(world, body, dedup="unsigned")
    forged = json.dumps(deploy(f"{REPO}:5.0", deploy_id="forged"))
    send(
        world,
        forged,
        {SIGNATURE_ATTRIBUTE: sign(body, KEY, int(time.time()), GROUP, here)},
        dedup="forged",
    )
    stale = json.dumps(deploy(f"{REPO}:6.0", deploy_id="stale"))
    send(
        world,
        stale,
        {SIGNATURE_ATTRIBUTE: sign(stale, KEY, int(time.time()) - 600, GROUP, here)},
        dedup="stale",
    )
    wrong_key = json.dumps(deploy(f"{REPO}:7.0", deploy_id="wrong-key"))
    send(
        world,
        wrong_key,
        {SIGNATURE_ATTRIBUTE: sign(wrong_key, b"guess", int(time.time()), GROUP, here)},
        dedup="wk",
    )
    drain(app)
    assert world.images()["app"] == f"{REPO}:3.0"
    reasons = sorted(
        m["MessageAttributes"]["deployworker.reason"]["StringValue"] for m in world.dead_letters()
    )
    assert len(reasons) == 4
    assert sum("not signed" in r for r in reasons) == 1
    assert sum("does not match" in r for r in reasons) == 2
    assert sum("a replayed message is not accepted" in r for r in reasons) == 1


def test_signing_key_from_secrets_manager(world: World) -> None:
    from deployworker.aws.clients import make_client

    secrets = make_client("secretsmanager", "eu-west-1", world.endpoint)
    arn = secrets.create_secret(Name="deployworker/signing", SecretString="from-secrets")["ARN"]
    world.service()
    app = world.app(signing_key_secret_arn=arn)
    publish(
        deploy(f"{REPO}:2.0", deploy_id="sm"),
        topic_arn=None,
        queue_url=world.resources.queue_url,
        region="eu-west-1",
        endpoint_url=world.endpoint,
        signing_key=b"from-secrets",
    )
    send(world, json.dumps(deploy(f"{REPO}:3.0", deploy_id="nosig")), dedup="nosig")
    drain(app)
    assert world.images()["app"] == f"{REPO}:2.0"
    assert len(world.dead_letters()) == 1


def test_a_signed_message_replayed_to_another_queue_is_refused(world: World) -> None:
    """Captured from the staging worker's queue, sent to production's: same key, same
    group, same body; only the destination differs."""
    world.service()
    app = world.app(signing_key="s3cret-key")
    body = json.dumps(deploy(f"{REPO}:2.0", deploy_id="captured"))
    staging = "arn:aws:sqs:eu-west-1:123456789012:staging-deploys.fifo"
    send(world, body, {SIGNATURE_ATTRIBUTE: sign(body, KEY, int(time.time()), GROUP, staging)})
    drain(app)
    (letter,) = world.dead_letters()
    assert "does not match" in letter["MessageAttributes"]["deployworker.reason"]["StringValue"]
    assert world.images()["app"] != f"{REPO}:2.0"


def test_a_captured_message_replayed_minutes_later_is_refused(world: World) -> None:
    world.service()
    app = world.app(signing_key="s3cret-key")
    here = queue_arn(world.resources.queue_url, "eu-west-1")
    body = json.dumps(deploy(f"{REPO}:2.0", deploy_id="old"))
    captured = sign(body, KEY, int(time.time()) - 400, GROUP, here)  # signed 400 s ago
    send(world, body, {SIGNATURE_ATTRIBUTE: captured})
    drain(app)
    (letter,) = world.dead_letters()
    reason = letter["MessageAttributes"]["deployworker.reason"]["StringValue"]
    assert "more than 300s from when SQS received it" in reason
    assert world.images()["app"] != f"{REPO}:2.0"


def test_two_keys_verify_while_the_secret_rotates(world: World) -> None:
    """AWSCURRENT and AWSPREVIOUS (and AWSPENDING) all verify: replicas restarted one by
    one after a rotation accept what signers send with either key."""
    from deployworker.aws.clients import make_client

    secrets = make_client("secretsmanager", "eu-west-1", world.endpoint)
    arn = secrets.create_secret(Name="deployworker/rotating", SecretString="old-key")["ARN"]
    secrets.put_secret_value(SecretId=arn, SecretString="new-key")  # old -> AWSPREVIOUS
    world.service()
    app = world.app(signing_key_secret_arn=arn)
    common: dict[str, Any] = {"region": "eu-west-1", "endpoint_url": world.endpoint}
    for n, key in ((2, b"old-key"), (3, b"new-key")):
        publish(
            deploy(f"{REPO}:{n}.0", deploy_id=f"k{n}"),
            topic_arn=None,
            queue_url=world.resources.queue_url,
            signing_key=key,
            **common,
        )
        drain(app)
        assert world.images()["app"] == f"{REPO}:{n}.0"
    assert world.dead_letters() == []


def test_a_replayed_deploy_message_does_not_downgrade_the_service(world: World) -> None:
    """The attacker captured build a's signed message and sends it again (with a new
    deduplication id) after build b deployed, well within the signature's five minutes."""
    world.service()
    app = world.app(signing_key="s3cret-key")
    here = queue_arn(world.resources.queue_url, "eu-west-1")
    captured = json.dumps(deploy(f"{REPO}:2.0", deploy_id="a"))
    signature = {SIGNATURE_ATTRIBUTE: sign(captured, KEY, int(time.time()), GROUP, here)}
    send(world, captured, signature, dedup="a")
    drain(app)
    later = json.dumps(deploy(f"{REPO}:3.0", deploy_id="b"))
    send(world, later, {SIGNATURE_ATTRIBUTE: sign(later, KEY, int(time.time()), GROUP, here)}, "b")
    drain(app)
    assert world.images()["app"] == f"{REPO}:3.0"
    revisions = len(world.revisions())

    send(world, captured, signature, dedup="replayed")
    drain(app)
    assert world.images()["app"] == f"{REPO}:3.0"
    assert len(world.revisions()) == revisions
    (letter,) = world.dead_letters()
    reason = letter["MessageAttributes"]["deployworker.reason"]["StringValue"]
    assert "never downgrades a service" in reason
