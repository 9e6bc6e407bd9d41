"""Votes and the hook record are tags on the deploy's revision, and anyone who may call
`ecs:TagResource` can write a tag: the worker seals both with its tag key
(`deploy.tagseal`), and reads a tag whose seal does not hold as absent."""

from __future__ import annotations

import time

from hypothesis import given
from hypothesis import strategies as st

from conftest import REPO, World, deploy, metric, wait_for
from deployworker.app import App
from deployworker.deploy.approvals.ballot import encode_vote
from deployworker.deploy.approvals.book import TagVoteBook
from deployworker.deploy.approvals.votes import Vote
from deployworker.deploy.gates.hookid import HOOKS_TAG, decode, encode
from deployworker.deploy.tagseal import ROOM, opened, seal
from deployworker.local.simulator import Rules
from gated import canary_with_pause
from test_gate_flow import continued, send_approval
from test_one_person_one_vote import RELEASE, approval_app, assumed

KEY = b"worker-only-tag-key"
ARN = "arn:aws:ecs:eu-west-1:123456789012:task-definition/web:7"


def awaiting_vote(world: World, deploy_id: str, timeout: str) -> tuple[App, list[str], str, str]:
    """A CANARY deploy whose PAUSE hook waits for one release manager's vote: the app,
    the ContinueServiceDeployment actions it sends, the revision the service ran before
    and the one the deploy registered."""
    world.simulator.rules = Rules(converge_seconds=0.6, minute_seconds=1.0)
    before = canary_with_pause(world.ecs, minutes=30)
    app = approval_app(world, {"approvers": [RELEASE], "timeout": timeout})
    sent = continued(app)
    world.send(deploy(f"{REPO}:2.0", deploy_id=deploy_id))
    app.worker.start()
    wait_for(
        lambda: metric(app, "deployworker_approvals_pending", cluster="prod", service="web") == 1
    )
    return app, sent, before, world.describe()["deployments"][0]["taskDefinition"]


def test_a_vote_tag_written_by_hand_does_not_approve_the_deploy(world: World) -> None:
    # The attacker may tag resources: they write an approval in alice's name on the
    # deploy's revision while its gate waits. Only a vote the worker recorded after STS
    # named the voter counts, so the gate times out and rolls back.
    app, sent, before, revision = awaiting_vote(world, "forged-vote", "5s")
    alice = "arn:aws:sts::123456789012:assumed-role/release-managers/alice"
    forged = Vote("approve", alice, time.time(), "")
    world.ecs.tag_resource(
        resourceArn=revision, tags=[{"key": "deployworker:vote:1", "value": encode_vote(forged)}]
    )
    wait_for(lambda: metric(app, "deployworker_messages_total", outcome="rolled_back") == 1, 60)
    assert sent == ["ROLLBACK"]
    assert world.describe()["taskDefinition"] == before


def test_a_vote_the_worker_recorded_still_approves(world: World) -> None:
    # The seal does not stop the real flow: alice's vote, verified and sealed, counts.
    app, sent, _, revision = awaiting_vote(world, "sealed-vote", "30s")
    send_approval(world, assumed(world, "release-managers", "alice"), "sealed-vote")
    wait_for(lambda: sent == ["CONTINUE"], 30)
    tags = {
        t["key"]: t["value"] for t in world.ecs.list_tags_for_resource(resourceArn=revision)["tags"]
    }
    assert tags["deployworker:vote:1"].startswith("s1.")  # stored sealed
    assert [v.principal for v in TagVoteBook(app.ecs, KEY).votes("prod", "web", "sealed-vote")]


def test_a_sealed_value_copied_to_another_revision_or_tag_does_not_open() -> None:
    stored = seal(KEY, ARN, "deployworker:vote:1", "v1 approve 1 x")
    assert opened(KEY, ARN, "deployworker:vote:1", stored) == "v1 approve 1 x"
    assert opened(KEY, ARN.replace(":7", ":8"), "deployworker:vote:1", stored) is None
    assert opened(KEY, ARN, "deployworker:vote:2", stored) is None
    assert opened(b"another key", ARN, "deployworker:vote:1", stored) is None
    assert opened(KEY, ARN, "deployworker:vote:1", "v1 approve 1 x") is None  # by hand
    assert opened(None, ARN, "deployworker:vote:1", stored) == "v1 approve 1 x"


def test_a_forged_hook_record_is_read_as_no_record() -> None:
    # Which hook id was POST_TEST_TRAFFIC_SHIFT's decides whether an analysis-only gate
    # may answer it: a record written by hand must not open.
    record = encode({"a" * 12: "POST_TEST_TRAFFIC_SHIFT"}, ROOM)[HOOKS_TAG]
    assert decode({HOOKS_TAG: opened(KEY, ARN, HOOKS_TAG, record) or ""}) == {}
    sealed = seal(KEY, ARN, HOOKS_TAG, record)
    assert decode({HOOKS_TAG: opened(KEY, ARN, HOOKS_TAG, sealed) or ""}) == {
        "a" * 12: "POST_TEST_TRAFFIC_SHIFT"
    }


def test_a_seal_that_is_not_ascii_is_read_as_absent() -> None:
    # ECS takes any letter in a tag value: a forged seal of 24 non-ASCII letters must be
    # read as absent like any other forgery, not raise out of the reader (a vote book
    # that cannot be read counts no vote; a hook record, no gate).
    for name, value in ((HOOKS_TAG, "0=aaaaaaaaaaaa"), ("deployworker:vote:1", "v1 approve 1 x")):
        assert opened(KEY, ARN, name, f"s1.{'é' * 24} {value}") is None
        assert opened(None, ARN, name, f"s1.{'é' * 24} {value}") == value


def test_a_vote_tag_with_a_garbled_seal_does_not_block_a_real_vote(world: World) -> None:
    # The attacker may tag resources: a vote tag whose seal is 24 non-ASCII letters made
    # every read of the revision's votes raise, so the gate counted no vote and alice's
    # real approval never arrived: the deploy timed out into a rollback.
    app, sent, _, revision = awaiting_vote(world, "garbled-vote", "30s")
    garbled = f"s1.{'é' * 24} v1 approve {int(time.time())} x"
    world.ecs.tag_resource(
        resourceArn=revision, tags=[{"key": "deployworker:vote:9", "value": garbled}]
    )
    send_approval(world, assumed(world, "release-managers", "alice"), "garbled-vote")
    wait_for(lambda: sent == ["CONTINUE"], 30)
    wait_for(lambda: metric(app, "deployworker_messages_total", outcome="deployed") == 1, 60)


@given(st.text(min_size=0, max_size=300), st.text(max_size=30))
def test_no_value_opens_under_a_seal_it_was_not_given(value: str, mac: str) -> None:
    assert opened(KEY, ARN, "deployworker:hooks", f"s1.{mac} {value}") in (None, value)
    if len(mac) == 24:
        assert opened(KEY, ARN, "deployworker:hooks", f"s1.{mac} {value}") is None or (
            seal(KEY, ARN, "deployworker:hooks", value) == f"s1.{mac} {value}"
        )


@given(st.text(max_size=200))
def test_a_sealed_vote_fits_a_tag(comment: str) -> None:
    vote = Vote("approve", "arn:aws:sts::123456789012:assumed-role/r/alice", 1.0, comment)
    assert len(seal(KEY, ARN, "deployworker:vote:1", encode_vote(vote, ROOM))) <= 256
