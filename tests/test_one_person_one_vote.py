"""One person, one vote, end to end: votes sent as `deployworker approve` sends them,
their caller proofs executed against moto's STS, the gate at a simulated PAUSE hook.

An ordinary role's session name is whatever the caller passed to AssumeRole, so it
names nobody; IAM Identity Center's permission-set roles carry the sign-in name."""

from __future__ import annotations

import contextlib
import json
from typing import Any

from botocore.credentials import Credentials

from conftest import REGION, REPO, World, default_entry, deploy, metric, wait_for
from deployworker.aws.clients import make_client
from deployworker.cli.approve import send_vote, vote_body
from deployworker.intake.approval import PROOF_REMOVED
from deployworker.local.simulator import Rules
from gated import HOOK_STAGE, canary, canary_with_pause, pause_hook, web_service
from test_gate_flow import continued, gates_of, send_approval

ACCOUNT = "123456789012"
RELEASE = f"arn:aws:iam::{ACCOUNT}:role/release-managers"
ONCALL = f"arn:aws:iam::{ACCOUNT}:role/oncall"
SSO_PATH = "/aws-reserved/sso.amazonaws.com/eu-west-1/"
SSO_NAME = "AWSReservedSSO_ReleaseManagers_0123456789abcdef"
SSO = f"arn:aws:iam::{ACCOUNT}:role{SSO_PATH}{SSO_NAME}"


def assumed(world: World, role: str, name: str, path: str = "/") -> Credentials:
    """An assumed-role session of `role` (created under `path`) from moto's STS."""
    iam = make_client("iam", REGION, world.endpoint)
    trust = {"Version": "2012-10-17", "Statement": []}
    with contextlib.suppress(iam.exceptions.EntityAlreadyExistsException):
        iam.create_role(RoleName=role, Path=path, AssumeRolePolicyDocument=json.dumps(trust))
    sts = make_client("sts", REGION, world.endpoint)
    arn = f"arn:aws:iam::{ACCOUNT}:role{path}{role}"
    c = sts.assume_role(RoleArn=arn, RoleSessionName=name)["Credentials"]
    return Credentials(c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])


def approval_app(world: World, approval: dict[str, Any], **gate: Any) -> Any:
    allowlist = world.allowlist(
        [default_entry(gates=[{"at": HOOK_STAGE, "approval": approval, **gate}])]
    )
    app = world.app(allowlist)
    gates_of(app).runner._poll = 0.2  # the real vote book, read often
    return app


def test_one_principal_voting_under_two_session_names_is_one_vote(world: World) -> None:
    world.simulator.rules = Rules(converge_seconds=0.6, minute_seconds=1.0)
    before = canary_with_pause(world.ecs, minutes=30)
    # Two people are needed: one role each (kind role). Mallory may assume only
    # release-managers, and votes twice, as "alice" and as "bob".
    app = approval_app(world, {"approvers": [RELEASE, ONCALL], "required": 2, "timeout": "6s"})
    sent = continued(app)
    world.send(deploy(f"{REPO}:2.0", deploy_id="sybil"))
    app.worker.start()
    wait_for(
        lambda: metric(app, "deployworker_approvals_pending", cluster="prod", service="web") == 1
    )
    send_approval(world, assumed(world, "release-managers", "alice"), "sybil")
    send_approval(world, assumed(world, "release-managers", "bob"), "sybil")
    wait_for(lambda: metric(app, "deployworker_messages_total", outcome="rolled_back") == 1, 60)
    assert sent == ["ROLLBACK"]  # one person's two names never made two approvals
    assert world.describe()["taskDefinition"] == before
    assert (
        metric(
            app,
            "deployworker_gate_evaluations_total",
            cluster="prod",
            service="web",
            result="timed_out",
        )
        == 1
    )


def test_two_sign_in_names_of_an_identity_center_permission_set_are_two_people(
    world: World,
) -> None:
    world.simulator.rules = Rules(converge_seconds=0.6, minute_seconds=1.0)
    canary_with_pause(world.ecs, minutes=30)
    approvers = [{"role": SSO, "kind": "sso"}]
    app = approval_app(world, {"approvers": approvers, "required": 2, "timeout": "5m"})
    sent = continued(app)
    world.send(deploy(f"{REPO}:2.0", deploy_id="sso"))
    app.worker.start()
    wait_for(
        lambda: metric(app, "deployworker_approvals_pending", cluster="prod", service="web") == 1
    )
    send_approval(world, assumed(world, SSO_NAME, "alice@example.com", SSO_PATH), "sso")
    send_approval(world, assumed(world, SSO_NAME, "bob@example.com", SSO_PATH), "sso")
    wait_for(lambda: metric(app, "deployworker_messages_total", outcome="deployed") == 1, 60)
    assert sent == ["CONTINUE"]
    assert world.images()["app"] == f"{REPO}:2.0"


def test_each_traffic_step_needs_its_own_vote(world: World) -> None:
    # A CANARY pauses at PRE_PRODUCTION_TRAFFIC_SHIFT before each of its two steps; the
    # approval there opens a window at each, and a vote counts only in its own window.
    world.simulator.rules = Rules(converge_seconds=0.6, minute_seconds=1.0)
    config = canary([pause_hook("PRE_PRODUCTION_TRAFFIC_SHIFT", minutes=30)])
    config["canaryConfiguration"]["canaryBakeTimeInMinutes"] = 2  # 2 s between the steps
    web_service(world.ecs, config)
    gate = {"at": "PRE_PRODUCTION_TRAFFIC_SHIFT", "approval": {"approvers": [RELEASE]}}
    app = world.app(world.allowlist([default_entry(gates=[gate])]))
    gates_of(app).runner._poll = 0.2
    sent = continued(app)
    world.send(deploy(f"{REPO}:2.0", deploy_id="stepwise"))
    app.worker.start()
    alice = assumed(world, "release-managers", "alice")
    wait_for(
        lambda: metric(app, "deployworker_approvals_pending", cluster="prod", service="web") == 1
    )
    send_approval(world, alice, "stepwise")
    wait_for(lambda: sent == ["CONTINUE"], 30)
    # The second step's gate does not take the first step's vote.
    wait_for(
        lambda: (
            metric(
                app,
                "deployworker_gate_evaluations_total",
                cluster="prod",
                service="web",
                result="passed",
            )
            == 1
        )
    )
    wait_for(
        lambda: metric(app, "deployworker_approvals_pending", cluster="prod", service="web") == 1,
        30,
    )
    assert sent == ["CONTINUE"]
    assert metric(app, "deployworker_messages_total", outcome="deployed") == 0
    send_approval(world, alice, "stepwise")  # the same person, the second step
    wait_for(lambda: metric(app, "deployworker_messages_total", outcome="deployed") == 1, 60)
    assert sent == ["CONTINUE", "CONTINUE"]
    assert (
        metric(
            app,
            "deployworker_gate_evaluations_total",
            cluster="prod",
            service="web",
            result="passed",
        )
        == 2
    )
    assert world.dead_letters() == []


def test_a_refused_vote_reaches_the_dlq_without_its_signed_proof(world: World) -> None:
    world.service()
    app = world.app(
        world.allowlist(
            [default_entry(gates=[{"at": HOOK_STAGE, "approval": {"approvers": [RELEASE]}}])]
        )
    )
    app.start()
    send_approval(world, assumed(world, "developers", "mallory"), "build-1")
    [dead] = wait_for(world.dead_letters)
    reason = dead["MessageAttributes"]["deployworker.reason"]["StringValue"]
    assert "developers/mallory is not an assumed-role session of a listed approver" in reason
    body = json.loads(dead["Body"])
    assert body["proof"] == PROOF_REMOVED  # nobody who reads the DLQ can replay it
    assert "Signature=" not in dead["Body"] and "X-Amz-Security-Token" not in dead["Body"]
    assert (body["action"], body["deploy_id"]) == ("approve", "build-1")  # the rest is kept


def test_a_proof_made_for_another_deployworker_is_useless_here(world: World) -> None:
    world.service()
    gate = {"at": HOOK_STAGE, "approval": {"approvers": [RELEASE]}}
    app = world.app(world.allowlist([default_entry(gates=[gate])]))
    app.start()
    alice = assumed(world, "release-managers", "alice")
    other = "https://sqs.eu-west-1.amazonaws.com/123456789012/staging-deploys.fifo"
    for audience in (other, None):  # made for the staging worker; made for nobody
        body = vote_body(
            "approve", "prod", "web", "b-1", "", alice, REGION, world.endpoint, audience=audience
        )
        send_vote(
            body,
            "prod",
            "web",
            topic_arn=None,
            queue_url=world.resources.queue_url,
            region=REGION,
            endpoint_url=world.endpoint,
        )
    dead: list[dict[str, Any]] = []  # dead_letters() takes what it reads out of the DLQ

    def both() -> bool:
        dead.extend(world.dead_letters())
        return len(dead) == 2

    wait_for(both)
    reasons = [d["MessageAttributes"]["deployworker.reason"]["StringValue"] for d in dead]
    assert f"the vote's proof names the audience {other!r}" in reasons[0]
    assert "the vote's proof names no audience" in reasons[1]
    assert world.resources.queue_url in reasons[0]
    assert metric(app, "deployworker_approval_votes_total", result="counted") == 0
