"""The `deployworker` command: run, local, publish, status, approve, reject, iam-policy,
check-allowlist."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from deployworker import __version__
from deployworker.cli import config, exits
from deployworker.cli.approve import add_approval_commands
from deployworker.cli.check import cmd_check_allowlist
from deployworker.cli.ci import add_ci_commands
from deployworker.intake.allowlist import AllowlistError, load_allowlist
from deployworker.observe.logs import configure_logging

# Seconds local mode may take, past the shutdown grace, to stop its emulator and threads.
LOCAL_STOP_MARGIN = 5.0
# How often the main thread wakes to run signal handlers, and the relay looks for a
# signal: the delay a stop may take to begin.
SIGNAL_POLL_SECONDS = 0.05


class _SignalStop(threading.Event):
    """The stop event of a process run from the command line.

    CPython runs signal handlers only in the main thread, and only once it executes
    Python code again. A signal the kernel delivers to another thread does not wake a
    main thread blocked in `Event.wait()`, so with many threads a stop could wait for
    ever. A `wait()` with no timeout therefore wakes every `SIGNAL_POLL_SECONDS`.
    """

    def wait(self, timeout: float | None = None) -> bool:
        if timeout is not None:
            return super().wait(timeout)
        while not super().wait(SIGNAL_POLL_SECONDS):
            pass
        return True


def _stop_on_signals(exit_after: float | None = None) -> threading.Event:
    """An event set by SIGTERM or SIGINT. With `exit_after`, the process also exits
    (status 1) that many seconds after the first signal if it has not ended by then,
    and at once on a second signal."""
    stop = _SignalStop()
    received: list[int] = []

    def handler(signum: int, _frame: object) -> None:
        # A handler runs between the main thread's bytecodes, perhaps while it holds
        # the very lock Event.set() needs (inside stop.wait()): so it takes no lock at
        # all, and a thread relays the signal to `stop`.
        if exit_after is not None and received:
            os._exit(1)
        received.append(signum)

    def relay() -> None:
        while not received:
            time.sleep(SIGNAL_POLL_SECONDS)
        stop.set()
        if exit_after is not None:
            time.sleep(exit_after)
            _say(f"error: still running {exit_after:g} s after the stop signal; exiting\n")
            os._exit(1)

    threading.Thread(target=relay, name="signals", daemon=True).start()
    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    return stop


def _say(text: str) -> None:
    """Best effort to stderr, never blocking: a reader that stopped reading a full
    pipe must not keep the process from exiting."""
    try:
        os.set_blocking(2, False)
        os.write(2, text.encode())
    except OSError:
        pass


def cmd_run(_: argparse.Namespace) -> int:
    """Run the daemon against AWS, configured from DEPLOYWORKER_* settings."""
    from deployworker.app import build

    settings = config.load_settings()
    configure_logging(settings.log_level, format=settings.log_format)
    config.warn_unknown_variables()
    app = build(settings)
    stop = _stop_on_signals()
    app.start()
    stop.wait()
    app.shutdown()
    return 0


def cmd_local(args: argparse.Namespace) -> int:
    """Run everything locally on an emulated AWS endpoint."""
    try:
        from deployworker.cli.local import run_local
    except ImportError as exc:
        print(f"error: local mode needs the 'local' extra ({exc})", file=sys.stderr)
        return exits.CONFIG
    settings = config.load_settings()
    if args.port is not None:
        settings = settings.model_copy(update={"local_port": args.port})
    if args.allowlist is not None:
        settings = settings.model_copy(update={"allowlist_path": args.allowlist})
    configure_logging(settings.log_level, format=settings.log_format)
    config.warn_unknown_variables()
    # Local mode's state lives in this process and dies with it, so a stop that
    # overruns the shutdown grace (plus time for the emulator) can end it outright.
    stop = _stop_on_signals(exit_after=settings.shutdown_grace_seconds + LOCAL_STOP_MARGIN)
    run_local(settings, stop, sample=not args.no_sample)
    return 0


def cmd_iam_policy(args: argparse.Namespace) -> int:
    """Print the least-privilege IAM policy for the services an allowlist opts in."""
    from deployworker.cli.iam import Scope, worker_policy
    from deployworker.cli.iam_targets import target_policy

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
        prometheus_secret_arn=args.prometheus_auth_secret_arn,
        kms_key_arn=args.kms_key_arn,
        release_role_arns=args.release_role or (),
        ledger_table_arn=args.ledger_table_arn,
    )
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


def parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    top = exits.Parser(prog="deployworker", description=__doc__)
    top.add_argument("--version", action="version", version=f"deployworker {__version__}")
    sub = top.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the worker against AWS (DEPLOYWORKER_* settings)")
    run.epilog, run.formatter_class = config.settings_help(), argparse.RawDescriptionHelpFormatter
    run.set_defaults(func=cmd_run)

    local = sub.add_parser("local", help="run everything on an emulated AWS endpoint")
    local.add_argument("--port", type=int, help="endpoint port (default 4566)")
    local.add_argument("--allowlist", type=Path, help="allowlist file (default: settings)")
    local.add_argument("--no-sample", action="store_true", help="do not publish a sample deploy")
    local.set_defaults(func=cmd_local)

    add_ci_commands(sub)
    add_approval_commands(sub)

    iam = sub.add_parser("iam-policy", help="the least-privilege task-role policy for an allowlist")
    iam.add_argument("--allowlist", type=Path, required=True)
    iam.add_argument("--region", required=True)
    iam.add_argument("--account-id", required=True)
    iam.add_argument("--partition", default="aws")
    iam.add_argument("--family", action="append", help="task-definition family (repeatable)")
    iam.add_argument("--pass-role", action="append", help="task/execution role ARN (repeatable)")
    iam.add_argument("--queue-arn")
    iam.add_argument("--dlq-arn")
    iam.add_argument("--events-topic-arn")
    iam.add_argument("--ecs-events-queue-arn", help="the queue of ECS's events (read, delete)")
    iam.add_argument("--ecs-events-topic-arn", help="the topic of ECS's events (replicas)")
    iam.add_argument("--ecs-events-prefix", default="deployworker-ecs-events")
    iam.add_argument("--ecr-repository-arn", action="append")
    iam.add_argument("--signing-secret-arn")
    iam.add_argument("--kms-key-arn")
    iam.add_argument("--target", help="print the policy of the role assumed in this account")
    iam.add_argument("--release-role", action="append", help="schedule/rule target role ARN")
    iam.add_argument("--prometheus-auth-secret-arn")
    iam.add_argument("--ledger-table-arn", help="the deploy ledger's DynamoDB table")
    iam.add_argument("--ci", action="store_true", help="the policy of a CI role instead")
    iam.add_argument("--topic-arn", help="with --ci: the deploy topic CI publishes to")
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
    exits.document(top, sub.choices)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code (`cli.exits`)."""
    args = parser().parse_args(argv)
    return exits.guard(lambda: args.func(args))
