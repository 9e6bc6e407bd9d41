"""Votes and their tally against a gate's approval policy (pure).

A vote's identity is an IAM principal the worker established itself (never a name the
sender typed): an assumed-role ARN `arn:aws:sts::<account>:assumed-role/<role>/<session>`.
It counts for a listed approver role `arn:aws:iam::<account>:role[/path]/<role>` when the
account and role name match. Who the person is depends on the approver's kind
(`intake.approvers`): for an IAM Identity Center role (`sso`) the session name, which
Identity Center sets to the sign-in name; for any other role (`role`) the role itself,
whatever the caller named its session. `required` distinct people must approve inside
the gate's window (votes from before it opened do not count); one reject from a listed
approver ends the gate.
"""

from __future__ import annotations

import math
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from deployworker.intake.gates import Approval

_ASSUMED = re.compile(
    r"^arn:(?P<partition>aws[a-z-]*):sts::(?P<account>[0-9]{12}):assumed-role/"
    r"(?P<role>[\w+=,.@-]{1,64})/(?P<session>[\w+=,.@-]{2,64})$"
)
_ROLE = re.compile(
    r"^arn:(?P<partition>aws[a-z-]*):iam::(?P<account>[0-9]{12}):role/(?:[\w+=,.@/-]*/)?"
    r"(?P<role>[\w+=,.@-]{1,64})$"
)


@dataclass(frozen=True)
class Vote:
    """One approve or reject, with the principal that sent it (as STS reported it)."""

    action: Literal["approve", "reject"]
    principal: str  # the caller ARN from STS GetCallerIdentity
    at: float  # epoch seconds when the worker verified it
    comment: str = ""


@dataclass(frozen=True)
class Tally:
    """Where an approval stands at one moment."""

    state: Literal["pending", "approved", "rejected", "expired"]
    approved_by: tuple[str, ...]  # people (as `shown`), in the order they approved
    rejected_by: tuple[str, ...]
    deadline: float
    needed: int  # approvals still missing


def approver_role(principal: str, approvers: Sequence[str]) -> str | None:
    """The listed role `principal` is a session of, or None when it is nobody's."""
    match = _ASSUMED.fullmatch(principal)
    if match is None:
        return None
    for arn in approvers:
        role = _ROLE.fullmatch(arn)
        if role is not None and (
            role["partition"],
            role["account"],
            role["role"],
        ) == (match["partition"], match["account"], match["role"]):
            return arn
    return None


def person(principal: str, kind: str = "sso") -> str:
    """The person an assumed-role ARN is: its session name for an `sso` approver, its
    role (`role/<name>`) for a `role` approver; anything else is the ARN itself."""
    match = _ASSUMED.fullmatch(principal)
    if match is None:
        return principal
    return match["session"] if kind == "sso" else f"role/{match['role']}"


def shown(principal: str, kind: str) -> str:
    """How a counted vote names its voter: the sign-in name for `sso`, `<role>/<session>`
    for `role` (the session name says who claimed the role's one vote, nothing more)."""
    match = _ASSUMED.fullmatch(principal)
    if match is None or kind == "sso":
        return person(principal, kind)
    return f"{match['role']}/{match['session']}"


def tally(
    votes: Sequence[Vote],
    policy: Approval,
    opened_at: float,
    now: float,
    since: float | None = None,
) -> Tally:
    """The approval's state at `now` for an approval opened at `opened_at`, in a gate
    whose window opened at `since` (default `opened_at`).

    Only listed approvers count, each as the person their kind makes them; each person
    counts once (their first vote in the window); votes from before the window opened
    (another hook's, another step's) and after the deadline do not count. A reject
    decides at once; `required` distinct approvals decide next; past the deadline with
    neither, the approval is expired.
    """
    deadline = opened_at + policy.timeout
    # Whole seconds: a recorded vote keeps the second it was verified in (`ballot`).
    start = math.floor(opened_at if since is None else since)
    approved: list[str] = []
    rejected: list[str] = []
    seen: set[str] = set()
    for vote in sorted(votes, key=lambda v: v.at):
        role = approver_role(vote.principal, policy.approvers)
        if role is None or vote.at > deadline or vote.at < start:
            continue
        kind = policy.kind_of(role)
        who = person(vote.principal, kind)
        if who in seen:
            continue
        seen.add(who)
        (approved if vote.action == "approve" else rejected).append(shown(vote.principal, kind))
    needed = max(0, policy.required - len(approved))
    if rejected:
        state: Literal["pending", "approved", "rejected", "expired"] = "rejected"
    elif needed == 0:
        state = "approved"
    elif now >= deadline:
        state = "expired"
    else:
        state = "pending"
    return Tally(state, tuple(approved), tuple(rejected), deadline, needed)


def approve_command(
    cluster: str,
    service: str,
    deploy_id: str,
    action: str = "approve",
    to: Sequence[str] = (),
    where: tuple[str, str] | None = None,
) -> str:
    """The exact command a person runs to vote, as `approval_requested` shows it: `to`
    adds where the vote goes (`vote_target`), so the command works as pasted, and for a
    deploy outside home (`where`: account id, region) its target flags."""
    words = ["deployworker", action, "--cluster", cluster, "--service", service]
    there = ["--target-account", where[0], "--target-region", where[1]] if where else []
    return shlex.join([*words, "--deploy-id", deploy_id, *there, *to])


def vote_target(
    region: str | None,
    queue_url: str | None,
    topic_arn: str | None = None,
    endpoint_url: str | None = None,
) -> tuple[str, ...]:
    """`approve`'s options naming the worker's region (its STS checks the proof) and the
    topic deploys are published to, else the work queue; and an endpoint override."""
    words: list[str] = ["--region", region] if region else []
    if topic_arn:
        words += ["--topic-arn", topic_arn]
    elif queue_url:
        words += ["--queue-url", queue_url]
    if endpoint_url:
        words += ["--endpoint-url", endpoint_url]
    return tuple(words)
