"""Approvals end to end: moto's STS names the voter, the vote is tagged on the deploy's
revision, and the gate runner's `VoteBook` reads it back, from any replica."""

from __future__ import annotations

import json
import signal
from typing import Any

import pytest
from botocore.credentials import Credentials

from conftest import REGION, REPO, World, default_entry, deploy, drain, metric, wait_for
from deployworker.app import App
from deployworker.aws._retry import Caller, RetryPolicy
from deployworker.aws.clients import make_client
from deployworker.aws.ecs import Ecs
from deployworker.cli.approve import send_vote, vote_body
from deployworker.cli.main import main
from deployworker.deploy.approvals.book import TagVoteBook
from deployworker.deploy.approvals.votes import Vote
from workers import WorkerProcess, stop_all, wait_until

ACCOUNT = "123456789012"
MANAGERS = f"arn:aws:iam::{ACCOUNT}:role/release-managers"


def gated(**changes: Any) -> dict[str, Any]:
    """An entry whose gate lists the approvers. The gate sits at a stage where the test
    services (ROLLING, no hooks) never pause, so deploys finish and votes are only
    recorded here; `tests/test_gate_flow.py` runs gates that wait for these votes."""
    gate = {"at": "POST_TEST_TRAFFIC_SHIFT", "approval": {"approvers": [MANAGERS]}}
    return default_entry(gates=[gate], **changes)


def session(world: World, role: str, name: str) -> Credentials:
    """Credentials of an assumed-role session, from moto's STS (the role is created)."""
    iam = make_client("iam", REGION, world.endpoint)
    trust = {"Version": "2012-10-17", "Statement": []}
    try:
        iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust))
    except iam.exceptions.EntityAlreadyExistsException:
        pass
    sts = make_client("sts", REGION, world.endpoint)
    got = sts.assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/{role}", RoleSessionName=name)
    c = got["Credentials"]
    return Credentials(c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])


def vote(
    world: World,
    credentials: Credentials,
    deploy_id: str,
    action: str = "approve",
    comment: str = "",
) -> str:
    queue = world.resources.queue_url
    body = vote_body(
        action,
        "prod",
        "web",
        deploy_id,
        comment,
        credentials,
        REGION,
        world.endpoint,
        audience=queue,
    )
    sent = send_vote(
        body,
        "prod",
        "web",
        topic_arn=None,
        queue_url=world.resources.queue_url,
        region=REGION,
        endpoint_url=world.endpoint,
    )
    return sent.message_id


def book(world: World) -> TagVoteBook:
    """A vote book of its own, as another replica's gate runner has."""
    client = make_client("ecs", REGION, world.endpoint)
    return TagVoteBook(Ecs(client, Caller("ecs", RetryPolicy(attempts=2))))


def vote_tags(world: World) -> dict[str, str]:
    _, tags = world.task_definition(world.describe()["taskDefinition"])
    return {k: v for k, v in tags.items() if k.startswith("deployworker:vote:")}


def deployed(world: World, app: App, deploy_id: str, image: str = f"{REPO}:2.0") -> None:
    world.send(deploy(image, deploy_id=deploy_id), dedup=deploy_id)
    drain(app)
    assert world.images()["app"] == image


def test_a_listed_roles_vote_counts_while_the_deploy_holds_its_group(world: World) -> None:
    before = world.service()
    app = world.app(world.allowlist([gated()]))
    app.start()
    # A rollout that does not end: its message stays in flight, its group blocked.
    world.send(deploy(f"{REPO}:2-hang", deploy_id="build-7"))
    wait_for(lambda: world.describe()["taskDefinition"] != before)
    alice = session(world, "release-managers", "alice")
    vote(world, alice, "build-7", comment="canary looks fine")

    votes = wait_for(lambda: book(world).votes("prod", "web", "build-7"))
    assert votes == [Vote("approve", f"{votes[0].principal}", votes[0].at, "canary looks fine")]
    assert votes[0].principal == f"arn:aws:sts::{ACCOUNT}:assumed-role/release-managers/alice"
    # Recorded and deleted while the deploy still holds prod/web's only message.
    wait_for(lambda: world.queue_depth() == 1)
    assert app.worker.in_flight == 1
    primary = world.describe()["deployments"][0]
    assert primary["rolloutState"] == "IN_PROGRESS", primary
    assert list(vote_tags(world)) == ["deployworker:vote:1"]
    assert metric(app, "deployworker_approval_votes_total", result="counted") == 1
    assert metric(app, "deployworker_messages_total", outcome="vote_recorded") == 1
    assert world.dead_letters() == []


@pytest.mark.parametrize(
    ("role", "who"),
    [("developers", "assumed-role/developers/mallory"), (None, "user/moto")],
    ids=["unlisted role", "not an assumed role"],
)
def test_anyone_elses_vote_lands_in_the_dlq_with_the_reason(
    world: World, role: str | None, who: str
) -> None:
    world.service()
    app = world.app(world.allowlist([gated()]))
    deployed(world, app, "build-8")
    credentials = (
        session(world, role, "mallory") if role else Credentials("AKIAIOSFODNN7EXAMPLE", "x")
    )
    message_id = vote(world, credentials, "build-8")
    drain(app)

    (dead,) = world.dead_letters()
    attributes = {k: v["StringValue"] for k, v in dead["MessageAttributes"].items()}
    assert attributes["deployworker.outcome"] == "rejected_not_allowed"
    assert (
        f"arn:aws:sts::{ACCOUNT}:{who} is not an assumed-role session of a listed approver role ({MANAGERS})"
        in (attributes["deployworker.reason"])
    )
    assert attributes["deployworker.group_id"] == "prod/web/approvals"
    assert attributes["deployworker.message_id"] == message_id
    assert vote_tags(world) == {} and book(world).votes("prod", "web", "build-8") == []
    assert metric(app, "deployworker_approval_votes_total", result="unlisted") == 1
    assert world.queue_depth() == 0


def test_a_vote_survives_a_worker_restart_and_each_person_counts_once(world: World) -> None:
    world.service()
    first = world.app(world.allowlist([gated()]))
    deployed(world, first, "build-9")
    alice = session(world, "release-managers", "alice")
    vote(world, alice, "build-9", comment="ok")
    drain(first)
    first.shutdown()
    world.apps.remove(first)

    second = world.app(world.allowlist([gated()], name="again.yaml"))
    (recorded,) = book(world).votes("prod", "web", "build-9")
    assert (recorded.action, recorded.comment) == ("approve", "ok")
    # alice again (a resend, or a change of mind): her first vote stands, nothing is added.
    vote(world, session(world, "release-managers", "alice"), "build-9", action="reject")
    vote(world, session(world, "release-managers", "bob"), "build-9", action="reject")
    drain(second)
    votes = book(world).votes("prod", "web", "build-9")
    assert [(v.action, v.principal.rsplit("/", 1)[1]) for v in votes] == [
        ("approve", "alice"),
        ("reject", "bob"),
    ]
    assert metric(second, "deployworker_approval_votes_total", result="duplicate") == 1
    assert world.queue_depth() == 0 and world.dead_letters() == []


def test_a_vote_before_its_deploy_registered_comes_back_and_counts(world: World) -> None:
    world.service()
    app = world.app(world.allowlist([gated()]), retry_backoff_seconds=1)
    vote(world, session(world, "release-managers", "alice"), "build-10")
    drain(app)
    assert metric(app, "deployworker_approval_votes_total", result="not_yet") == 1
    assert world.queue_depth() == 1  # handed back with the retry back-off, not lost

    deployed(world, app, "build-10")
    reader = book(world)
    wait_for(lambda: drain(app, rounds=1) >= 0 and reader.votes("prod", "web", "build-10"))
    assert metric(app, "deployworker_approval_votes_total", result="counted") == 1
    assert world.queue_depth() == 0


def test_a_vote_for_a_service_without_an_approval_gate_is_dead_lettered(world: World) -> None:
    world.service()
    app = world.app()  # prod/web, no gates
    deployed(world, app, "build-11")
    vote(world, session(world, "release-managers", "alice"), "build-11")
    drain(app)
    (dead,) = world.dead_letters()
    reason = dead["MessageAttributes"]["deployworker.reason"]["StringValue"]
    assert reason == "no gate of prod/web asks for an approval"
    assert vote_tags(world) == {}


@pytest.mark.parametrize("via", ["queue", "topic"])
def test_approve_command_signs_with_the_callers_own_credentials(
    world: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], via: str
) -> None:
    world.service()
    # A worker whose deploys come through the topic reads votes sent there (the proof
    # names that topic as its audience).
    app = world.app(world.allowlist([gated()]), deploy_topic_arn=world.resources.topic_arn)
    deployed(world, app, "build-12")
    carol = session(world, "release-managers", "carol")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", carol.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", carol.secret_key)
    monkeypatch.setenv("AWS_SESSION_TOKEN", carol.token or "")
    code = main(
        [
            "reject",
            *(
                ["--queue-url", world.resources.queue_url]
                if via == "queue"
                else ["--topic-arn", world.resources.topic_arn]
            ),
            "--endpoint-url",
            world.endpoint,
            "--region",
            REGION,
            "--cluster",
            "prod",
            "--service",
            "web",
            "--deploy-id",
            "build-12",
            "--comment",
            "error budget spent",
        ]
    )
    assert code == 0
    assert json.loads(capsys.readouterr().out)["group_id"] == "prod/web/approvals"
    drain(app)
    (recorded,) = book(world).votes("prod", "web", "build-12")
    assert recorded.action == "reject" and recorded.comment == "error budget spent"
    assert recorded.principal.endswith("assumed-role/release-managers/carol")


def test_sigkill_after_a_vote_is_tagged_then_redelivery_records_it_once(world: World) -> None:
    world.service()
    allowlist = world.allowlist([gated()])
    app = world.app(allowlist)
    deployed(world, app, "build-13")
    app.shutdown()
    world.apps.remove(app)
    vote(world, session(world, "release-managers", "alice"), "build-13", comment="ship it")

    first = WorkerProcess(world, allowlist, "first", failpoint="vote_recorded")
    try:
        assert first.wait_exit(30) == -signal.SIGKILL
    finally:
        first.kill()
    assert list(vote_tags(world)) == ["deployworker:vote:1"]  # tagged, message not deleted
    second = WorkerProcess(world, allowlist, "second")
    try:
        wait_until(lambda: world.queue_depth() == 0, timeout=30)
    finally:
        stop_all([second])
    assert list(vote_tags(world)) == ["deployworker:vote:1"]
    (recorded,) = book(world).votes("prod", "web", "build-13")
    assert recorded.comment == "ship it"
    (received,) = [e for e in second.events() if e["event"].startswith("approval.")]
    assert received["event"] == "approval.received" and received["result"] == "duplicate"
    assert received["person"] == "alice" and received["deploy_id"] == "build-13"
    assert world.dead_letters() == []
