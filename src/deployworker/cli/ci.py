"""The CI-facing commands: `publish` (optionally `--wait`) and `status`."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from deployworker.aws.ecs import Ecs
from deployworker.cli.config import CLIENT_SETTINGS, load_settings
from deployworker.cli.outputs import write_outputs
from deployworker.cli.status import Status
from deployworker.errors import AwsError, Rejection
from deployworker.local import DEFAULT_REGION, use_fake_credentials
from deployworker.settings import Settings

LOCAL_TOPIC_ARN = "arn:aws:sns:{region}:123456789012:deployworker-deploys.fifo"


def _images(pairs: Sequence[str]) -> dict[str, str]:
    if bad := [pair for pair in pairs if "=" not in pair]:
        raise ValueError(f"--set takes CONTAINER=IMAGE, not {bad[0]!r}")
    return {name: image for name, _, image in (pair.partition("=") for pair in pairs)}


def _target(args: argparse.Namespace, settings: Settings) -> tuple[str | None, str | None]:
    """(region, endpoint URL) from flags, --local, then settings."""
    region, endpoint = args.region, args.endpoint_url
    if args.local:
        use_fake_credentials()
        region = region or settings.region or DEFAULT_REGION
        endpoint = endpoint or f"http://127.0.0.1:{settings.local_port}"
    return region or settings.region, endpoint or settings.endpoint_url


def cmd_publish(args: argparse.Namespace) -> int:
    """Publish one deploy message (and with --wait, follow it to its outcome)."""
    from deployworker.cli.publish import publish
    from deployworker.cli.targets import accounts_for

    settings = load_settings(CLIENT_SETTINGS)
    region, endpoint = _target(args, settings)
    topic, queue = args.topic_arn, args.queue_url
    if args.local and not queue:
        topic = topic or LOCAL_TOPIC_ARN.format(region=region)
    source = {"commit": args.commit, "url": args.url, "actor": args.actor}
    if args.release and not args.service:
        from deployworker.cli.release import cmd_publish_release

        return cmd_publish_release(args, settings, topic, queue, region, endpoint, source)
    if not args.cluster or not args.service:
        print("error: publish needs --cluster and --service, or --release", file=sys.stderr)
        return 2
    fields = {
        "cluster": args.cluster,
        "service": args.service,
        "container": args.container,
        "image": args.image,
        "images": _images(args.set) if args.set else None,
        "deploy_id": args.deploy_id,
        "action": args.action,
        "source": {k: v for k, v in source.items() if v} or None,
        "account": args.target_account,
        "region": args.target_region,
    }
    try:
        sent = publish(
            fields,
            topic_arn=topic,
            queue_url=queue,
            region=region,
            endpoint_url=endpoint,
            signing_key=(
                settings.signing_key.get_secret_value().encode() if settings.signing_key else None
            ),
            accounts=accounts_for(settings, args.target_account),
            group_id=f"release/{args.release}" if args.release else None,
        )
    except Rejection as rejection:
        print(f"error: invalid deploy message: {rejection.reason}", file=sys.stderr)
        return 2
    except (AwsError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(
        json.dumps(
            {"message_id": sent.message_id, "deploy_id": sent.deploy_id, "group_id": sent.group_id}
        ),
        flush=True,
    )
    if not args.wait:
        write_outputs({"deploy_id": sent.deploy_id, "state": "published", "exit_code": 0})
        return 0
    images = {name: str(ref) for name, ref in sent.request.targets.items()}
    return _wait_and_report(
        _ecs_for(region, endpoint, settings, args),
        args.cluster,
        args.service,
        sent.deploy_id,
        images or None,
        True,
        args.timeout,
        args.interval,
    )


def _ecs_for(
    region: str | None, endpoint: str | None, settings: Settings, args: argparse.Namespace
) -> Ecs:
    from deployworker.cli.targets import ecs_for

    return ecs_for(settings, region, endpoint, args.target_account, args.target_region)


def _wait_and_report(
    ecs: Ecs,
    cluster: str,
    service: str,
    deploy_id: str | None,
    images: dict[str, str] | None,
    wait: bool,
    timeout: float,
    interval: float,
) -> int:
    """Print the deploy's state (each change of it, with --wait); exit code by state."""
    from deployworker.cli.status import EXIT_CODES, lookup, wait_for
    from deployworker.deploy.evidence import brief

    def report(status: Status) -> None:
        where = f"{cluster}/{service}" + (f" deploy {deploy_id}" if deploy_id else "")
        revision = f" [{status.task_definition}]" if status.task_definition else ""
        print(f"{where}: {status.state.value}: {status.detail}{revision}", flush=True)
        why = brief(status.evidence)
        if why:
            print(f"{where}: {why}", flush=True)

    def check() -> Status:
        return lookup(ecs, cluster, service, deploy_id, images)

    try:
        if wait:
            status = wait_for(check, timeout, interval, report)
        else:
            status = check()
            report(status)
    except AwsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 5
    values = {"state": status.state.value, "task_definition": status.task_definition}
    write_outputs({"deploy_id": deploy_id, **values, "exit_code": EXIT_CODES[status.state]})
    return EXIT_CODES[status.state]


def cmd_status(args: argparse.Namespace) -> int:
    """Tell CI whether a deploy succeeded."""
    settings = load_settings(CLIENT_SETTINGS)
    region, endpoint = _target(args, settings)
    if args.release:
        from deployworker.cli.release import cmd_release_status

        args.allowlist = args.allowlist or settings.allowlist_path
        return cmd_release_status(args, region, endpoint)
    if not args.cluster or not args.service:
        print("error: status needs --cluster and --service, or --release", file=sys.stderr)
        return 2
    try:
        ecs = _ecs_for(region, endpoint, settings, args)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return _wait_and_report(
        ecs,
        args.cluster,
        args.service,
        args.deploy_id,
        None,
        args.wait,
        args.timeout,
        args.interval,
    )


def _add_target_flags(command: argparse.ArgumentParser) -> None:
    command.add_argument("--target-account", help="another account (alias or id); default: home")
    command.add_argument("--target-region", help="another region; default: the worker's")
    command.add_argument("--region")
    command.add_argument("--endpoint-url")
    command.add_argument("--local", action="store_true", help="target `deployworker local`")


def _add_wait_flags(command: argparse.ArgumentParser) -> None:
    command.add_argument("--wait", action="store_true", help="follow the deploy until it ends")
    command.add_argument("--timeout", type=float, default=1800, help="seconds to wait (1800)")
    command.add_argument("--interval", type=float, default=5, help="seconds between checks (5)")


def add_ci_commands(sub: Any) -> None:
    """Register `publish` and `status` on the top-level subparsers."""
    pub = sub.add_parser(
        "publish",
        help="publish a deploy message (for CI)",
        description=(
            "Validate and send one deploy message. It is sent with MessageGroupId "
            "<cluster>/<service> (names, not ARNs), the only group the worker accepts for "
            "that service: FIFO order within one group is what keeps two replicas from "
            "deploying a service at once. The deduplication id is the SHA-256 of "
            "'<group>\\n<deploy_id>', so one deploy_id may deploy several services."
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
    pub.add_argument("--deploy-id")
    pub.add_argument("--action", choices=["deploy", "rollback"])
    pub.add_argument("--commit")
    pub.add_argument("--url")
    pub.add_argument("--actor")
    target = pub.add_mutually_exclusive_group()
    target.add_argument("--topic-arn", help="SNS FIFO topic ARN")
    target.add_argument("--queue-url", help="SQS FIFO queue URL")
    _add_target_flags(pub)
    _add_wait_flags(pub)
    pub.set_defaults(func=cmd_publish)

    status = sub.add_parser("status", help="the state of a deploy; exit 0 only if it succeeded")
    status.add_argument("--cluster")
    status.add_argument("--service")
    status.add_argument("--release", help="each member's state in a release (with --deploy-id)")
    status.add_argument("--allowlist", type=Path, help="where --release is defined")
    status.add_argument("--deploy-id", help="default: the service's newest deployment")
    _add_target_flags(status)
    _add_wait_flags(status)
    status.set_defaults(func=cmd_status)
