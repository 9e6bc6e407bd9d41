"""AWS's quotas an allowlist's rendered IAM policies and ECS events pattern must fit,
and the warnings `iam-policy` and `check-allowlist` print when they would not (pure).

The numbers, from AWS's documentation:
- IAM and AWS STS quotas (IAM User Guide, "IAM object quotas" and "IAM and AWS STS
  character limits"): a role's inline policies together at most 10,240 characters; a
  managed policy at most 6,144; 10 managed policies per role by default (20 at most).
  IAM does not count white space.
- Amazon EventBridge quotas (EventBridge User Guide): an event pattern at most 2,048
  characters by default (4,096 at most, on request); 5 targets per rule.
- Amazon SQS policy quotas (SQS Developer Guide): a queue policy at most 8,192 bytes
  and 20 statements.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from deployworker.cli.iam_statements import Scope
from deployworker.intake.entries import Allowlist

ROLE_INLINE_CHARS = 10_240
MANAGED_POLICY_CHARS = 6_144
MANAGED_POLICIES_PER_ROLE = 10
MANAGED_POLICIES_PER_ROLE_MAX = 20
EVENT_PATTERN_CHARS = 2_048
EVENT_PATTERN_CHARS_MAX = 4_096
TARGETS_PER_RULE = 5
SQS_POLICY_BYTES = 8_192
SQS_POLICY_STATEMENTS = 20

# What the ECS events rule matches (`rollout.events` reads the same three types).
ECS_EVENT_TYPES = [
    "ECS Deployment State Change",
    "ECS Hook State Change",
    "ECS Service Action",
]


def size(document: Any) -> int:
    """Characters as IAM and EventBridge count them: the JSON without white space."""
    return len(json.dumps(document, separators=(",", ":")))


def ecs_event_pattern(service_arns: Iterable[str]) -> dict[str, Any]:
    """The ECS events rule's pattern: one ARN prefix per cluster of `service_arns` (the
    same as the Terraform module's `local.ecs_event_pattern`). The trailing slash keeps
    cluster `a` from matching cluster `ab`."""
    clusters = dict.fromkeys(arn.rsplit("/", 1)[0] + "/" for arn in service_arns)
    return {
        "source": ["aws.ecs"],
        "detail-type": ECS_EVENT_TYPES,
        "resources": [{"prefix": c} for c in clusters],
    }


@dataclass(frozen=True)
class Quota:
    """One document against one quota."""

    what: str
    used: int
    limit: int
    remedy: str

    @property
    def exceeded(self) -> bool:
        return self.used > self.limit

    def __str__(self) -> str:
        return (
            f"{self.what}: {self.used:,} characters, over AWS's quota of {self.limit:,}; "
            f"{self.remedy}"
        )


def review(
    worker: dict[str, Any],
    targets: dict[str, dict[str, Any]],
    pattern: dict[str, Any],
) -> list[Quota]:
    """The quotas `worker` (the task role's policy), `targets` (account to the policy of
    the role assumed there) and `pattern` (the ECS events rule's) would exceed."""
    policy_remedy = "name task-definition families by prefix (--family 'web-*'), or fewer clusters"
    found = [
        Quota("the worker role's inline policy", size(worker), ROLE_INLINE_CHARS, policy_remedy),
        *(
            Quota(f"the role in account {a}", size(p), ROLE_INLINE_CHARS, policy_remedy)
            for a, p in sorted(targets.items())
        ),
        Quota(
            "the ECS events rule's pattern",
            size(pattern),
            EVENT_PATTERN_CHARS,
            f"ask AWS to raise the pattern quota (at most {EVENT_PATTERN_CHARS_MAX:,}), "
            "or turn ecs_events off (the worker then polls)",
        ),
    ]
    return [q for q in found if q.exceeded]


def fleet_review(allowlist: Allowlist, scope: Scope) -> list[Quota]:
    """`review` for what `iam-policy` renders for `allowlist` in `scope`: the worker's
    policy, each listed account's role policy, and the events rule of home's services."""
    from deployworker.cli.iam import worker_policy
    from deployworker.cli.iam_targets import service_arns, target_policy

    targets = {
        alias: target_policy(allowlist, alias, scope)
        for alias in sorted(allowlist.accounts)
        if service_arns(
            allowlist, scope.partition, allowlist.accounts[alias].account_id, scope.region, False
        )
    }
    home = service_arns(allowlist, scope.partition, scope.account_id, scope.region)
    return review(worker_policy(allowlist, scope), targets, ecs_event_pattern(home))
