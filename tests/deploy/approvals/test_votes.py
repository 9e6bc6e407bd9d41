"""Who counts as an approver, and the tally against a gate's policy."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from deployworker.deploy.approvals.votes import (
    Vote,
    approve_command,
    approver_role,
    person,
    tally,
    vote_target,
)
from deployworker.intake.gates import Approval

MANAGERS = "arn:aws:iam::123456789012:role/release-managers"
PATHED = "arn:aws:iam::123456789012:role/teams/web/oncall"


def session(name: str, role: str = "release-managers", account: str = "123456789012") -> str:
    return f"arn:aws:sts::{account}:assumed-role/{role}/{name}"


@pytest.mark.parametrize(
    ("principal", "expected"),
    [
        (session("alice"), MANAGERS),
        (session("bob", role="oncall"), PATHED),
        (session("alice", account="999999999999"), None),
        (session("alice", role="release-managers-2"), None),
        ("arn:aws:iam::123456789012:user/alice", None),
        ("arn:aws:iam::123456789012:role/release-managers", None),  # a role is not a session
        ("arn:aws:sts::123456789012:federated-user/alice", None),
        ("", None),
    ],
)
def test_approver_role(principal: str, expected: str | None) -> None:
    assert approver_role(principal, [MANAGERS, PATHED]) == expected


def test_person_is_the_session_name() -> None:
    assert person(session("alice@example.com")) == "alice@example.com"
    assert person("arn:aws:iam::123456789012:user/x") == "arn:aws:iam::123456789012:user/x"


SSO_NAME = "AWSReservedSSO_ReleaseManagers_0123456789abcdef"
SSO = f"arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/eu-west-1/{SSO_NAME}"
POLICY = Approval.model_validate(
    {"approvers": [{"role": SSO, "kind": "sso"}], "required": 2, "timeout": 600}
)


def vote(who: str, at: float, action: str = "approve", role: str = SSO_NAME) -> Vote:
    # STS session names are at least two characters long.
    return Vote(action, session(who * 2, role=role), at)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("votes", "now", "state", "approved", "needed"),
    [
        ([], 10, "pending", (), 2),
        ([vote("a", 1)], 10, "pending", ("aa",), 1),
        ([vote("a", 1), vote("a", 2)], 10, "pending", ("aa",), 1),  # one person counts once
        ([vote("a", 1), vote("b", 2)], 10, "approved", ("aa", "bb"), 0),
        ([vote("a", 1), vote("x", 2, role="someone-else")], 10, "pending", ("aa",), 1),
        ([vote("a", 1), vote("b", 2, "reject")], 10, "rejected", ("aa",), 1),
        ([vote("a", 1)], 600, "expired", ("aa",), 1),
        ([vote("a", 1), vote("b", 601)], 700, "expired", ("aa",), 1),  # late vote
        ([vote("b", 5), vote("a", 1)], 10, "approved", ("aa", "bb"), 0),  # ordered by time
    ],
)
def test_tally(
    votes: list[Vote], now: float, state: str, approved: tuple[str, ...], needed: int
) -> None:
    result = tally(votes, POLICY, 0.0, now)
    assert (result.state, result.approved_by, result.needed) == (state, approved, needed)
    assert result.deadline == 600


@given(
    st.lists(
        st.tuples(
            st.sampled_from("abcde"), st.floats(0, 1000), st.sampled_from(["approve", "reject"])
        ),
        max_size=12,
    ),
    st.floats(0, 2000),
)
def test_tally_never_counts_a_person_twice_or_a_late_vote(
    raw: list[tuple[str, float, str]], now: float
) -> None:
    votes = [vote(w, at, action) for w, at, action in raw]
    result = tally(votes, POLICY, 0.0, now)
    people = result.approved_by + result.rejected_by
    assert len(people) == len(set(people))
    on_time = {w * 2 for w, at, _ in raw if at <= 600}
    assert set(people) <= on_time
    if result.state == "approved":
        assert len(result.approved_by) >= 2 and not result.rejected_by


def test_approve_command_is_copy_pasteable() -> None:
    command = approve_command("prod", "web", "build 42")
    assert command == "deployworker approve --cluster prod --service web --deploy-id 'build 42'"


QUEUE = "https://sqs.eu-west-1.amazonaws.com/123456789012/deploys.fifo"
TOPIC = "arn:aws:sns:eu-west-1:123456789012:deploys.fifo"


@pytest.mark.parametrize(
    ("region", "queue", "topic", "endpoint", "expected"),
    [
        ("eu-west-1", QUEUE, None, None, ["--region", "eu-west-1", "--queue-url", QUEUE]),
        ("eu-west-1", QUEUE, TOPIC, None, ["--region", "eu-west-1", "--topic-arn", TOPIC]),
        (
            None,
            QUEUE,
            None,
            "http://127.0.0.1:4566",
            ["--queue-url", QUEUE, "--endpoint-url", "http://127.0.0.1:4566"],
        ),
        (None, None, None, None, []),
    ],
)
def test_vote_target_names_the_region_and_the_topic_before_the_queue(
    region: str | None,
    queue: str | None,
    topic: str | None,
    endpoint: str | None,
    expected: list[str],
) -> None:
    assert list(vote_target(region, queue, topic, endpoint)) == expected


def test_the_command_carries_where_votes_go() -> None:
    command = approve_command("prod", "web", "b-1", "reject", vote_target("eu-west-1", QUEUE))
    assert command == (
        "deployworker reject --cluster prod --service web --deploy-id b-1 "
        f"--region eu-west-1 --queue-url {QUEUE}"
    )


def test_a_role_approver_is_one_person_whatever_its_session_names() -> None:
    # kind role: the role is the person; a principal who names its sessions alice and
    # bob is still one vote.
    policy = Approval.model_validate(
        {"approvers": [MANAGERS, PATHED], "required": 2, "timeout": 600}
    )
    mallory = [vote("a", 1, role="release-managers"), vote("b", 2, role="release-managers")]
    result = tally(mallory, policy, 0.0, 10)
    assert (result.state, result.approved_by) == ("pending", ("release-managers/aa",))
    both = [*mallory, vote("c", 3, role="oncall")]
    assert tally(both, policy, 0.0, 10).state == "approved"


def test_an_sso_approver_counts_sign_in_names() -> None:
    result = tally([vote("a", 1), vote("b", 2)], POLICY, 0.0, 10)
    assert (result.state, result.approved_by) == ("approved", ("aa", "bb"))


def test_a_vote_from_before_the_gates_window_opened_does_not_count() -> None:
    # Another hook's (another step's) vote, cast before this gate opened at t=100.
    early = [vote("a", 50), vote("b", 99.9)]
    assert tally(early, POLICY, 100.0, 110, since=100.0).approved_by == ()
    late = [*early, vote("a", 101), vote("b", 102)]
    assert tally(late, POLICY, 100.0, 110, since=100.0).state == "approved"
