"""Votes as revision tags: encoded within ECS's rules, read back exactly, and bounded."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from deployworker.deploy.approvals.ballot import (
    MAX_VOTES,
    decode_vote,
    earlier_vote,
    encode_vote,
    next_vote_tag,
    room_reason,
    votes_in,
)
from deployworker.deploy.approvals.votes import Vote

ALICE = "arn:aws:sts::123456789012:assumed-role/release-managers/alice"
BOB = "arn:aws:sts::123456789012:assumed-role/release-managers/bob,smith@example.com"
# What ECS accepts in a tag value.
TAG_VALUE = re.compile(r"^[\w .:/=+\-@]{0,256}$")


@pytest.mark.parametrize(
    "vote",
    [
        Vote("approve", ALICE, 1_764_000_000.0),
        Vote(
            "reject", BOB, 1_764_000_001.0, "p99 doubled: see https://grafana/d/x?from=now-1h&a=b"
        ),
        Vote("approve", ALICE, 1_764_000_002.0, "ünïcode and  two spaces"),
    ],
)
def test_a_vote_survives_the_tag(vote: Vote) -> None:
    value = encode_vote(vote)
    assert TAG_VALUE.fullmatch(value), value
    assert decode_vote(value) == vote


def test_a_long_comment_is_cut_to_fit_without_breaking_an_escape() -> None:
    vote = Vote("approve", ALICE, 1_764_000_000.0, "?" * 500)
    value = encode_vote(vote)
    assert len(value) <= 256 and TAG_VALUE.fullmatch(value)
    decoded = decode_vote(value)
    assert decoded is not None and decoded.principal == ALICE
    assert set(decoded.comment) == {"?"} and 0 < len(decoded.comment) < 500


@pytest.mark.parametrize(
    "value", ["", "v2 approve 1 x", "v1 maybe 1 x", "v1 approve soon x", "v1 approve 1", "junk"]
)
def test_values_that_are_not_votes_are_ignored(value: str) -> None:
    assert decode_vote(value) is None


def test_votes_are_read_in_the_order_recorded_and_other_tags_ignored() -> None:
    tags = {
        "deployworker:vote:10": encode_vote(Vote("reject", BOB, 3.0)),
        "deployworker:vote:2": encode_vote(Vote("approve", ALICE, 2.0)),
        "deployworker:vote:x": encode_vote(Vote("approve", ALICE, 9.0)),
        "deployworker:deploy-key": "v1:abc",
        "team": "platform",
    }
    assert [v.at for v in votes_in(tags)] == [2.0, 3.0]
    assert next_vote_tag(tags) == "deployworker:vote:11"
    assert earlier_vote(tags, ALICE.replace("release-managers", "oncall")) == Vote(
        "approve", ALICE, 2.0
    )
    assert earlier_vote(tags, ALICE.replace("alice", "carol")) is None


def test_the_votes_kept_per_deploy_and_ecs_tag_limit_are_bounds() -> None:
    tags = {f"deployworker:vote:{n}": encode_vote(Vote("approve", ALICE, n)) for n in range(1, 21)}
    assert len(tags) == MAX_VOTES and next_vote_tag(tags) is None
    assert "20 votes" in room_reason(tags)
    full = {f"user:{n}": "x" for n in range(50)}
    assert next_vote_tag(full) is None and "50 tags" in room_reason(full)
    # AWS's own tags do not count toward the 50.
    almost = {**{f"user:{n}": "x" for n in range(49)}, "aws:cloudformation:stack-name": "s"}
    assert next_vote_tag(almost) == "deployworker:vote:1"


actions = st.sampled_from(["approve", "reject"])
sessions = st.from_regex(r"[\w+=,.@-]{2,64}", fullmatch=True)


@given(actions, sessions, st.integers(0, 2**33), st.text(max_size=300))
def test_any_vote_fits_one_tag_and_decodes_to_itself_up_to_its_comment(
    action: str, session: str, at: int, comment: str
) -> None:
    principal = f"arn:aws:sts::123456789012:assumed-role/release-managers/{session}"
    vote = Vote("approve" if action == "approve" else "reject", principal, float(at), comment)
    value = encode_vote(vote)
    assert TAG_VALUE.fullmatch(value)
    decoded = decode_vote(value)
    assert decoded is not None
    assert (decoded.action, decoded.principal, decoded.at) == (vote.action, principal, at)
    assert comment.startswith(decoded.comment)


def test_a_cut_never_splits_a_multibyte_character() -> None:
    for pad in range(0, 12):
        vote = Vote("approve", ALICE, 1.0, "x" * pad + "ü" * 200)
        decoded = decode_vote(encode_vote(vote))
        assert decoded is not None and vote.comment.startswith(decoded.comment)
