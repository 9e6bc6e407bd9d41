"""Message parsing: table-driven cases and a hypothesis fuzz of the documented contract."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from deployworker.errors import Rejection, RejectionKind
from deployworker.intake.message import DeployRequest
from deployworker.intake.parse import parse_message

REPO = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/web"
DIGEST = "sha256:" + "a" * 64
BASE = {"cluster": "prod", "service": "web", "container": "app", "image": f"{REPO}:1.4.2"}


def body(**changes: Any) -> str:
    document = {**BASE, **changes}
    return json.dumps({k: v for k, v in document.items() if v is not None})


VALID = [
    (body(), {"app": f"{REPO}:1.4.2"}),
    (body(image=f"{REPO}@{DIGEST}"), {"app": f"{REPO}@{DIGEST}"}),
    (body(image=f"{REPO}:1.4.2@{DIGEST}"), {"app": f"{REPO}:1.4.2@{DIGEST}"}),
    (body(image="localhost:5000/team/web:dev"), {"app": "localhost:5000/team/web:dev"}),
    (
        body(container=None, image=None, images={"app": f"{REPO}:1", "worker": f"{REPO}:2"}),
        {"app": f"{REPO}:1", "worker": f"{REPO}:2"},
    ),
    (body(cluster="arn:aws:ecs:eu-west-1:123456789012:cluster/prod"), {"app": f"{REPO}:1.4.2"}),
    (body(service="arn:aws:ecs:eu-west-1:123456789012:service/prod/web"), {"app": f"{REPO}:1.4.2"}),
    (
        body(
            deploy_id="build-8812",
            source={"commit": "9f3c2d1", "url": "https://ci/1", "actor": "ci"},
        ),
        {"app": f"{REPO}:1.4.2"},
    ),
    (body(container=None, image=None, action="rollback"), {}),
]


@pytest.mark.parametrize(("text", "targets"), VALID)
def test_valid_messages(text: str, targets: dict[str, str]) -> None:
    request = parse_message(text)
    assert {k: str(v) for k, v in request.targets.items()} == targets
    assert request.cluster_ref.name == "prod"
    assert request.service_ref.name == "web"


def sns(message: str) -> str:
    return json.dumps(
        {
            "Type": "Notification",
            "MessageId": "m",
            "TopicArn": "arn:aws:sns:eu-west-1:1:t.fifo",
            "Message": message,
        },
        indent=2,
    )


def test_sns_envelope_is_unwrapped() -> None:
    assert parse_message(sns(body())).container == "app"


INVALID = [
    ("", "not valid JSON"),
    ("{", "not valid JSON"),
    ('{"cluster": "prod"', "not valid JSON"),
    ("[1, 2]", "must be a JSON object, not list"),
    ("x" * (256 * 1024 + 1), "larger than"),
    ("[" * 50 + "]" * 50, "nested deeper"),
    ("[" * 100000 + "]" * 100000, "nested"),
    (body(colour="blue"), "unknown field 'colour'"),
    (body(source={"commit": "1", "branch": "main"}), "unknown field 'source.branch'"),
    (body(cluster=None), "cluster: Field required"),
    (body(cluster=""), "cluster"),
    (body(cluster=5), "cluster: Input should be a valid string"),
    (body(cluster="prod cluster"), "neither a valid cluster name nor a cluster ARN"),
    (body(service="../web"), "service"),
    (body(service="web;rm -rf /"), "service"),
    (body(service="wеb"), "service"),  # Cyrillic e
    (body(container="app\n"), "not a valid ECS container name"),
    (body(image="web"), "neither a tag nor a digest"),
    (body(image="web:"), "malformed"),
    (body(image="Web:1"), "malformed"),
    (body(image=f"{REPO}:bad tag"), "malformed"),
    (body(image=f"{REPO}@sha256:abc"), "malformed"),
    (body(image=f"{REPO}:{'t' * 200}"), "malformed"),
    (body(image=None), "container and image must be given together"),
    (body(images={"worker": f"{REPO}:1"}), "either container+image or images"),
    (body(container=None, image=None), "needs container+image or images"),
    (body(container=None, image=None, images={}), "at least one container"),
    (body(action="destroy"), "action"),
    (body(action="rollback"), "a rollback names no container"),
    (body(deploy_id="has space"), "deploy_id"),
    (body(deploy_id=""), "deploy_id"),
    (body(deploy_id="aws:build-1"), "starts with 'aws:', which AWS reserves"),
    (body(deploy_id="AWS:build-1"), "starts with 'aws:', which AWS reserves"),
    (body(version=2), "version"),
    (body(cluster="arn:aws:ecs:eu-west-1:123456789012:service/prod/web"), "nor a cluster ARN"),
    (
        body(service="arn:aws:ecs:eu-west-1:123456789012:service/staging/web"),
        "belongs to cluster 'staging'",
    ),
    (sns("{bad"), "SNS envelope's Message is not valid JSON"),
    (
        json.dumps({"Type": "Notification", "TopicArn": "t", "Message": 5}),
        "SNS envelope has no string",
    ),
    (
        json.dumps({"Type": "SubscriptionConfirmation", "TopicArn": "t", "Message": "{}"}),
        "SNS envelope",
    ),
]


@pytest.mark.parametrize(("text", "reason"), INVALID, ids=lambda v: repr(v)[:30])
def test_invalid_messages_name_the_problem(text: str, reason: str) -> None:
    with pytest.raises(Rejection) as caught:
        parse_message(text)
    assert caught.value.kind == RejectionKind.INVALID
    assert reason in caught.value.reason


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)


@given(st.text(max_size=300))
def test_any_text_parses_or_is_rejected(text: str) -> None:
    try:
        assert isinstance(parse_message(text), DeployRequest)
    except Rejection:
        pass


@given(
    st.dictionaries(
        st.sampled_from([*BASE, "images", "deploy_id", "source", "action", "x"]), json_values
    )
)
def test_any_document_parses_or_is_rejected(document: dict[str, Any]) -> None:
    try:
        parse_message(json.dumps(document))
    except Rejection:
        pass
