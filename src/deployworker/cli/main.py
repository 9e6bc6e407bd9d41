"""The `deployworker` command: run, local, publish, status, approve, reject, iam-policy,
check-allowlist."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from deployworker import __version__
from deployworker.cli import config, exits
from deployworker.cli.allowlist import add_allowlist_commands
from deployworker.cli.approve import add_approval_commands
from deployworker.cli.ci import add_ci_commands
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

    add_allowlist_commands(sub)
    exits.document(top, sub.choices)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code (`cli.exits`: settings and other
    configuration errors exit 78)."""
    args = parser().parse_args(argv)
    return exits.guard(lambda: args.func(args))
