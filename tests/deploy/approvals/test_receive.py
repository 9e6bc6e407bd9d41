"""Every ending of an approval message, against in-memory ECS and STS stand-ins."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, cast

import pytest
from botocore.credentials import Credentials

from deployworker.aws.callerproof import sign_proof
from deployworker.aws.sqs import Message
from deployworker.deploy.approvals.ballot import encode_vote
from deployworker.deploy.approvals.receive import Approvals
from deployworker.deploy.approvals.votes import Vote
from deployworker.deploy.plan import DEPLOY_KEY_TAG, deploy_key
from deployworker.errors import NotFoundError, PermanentAwsError, RetryableAwsError
from deployworker.intake.allowlist import load_allowlist
from deployworker.intake.approval import binding
from deployworker.intake.proof import signed_at
from deployworker.observe.events import DeployEvent
from deployworker.outcome import Outcome

MANAGERS = "arn:aws:iam::123456789012:role/release-managers"
ALICE = "arn:aws:sts::123456789012:assumed-role/release-managers/alice"
NEW = "arn:aws:ecs:eu-west-1:123456789012:task-definition/prod-web:2"
OLD = "arn:aws:ecs:eu-west-1:123456789012:task-definition/prod-web:1"
ALLOWLIST = f"""
version: 1
services:
  - cluster: prod
    service: web
    containers: [app]
    images: [r/web]
    gates:
      - at: converged
        approval: {{approvers: ["{MANAGERS}"], timeout: 10m}}
  - cluster: prod
    service: api
    containers: [app]
    images: [r/api]
"""


@dataclass
class FakeEcs:
    target: str = NEW
    tags: dict[str, dict[str, str]] = field(default_factory=dict)
    missing: bool = False
    tagged: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    def describe_service(self, cluster: str, service: str) -> dict[str, Any]:
        if self.missing:
            raise NotFoundError("DescribeServices", "MISSING", f"service {cluster}/{service}")
        return {"taskDefinition": self.target, "deployments": [{"taskDefinition": NEW}]}

    def list_tags_for_resource(self, arn: str) -> dict[str, str]:
        return dict(self.tags.get(arn, {}))

    def describe_task_definition(self, name: str) -> tuple[dict[str, Any], list[dict[str, str]]]:
        tags = self.tags.get(NEW, {})
        return {"taskDefinitionArn": NEW}, [{"key": k, "value": v} for k, v in tags.items()]

    def tag_resource(self, arn: str, tags: dict[str, str]) -> None:
        self.tagged.append((arn, tags))
        self.tags.setdefault(arn, {}).update(tags)


@dataclass
class FakeSts:
    principal: str = ALICE
    error: Exception | None = None
    host: str = "sts.eu-west-1.amazonaws.com"
    region: str = "eu-west-1"

    def verify(self, headers: dict[str, str], body: str) -> str:
        if self.error is not None:
            raise self.error
        return self.principal


def body(service: str = "web", deploy_id: str = "build-1", action: str = "approve") -> str:
    bound = binding(action, "prod", service, deploy_id, "")
    proof = sign_proof(
        Credentials("ASIAEXAMPLE0000000001", "s", "t"),
        "eu-west-1",
        "https://sts.eu-west-1.amazonaws.com",
        bound,
    )
    document = {
        "action": action,
        "cluster": "prod",
        "service": service,
        "deploy_id": deploy_id,
        "proof": proof,
    }
    return json.dumps(document)


woken: list[tuple[str, ...]] = []  # the deploys whose gates a recorded vote woke


def run(
    text: str,
    ecs: FakeEcs,
    sts: FakeSts | None = None,
    group: str = "prod/web/approvals",
    age: float = 5,
    receive_count: int = 1,
) -> tuple[Any, list[str], list[DeployEvent]]:
    results: list[str] = []
    events: list[DeployEvent] = []
    woken.clear()
    at = signed_at(json.loads(text)["proof"]["headers"]["X-Amz-Date"])
    handler = Approvals(
        cast(Any, ecs),
        cast(Any, sts or FakeSts()),
        lambda: load_allowlist(ALLOWLIST),
        emit=events.append,
        on_vote=results.append,
        on_recorded=lambda *deploy: woken.append(deploy),
        max_age=300,
        retry_backoff=30,
        clock=lambda: at + age,
    )
    message = Message("m-1", "r-1", text, group_id=group, receive_count=receive_count)
    return handler.handle(message), results, events


def ours(**more: str) -> dict[str, dict[str, str]]:
    return {NEW: {DEPLOY_KEY_TAG: deploy_key("prod", "web", "build-1"), **more}}


def test_a_listed_vote_is_tagged_and_reported() -> None:
    ecs = FakeEcs(tags=ours())
    result, results, events = run(body(), ecs)
    assert result.outcome == Outcome.VOTE_RECORDED and not result.dead_letters
    assert ecs.tagged == [(NEW, {"deployworker:vote:1": ecs.tags[NEW]["deployworker:vote:1"]})]
    assert results == ["counted"]
    assert woken == [("prod", "web", "build-1")]
    (event,) = events
    assert event.type == "approval_received" and event.deploy_id == "build-1"
    assert event.approval is not None
    assert event.approval["person"] == "alice" and event.approval["role"] == MANAGERS
    assert event.approval["action"] == "approve" and event.approval["result"] == "counted"


LATER = Vote("approve", ALICE.replace("alice", "al"), 1.0)
FULL = {f"deployworker:vote:{n}": encode_vote(LATER) for n in range(1, 21)}


@pytest.mark.parametrize(
    ("ecs", "sts", "kwargs", "outcome", "result", "reason"),
    [
        (FakeEcs(tags=ours(), target=OLD), None, {}, Outcome.VOTE_LATE, "late", "has ended"),
        (
            FakeEcs(tags=ours(**{"deployworker:vote:1": encode_vote(Vote("reject", ALICE, 1))})),
            None,
            {},
            Outcome.VOTE_RECORDED,
            "duplicate",
            "alice already voted reject",
        ),
        (FakeEcs(tags={}), None, {}, Outcome.RETRIED, "not_yet", "no deploy build-1"),
        (
            FakeEcs(tags={}),
            None,
            {"age": 280},
            Outcome.REJECTED_NOT_ALLOWED,
            "no_deploy",
            "found before the vote's proof expires",
        ),
        (
            FakeEcs(tags={}),
            None,
            {"age": 400, "receive_count": 3},
            Outcome.REJECTED_NOT_ALLOWED,
            "bad_proof",
            "was found while the vote's proof was fresh",
        ),
        (FakeEcs(tags=ours(**FULL)), None, {}, Outcome.REJECTED_NOT_ALLOWED, "full", "20 votes"),
        (FakeEcs(missing=True), None, {}, Outcome.REJECTED_NOT_ALLOWED, "no_deploy", "MISSING"),
        (
            FakeEcs(tags=ours()),
            FakeSts(error=PermanentAwsError("GetCallerIdentity", "ExpiredToken", "expired")),
            {},
            Outcome.REJECTED_NOT_ALLOWED,
            "bad_proof",
            "STS refused the proof: ExpiredToken",
        ),
        (
            FakeEcs(tags=ours()),
            FakeSts(error=RetryableAwsError("GetCallerIdentity", "Throttling", "slow")),
            {},
            Outcome.RETRIED,
            "retried",
            "Throttling",
        ),
        (
            FakeEcs(tags=ours()),
            None,
            {"age": 301},
            Outcome.REJECTED_NOT_ALLOWED,
            "bad_proof",
            "300s",
        ),
        (
            FakeEcs(tags=ours()),
            None,
            {"group": "prod/web"},
            Outcome.REJECTED_NOT_ALLOWED,
            "invalid",
            "'prod/web/approvals'",
        ),
    ],
)
def test_each_ending_is_named(
    ecs: FakeEcs,
    sts: FakeSts | None,
    kwargs: dict[str, Any],
    outcome: Outcome,
    result: str,
    reason: str,
) -> None:
    got, results, _ = run(body(), ecs, sts, **kwargs)
    assert (got.outcome, results) == (outcome, [result])
    assert reason in got.reason
    # Only a counted vote writes; a rejection goes to the DLQ, everything else does not.
    assert ecs.tagged == []
    assert got.dead_letters == (outcome == Outcome.REJECTED_NOT_ALLOWED)


@pytest.mark.parametrize(
    ("service", "result", "reason"),
    [
        ("api", "no_gate", "no gate of prod/api asks for an approval"),
        ("db", "no_gate", "service prod/db is not in the allowlist"),
    ],
)
def test_a_vote_no_gate_asks_for_goes_to_the_dlq(service: str, result: str, reason: str) -> None:
    got, results, events = run(body(service=service), FakeEcs(), group=f"prod/{service}/approvals")
    assert got.dead_letters and results == [result] and got.reason == reason
    assert events[0].approval is not None and "principal" not in events[0].approval


def test_a_body_that_is_not_json_is_invalid() -> None:
    results: list[str] = []
    handler = Approvals(
        cast(Any, FakeEcs()),
        cast(Any, FakeSts()),
        lambda: load_allowlist(ALLOWLIST),
        on_vote=results.append,
    )
    got = handler.handle(Message("m", "r", "{", group_id="prod/web/approvals"))
    assert got.outcome == Outcome.REJECTED_INVALID and results == ["invalid"]
