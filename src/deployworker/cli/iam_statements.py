"""The building blocks of `deployworker iam-policy` (pure): the `Scope` a policy is
rendered for, one statement, and the ECS deploy statements both the worker's role and
each target account's role take (`iam.worker_policy`, `iam_targets.target_policy`).

Services are granted per cluster, not per service, so a policy's size grows with the
clusters, not with the allowlist (IAM caps a role's inline policies at 10,240
characters). UpdateService, the one call that changes what a service runs, also needs
the service to carry the `deployworker:managed=true` tag: the worker deploys a service
only when the allowlist opts it in (checked by the worker) and the tag opts it in
(checked by IAM). The Service Authorization Reference lists `aws:ResourceTag/${TagKey}`
for ECS's `service` resource, which UpdateService requires.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from deployworker.deploy.approvals.ballot import WINDOW_TAG
from deployworker.deploy.gates.hookid import HOOKS_TAG
from deployworker.deploy.gates.show import GATE_TAG
from deployworker.deploy.trust import MIGRATED_MAC_TAG, MIGRATED_TAG

# The tags a gate writes on the deploy's revision.
GATE_TAG_KEYS = [GATE_TAG, HOOKS_TAG, WINDOW_TAG]

# The tag a service carries to let the worker's role update it (IAM's half of opting in).
MANAGED_TAG = "deployworker:managed"
MANAGED_VALUE = "true"


@dataclass(frozen=True)
class Scope:
    """Where the worker runs and what else it touches; optional parts add statements."""

    region: str
    account_id: str
    partition: str = "aws"
    # Task-definition families or family prefixes (`web-*`): IAM's wildcards apply.
    families: Sequence[str] = ()
    pass_role_arns: Sequence[str] = ()
    queue_arn: str | None = None
    dlq_arn: str | None = None
    events_topic_arn: str | None = None
    ecs_events_queue_arn: str | None = None
    # Several replicas: the topic of ECS's events and their own queues' name prefix.
    ecs_events_topic_arn: str | None = None
    ecs_events_prefix: str = "deployworker-ecs-events"
    ecr_repository_arns: Sequence[str] = ()
    signing_secret_arn: str | None = None
    tag_key_secret_arn: str | None = None
    kms_key_arn: str | None = None
    # The roles a release's schedules and rule targets run with (PutTargets and
    # UpdateSchedule pass them again).
    release_role_arns: Sequence[str] = ()
    prometheus_secret_arn: str | None = None
    ledger_table_arn: str | None = None  # the deploy ledger: its writes, nothing else


def statement(
    sid: str, actions: list[str], resources: list[str], condition: dict[str, Any] | None = None
) -> dict[str, Any]:
    """One Allow statement."""
    found: dict[str, Any] = {"Sid": sid, "Effect": "Allow", "Action": actions}
    found["Resource"] = resources
    if condition:
        found["Condition"] = condition
    return found


def clusters_of(services: Iterable[str]) -> list[str]:
    """The cluster ARNs of service ARNs (`…:service/<cluster>/<name>`), in order, once."""
    found = (s.rsplit("/", 1)[0].replace(":service/", ":cluster/") for s in services)
    return list(dict.fromkeys(found))


def _under(clusters: list[str], kind: str) -> list[str]:
    """`<kind>/<cluster>/*` for each cluster ARN: its services, deployments or tasks."""
    return [c.replace(":cluster/", f":{kind}/") + "/*" for c in clusters]


def ecs_statements(
    services: list[str], family_arns: list[str], votes: bool = True
) -> list[dict[str, Any]]:
    """Deploying, following and migrating the services in the clusters of `services`
    (ARNs, in whatever accounts and regions they name) that carry the managed tag;
    tagging and RunTask limited to `family_arns` (task-definition ARN patterns).
    `votes`: the approvals' vote tags too."""
    clusters = clusters_of(services)
    create_action = {"StringEquals": {"ecs:CreateAction": "RegisterTaskDefinition"}}
    managed = {"StringEquals": {f"aws:ResourceTag/{MANAGED_TAG}": MANAGED_VALUE}}
    found = [
        statement(
            "DeployAllowlistedServices", ["ecs:UpdateService"], _under(clusters, "service"), managed
        ),
        statement(
            "ReadServices",
            ["ecs:DescribeServices", "ecs:ListServiceDeployments"],
            _under(clusters, "service"),
        ),
        # Following, natively rolling back and (gates) continuing at a PAUSE hook the
        # service deployments in those clusters (they change no image: the deployment
        # was started by an UpdateService above).
        statement(
            "FollowServiceDeployments",
            [
                "ecs:DescribeServiceDeployments",
                "ecs:StopServiceDeployment",
                "ecs:ContinueServiceDeployment",
            ],
            _under(clusters, "service-deployment"),
        ),
        statement(
            "ReadServiceRevisions",
            ["ecs:DescribeServiceRevisions"],
            _under(clusters, "service-revision"),
        ),
        # No resource-level permissions exist for these two: AWS requires "*".
        statement("ReadTaskDefinitions", ["ecs:DescribeTaskDefinition"], ["*"]),
        statement("RegisterTaskDefinitions", ["ecs:RegisterTaskDefinition"], ["*"]),
        statement("TagOnlyNewRevisions", ["ecs:TagResource"], family_arns, create_action),
        # After a migration: the one tag that keeps a redrive from migrating again.
        statement(
            "MarkMigratedRevisions",
            ["ecs:TagResource"],
            family_arns,
            {"ForAllValues:StringEquals": {"aws:TagKeys": [MIGRATED_TAG, MIGRATED_MAC_TAG]}},
        ),
        # A gate's progress, for `status` in other processes, which hook id was which
        # stage's, and when the newest gate's window opened: those tag keys only.
        statement(
            "TagGateProgress",
            ["ecs:TagResource"],
            family_arns,
            {"ForAllValues:StringEquals": {"aws:TagKeys": GATE_TAG_KEYS}},
        ),
    ]
    if votes:
        # Approvals: each verified vote is one `deployworker:vote:<n>` tag on the deploy's
        # revision, which the gates read back from any replica.
        found += [
            statement(
                "RecordApprovalVotes",
                ["ecs:TagResource"],
                family_arns,
                {"ForAllValues:StringLike": {"aws:TagKeys": ["deployworker:vote:*"]}},
            ),
            statement("ReadApprovalVotes", ["ecs:ListTagsForResource"], family_arns),
        ]
    cluster_is = {"ArnEquals": {"ecs:cluster": clusters}}
    return [
        *found,
        statement("RunMigrationTasks", ["ecs:RunTask"], family_arns, cluster_is),
        statement(
            "WatchMigrationTasks", ["ecs:DescribeTasks", "ecs:StopTask"], _under(clusters, "task")
        ),
        # ListTasks has no task resource; the cluster condition narrows it.
        statement("FindMigrationTasks", ["ecs:ListTasks"], ["*"], cluster_is),
    ]
