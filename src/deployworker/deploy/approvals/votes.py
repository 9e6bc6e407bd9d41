"""Votes and their tally against a gate's approval policy (pure).

A vote's identity is an IAM principal the worker established itself (never a name the
sender typed): an assumed-role ARN `arn:aws:sts::<account>:assumed-role/<role>/<session>`.
It counts for a listed approver role `arn:aws:iam::<account>:role[/path]/<role>` when the
account and role name match; the session name is the person. `required` distinct people
must approve; one reject from a listed approver ends the gate.
"""

from __future__ import annotations

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
    approved_by: tuple[str, ...]  # people (session names), in the order they approved
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


def person(principal: str) -> str:
    """The session name of an assumed-role ARN (the person), else the ARN itself."""
    match = _ASSUMED.fullmatch(principal)
    return match["session"] if match is not None else principal


def tally(votes: Sequence[Vote], policy: Approval, opened_at: float, now: float) -> Tally:
    """The approval's state at `now` for a gate opened at `opened_at`.

    Only listed approvers count; each person counts once (their first vote); votes
    after the deadline do not count. A reject decides at once; `required` distinct
    approvals decide next; past the deadline with neither, the approval is expired.
    """
    deadline = opened_at + policy.timeout
    approved: list[str] = []
    rejected: list[str] = []
    seen: set[str] = set()
    for vote in sorted(votes, key=lambda v: v.at):
        who = person(vote.principal)
        if vote.at > deadline or who in seen:
            continue
        if approver_role(vote.principal, policy.approvers) is None:
            continue
        seen.add(who)
        (approved if vote.action == "approve" else rejected).append(who)
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
