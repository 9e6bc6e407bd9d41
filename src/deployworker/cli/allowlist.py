"""`deployworker iam-policy` and `deployworker check-allowlist`: what an allowlist file
grants, and whether it is right (and fits AWS's quotas)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from deployworker.cli import exits
from deployworker.cli.check import cmd_check_allowlist
from deployworker.intake.allowlist import AllowlistError, load_allowlist


def cmd_iam_policy(args: argparse.Namespace) -> int:
    """Print the least-privilege IAM policy for the services an allowlist opts in."""
    from deployworker.cli.iam import Scope, worker_policy
    from deployworker.cli.iam_targets import service_arns, target_policy

    try:
        allowlist = load_allowlist(args.allowlist.read_text(encoding="utf-8"))
    except (OSError, AllowlistError) as exc:
        print(f"error: {args.allowlist}: {exc}", file=sys.stderr)
        return exits.CONFIG
    scope = Scope(
        region=args.region,
        account_id=args.account_id,
        partition=args.partition,
        families=args.family or (),
        pass_role_arns=args.pass_role or (),
        queue_arn=args.queue_arn,
        dlq_arn=args.dlq_arn,
        events_topic_arn=args.events_topic_arn,
        ecs_events_queue_arn=args.ecs_events_queue_arn,
        ecs_events_topic_arn=args.ecs_events_topic_arn,
        ecs_events_prefix=args.ecs_events_prefix,
        ecr_repository_arns=args.ecr_repository_arn or (),
        signing_secret_arn=args.signing_secret_arn,
        tag_key_secret_arn=args.tag_key_secret_arn,
        prometheus_secret_arn=args.prometheus_auth_secret_arn,
        kms_key_arn=args.kms_key_arn,
        release_role_arns=args.release_role or (),
        ledger_table_arn=args.ledger_table_arn,
    )
    from deployworker.cli.quotas import ecs_event_pattern, fleet_review

    for quota in fleet_review(allowlist, scope):
        print(f"warning: {quota}", file=sys.stderr)
    if args.events_pattern:
        home = service_arns(allowlist, scope.partition, scope.account_id, scope.region)
        print(json.dumps(ecs_event_pattern(home), indent=2))
        return 0
    if args.ci:
        from deployworker.cli.iam_ci import ci_policy

        try:
            document = ci_policy(allowlist, scope, args.topic_arn, args.queue_arn)
        except ValueError as exc:
            return exits.fail(str(exc), exits.USAGE)
        print(json.dumps(document, indent=2))
        return 0
    if args.target is None:
        print(json.dumps(worker_policy(allowlist, scope), indent=2))
        return 0
    try:
        print(json.dumps(target_policy(allowlist, args.target, scope), indent=2))
    except KeyError as exc:
        print(f"error: {exc.args[0]}", file=sys.stderr)
        return exits.USAGE
    return 0


def add_allowlist_commands(sub: Any) -> None:
    """Register `iam-policy` and `check-allowlist` on the top-level subparsers."""
    iam = sub.add_parser("iam-policy", help="the least-privilege task-role policy for an allowlist")
    iam.add_argument("--allowlist", type=Path, required=True)
    iam.add_argument("--region", required=True)
    iam.add_argument("--account-id", required=True)
    iam.add_argument("--partition", default="aws")
    iam.add_argument(
        "--family", action="append", help="task-definition family or prefix 'web-*' (repeatable)"
    )
    iam.add_argument("--pass-role", action="append", help="task/execution role ARN (repeatable)")
    iam.add_argument("--queue-arn")
    iam.add_argument("--dlq-arn")
    iam.add_argument("--events-topic-arn")
    iam.add_argument("--ecs-events-queue-arn", help="the queue of ECS's events (read, delete)")
    iam.add_argument("--ecs-events-topic-arn", help="the topic of ECS's events (replicas)")
    iam.add_argument("--ecs-events-prefix", default="deployworker-ecs-events")
    iam.add_argument("--ecr-repository-arn", action="append")
    iam.add_argument("--signing-secret-arn")
    iam.add_argument("--tag-key-secret-arn")
    iam.add_argument("--kms-key-arn")
    iam.add_argument("--target", help="print the policy of the role assumed in this account")
    iam.add_argument("--release-role", action="append", help="schedule/rule target role ARN")
    iam.add_argument("--prometheus-auth-secret-arn")
    iam.add_argument("--ledger-table-arn", help="the deploy ledger's DynamoDB table")
    iam.add_argument("--ci", action="store_true", help="the policy of a CI role instead")
    iam.add_argument("--topic-arn", help="with --ci: the deploy topic CI publishes to")
    iam.add_argument(
        "--events-pattern", action="store_true", help="print the ECS events rule's pattern"
    )
    iam.set_defaults(func=cmd_iam_policy)

    check = sub.add_parser("check-allowlist", help="validate an allowlist file")
    check.add_argument("path", type=Path)
    check.add_argument("--describe", action="store_true", help="check gates against ECS")
    check.add_argument(
        "--format",
        choices=("text", "github"),
        default="text",
        help="text: file:line: field: message; github: ::error annotations for a pull request",
    )
    check.add_argument("--region")
    check.add_argument("--endpoint-url")
    check.set_defaults(func=cmd_check_allowlist)
