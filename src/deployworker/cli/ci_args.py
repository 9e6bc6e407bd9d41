"""The flags of `publish`, `status` and `history`."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

Command = Callable[[argparse.Namespace], int]


def _add_target_flags(command: argparse.ArgumentParser) -> None:
    command.add_argument("--target-account", help="another account (alias or id); default: home")
    command.add_argument("--target-region", help="another region; default: the worker's")
    command.add_argument("--region")
    command.add_argument("--endpoint-url")
    command.add_argument("--local", action="store_true", help="target `deployworker local`")
    command.add_argument(
        "--ledger-table",
        help="the deploy ledger's DynamoDB table (name or ARN); default: "
        "DEPLOYWORKER_LEDGER_TABLE, or local mode's with --local",
    )


def _add_wait_flags(command: argparse.ArgumentParser) -> None:
    command.add_argument("--wait", action="store_true", help="follow the deploy until it ends")
    command.add_argument("--timeout", type=float, default=1800, help="seconds to wait (1800)")
    command.add_argument("--interval", type=float, default=5, help="seconds between checks (5)")
    command.add_argument(
        "--output",
        choices=["text", "json"],
        default="text",
        help="json: one final JSON document on stdout (state, reason, evidence, revisions, "
        "durations, exit code); the progress lines go to stderr",
    )


def add_publish(sub: Any, run: Command) -> None:
    """`publish`."""
    pub = sub.add_parser(
        "publish",
        help="publish a deploy message (for CI)",
        description=(
            "Validate and send one deploy message. It is sent with MessageGroupId "
            "<cluster>/<service> (names, not ARNs), the only group the worker accepts for "
            "that service: FIFO order within one group is what keeps two replicas from "
            "deploying a service at once. The deduplication id is the SHA-256 of "
            "'<group>\\n<deploy_id>', so one deploy_id may deploy several services. "
            "Without --deploy-id each run gets a fresh one (printed), so a rerun deploys "
            "again; publishing a deploy_id again returns its recorded outcome."
        ),
    )
    pub.add_argument("--cluster")
    pub.add_argument("--service")
    pub.add_argument(
        "--release",
        help="publish a release message (without --service), or send a member's deploy "
        "in its release's group release/NAME",
    )
    pub.add_argument("--container")
    pub.add_argument("--image")
    pub.add_argument(
        "--set",
        action="append",
        metavar="CONTAINER=IMAGE",
        help="several containers at once (repeatable)",
    )
    pub.add_argument("--deploy-id", help="default: a fresh one for each run")
    pub.add_argument("--action", choices=["deploy", "rollback", "redeploy", "promote"])
    pub.add_argument("--to-deploy-id", help="rollback: to the revision of this deploy")
    pub.add_argument("--to-revision", type=int, help="rollback: to this revision number")
    pub.add_argument(
        "--from",
        dest="promote_from",
        metavar="CLUSTER/SERVICE",
        help="promote: the images this service runs",
    )
    pub.add_argument(
        "--dry-run",
        action="store_true",
        help="print the task-definition diff the worker would register and check that each "
        "image exists in ECR; send nothing",
    )
    pub.add_argument("--commit")
    pub.add_argument("--url")
    pub.add_argument("--actor")
    target = pub.add_mutually_exclusive_group()
    target.add_argument("--topic-arn", help="SNS FIFO topic ARN (DEPLOYWORKER_DEPLOY_TOPIC_ARN)")
    target.add_argument("--queue-url", help="SQS FIFO queue URL (DEPLOYWORKER_QUEUE_URL)")
    _add_target_flags(pub)
    _add_wait_flags(pub)
    pub.set_defaults(func=run)


def add_status(sub: Any, run: Command) -> None:
    """`status`."""
    status = sub.add_parser("status", help="the state of a deploy; exit 0 only if it succeeded")
    status.add_argument("--cluster")
    status.add_argument("--service")
    status.add_argument("--release", help="each member's state in a release (with --deploy-id)")
    status.add_argument("--allowlist", type=Path, help="where --release is defined")
    status.add_argument("--deploy-id", help="default: the service's newest deploy")
    _add_target_flags(status)
    _add_wait_flags(status)
    status.set_defaults(func=run)


def add_history(sub: Any, run: Command) -> None:
    """`history`."""
    history = sub.add_parser("history", help="a service's last deploys, from the deploy ledger")
    history.add_argument("--cluster", required=True)
    history.add_argument("--service", required=True)
    history.add_argument("--limit", type=int, default=20, help="deploys to show (20)")
    history.add_argument("--output", choices=["text", "json"], default="text")
    _add_target_flags(history)
    history.set_defaults(func=run)
