"""The `deployworker` command: run, local, publish, check-allowlist."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from deployworker import __version__
from deployworker.allowlist import AllowlistError, load_allowlist
from deployworker.errors import AwsError, ConfigError, Rejection
from deployworker.logs import configure_logging
from deployworker.settings import Settings

LOCAL_TOPIC_ARN = "arn:aws:sns:{region}:123456789012:deployworker-deploys.fifo"


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()

    def handler(signum: int, _frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    return stop


def cmd_run(_: argparse.Namespace) -> int:
    """Run the daemon against AWS, configured from DEPLOYWORKER_* settings."""
    from deployworker.app import build, run_until

    settings = Settings()
    configure_logging(settings.log_level)
    app = build(settings)
    run_until(app, _stop_on_signals())
    return 0


def cmd_local(args: argparse.Namespace) -> int:
    """Run everything locally on an emulated AWS endpoint."""
    try:
        from deployworker.local.run import run_local
    except ImportError as exc:
        print(f"error: local mode needs the 'local' extra ({exc})", file=sys.stderr)
        return 2
    settings = Settings()
    if args.port is not None:
        settings = settings.model_copy(update={"local_port": args.port})
    if args.allowlist is not None:
        settings = settings.model_copy(update={"allowlist_path": args.allowlist})
    configure_logging(settings.log_level)
    run_local(settings, _stop_on_signals(), sample=not args.no_sample)
    return 0


def _images(pairs: Sequence[str]) -> dict[str, str]:
    images = {}
    for pair in pairs:
        name, sep, image = pair.partition("=")
        if not sep:
            raise ValueError(f"--set takes CONTAINER=IMAGE, not {pair!r}")
        images[name] = image
    return images


def cmd_publish(args: argparse.Namespace) -> int:
    """Publish one deploy message."""
    from deployworker.local import DEFAULT_REGION, use_fake_credentials
    from deployworker.publish import publish

    settings = Settings()
    region, endpoint, topic, queue = args.region, args.endpoint_url, args.topic_arn, args.queue_url
    if args.local:
        use_fake_credentials()
        region = region or settings.region or DEFAULT_REGION
        endpoint = endpoint or f"http://127.0.0.1:{settings.local_port}"
        if not queue:
            topic = topic or LOCAL_TOPIC_ARN.format(region=region)
    source = {"commit": args.commit, "url": args.url, "actor": args.actor}
    fields = {
        "cluster": args.cluster,
        "service": args.service,
        "container": args.container,
        "image": args.image,
        "images": _images(args.set) if args.set else None,
        "deploy_id": args.deploy_id,
        "action": args.action,
        "source": {k: v for k, v in source.items() if v} or None,
    }
    try:
        sent = publish(
            fields,
            topic_arn=topic,
            queue_url=queue,
            region=region or settings.region,
            endpoint_url=endpoint or settings.endpoint_url,
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
        )
    )
    return 0


def cmd_check_allowlist(args: argparse.Namespace) -> int:
    """Validate an allowlist file; print where and why it is wrong."""
    path: Path = args.path
    try:
        allowlist = load_allowlist(path.read_text(encoding="utf-8"))
    except OSError as exc:
        print(f"{path}: cannot read: {exc.strerror}", file=sys.stderr)
        return 1
    except AllowlistError as exc:
        where = f"{path}:{exc.line}" if exc.line else str(path)
        print(f"{where}: {exc.reason}", file=sys.stderr)
        return 1
    print(f"{path}: ok, {len(allowlist.services)} service(s)")
    return 0


def parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    top = argparse.ArgumentParser(prog="deployworker", description=__doc__)
    top.add_argument("--version", action="version", version=f"deployworker {__version__}")
    sub = top.add_subparsers(dest="command", required=True)

    sub.add_parser("run", help="run the worker against AWS (DEPLOYWORKER_* settings)").set_defaults(
        func=cmd_run
    )

    local = sub.add_parser("local", help="run everything on an emulated AWS endpoint")
    local.add_argument("--port", type=int, help="endpoint port (default 4566)")
    local.add_argument("--allowlist", type=Path, help="allowlist file (default: settings)")
    local.add_argument("--no-sample", action="store_true", help="do not publish a sample deploy")
    local.set_defaults(func=cmd_local)

    pub = sub.add_parser("publish", help="publish a deploy message (for CI)")
    pub.add_argument("--cluster", required=True)
    pub.add_argument("--service", required=True)
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
    pub.add_argument("--region")
    pub.add_argument("--endpoint-url")
    pub.add_argument("--local", action="store_true", help="target `deployworker local`")
    pub.set_defaults(func=cmd_publish)

    check = sub.add_parser("check-allowlist", help="validate an allowlist file")
    check.add_argument("path", type=Path)
    check.set_defaults(func=cmd_check_allowlist)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    args = parser().parse_args(argv)
    try:
        return int(args.func(args))
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
