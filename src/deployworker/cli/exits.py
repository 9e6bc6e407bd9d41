"""Exit codes: one meaning each, the same table in every command's --help and in
docs/exit-codes.md.

Deploy outcomes keep the codes `status` always had; `rejected` and `superseded` have
their own; usage and configuration errors use sysexits' 64 and 78, which no outcome
uses; an AWS call that failed, missing credentials or region, and an unreachable
endpoint are one line on stderr with their own code, never a traceback.
"""

from __future__ import annotations

import argparse
import errno
import os
import sys
from collections.abc import Callable, Mapping
from typing import NoReturn

from botocore.exceptions import (
    BotoCoreError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
)
from pydantic import ValidationError

from deployworker.errors import AwsError, ConfigError

OK = 0  # deployed, noop (the service already ran it), or the command did its work
FAILED = 1  # the deploy failed (its rollout, or its pre-deploy migration)
ROLLED_BACK = 2  # the deploy failed and the service runs the previous revision again
PENDING = 3  # --timeout passed before the worker took the deploy
IN_PROGRESS = 4  # --timeout passed while the deploy was still running
AWS_ERROR = 5  # an AWS call failed (the message names the call and AWS's error code)
OVERTAKEN = 6  # another deployment, not the worker's, replaced it
REJECTED = 7  # the worker refused the message (the reason says why); nothing deployed
SUPERSEDED = 8  # a newer deploy of the service replaced it before it ran
NO_CREDENTIALS = 9  # no AWS credentials or no region
UNREACHABLE = 10  # the AWS endpoint could not be reached
USAGE = 64  # a command-line error (sysexits EX_USAGE)
CONFIG = 78  # a configuration error: a setting or file is wrong (sysexits EX_CONFIG)
INTERRUPTED = 130  # Ctrl-C
BROKEN_PIPE = 141  # the reader of stdout went away (`| head`), as a shell reports it

TABLE = f"""exit codes:
  {OK:<3} succeeded: deployed, or noop (the service already ran the image)
  {FAILED:<3} failed (the rollout, or the pre-deploy migration)
  {ROLLED_BACK:<3} rolled back: failed, and the previous revision runs again
  {PENDING:<3} still pending when --timeout passed (the worker had not taken it)
  {IN_PROGRESS:<3} still in progress when --timeout passed
  {AWS_ERROR:<3} an AWS call failed
  {OVERTAKEN:<3} overtaken by a deployment the worker did not make
  {REJECTED:<3} rejected by the worker (the reason says why); nothing deployed
  {SUPERSEDED:<3} superseded by a newer deploy of the service before it ran
  {NO_CREDENTIALS:<3} no AWS credentials, or no region
  {UNREACHABLE:<3} the AWS endpoint could not be reached
  {USAGE:<3} usage error (a flag or argument is wrong)
  {CONFIG:<3} configuration error (a setting or file is wrong)
  {INTERRUPTED:<3} interrupted
  {BROKEN_PIPE:<3} stdout was closed by its reader"""

UNREACHABLE_CODES = frozenset(
    {
        "EndpointConnectionError",
        "ConnectTimeoutError",
        "ConnectionClosedError",
        "ProxyConnectionError",
    }
)


def of_aws(error: AwsError) -> int:
    """The exit code of an AWS call that failed."""
    return UNREACHABLE if error.code in UNREACHABLE_CODES else AWS_ERROR


def fail(message: str, code: int) -> int:
    """Print one line on stderr; return `code`."""
    print(f"error: {message}", file=sys.stderr, flush=True)
    return code


class Parser(argparse.ArgumentParser):
    """argparse with usage errors on exit code 64, not 2 (a `rolled back` deploy)."""

    def error(self, message: str) -> NoReturn:
        """Print the usage and the error; exit 64."""
        self.print_usage(sys.stderr)
        self.exit(USAGE, f"{self.prog}: error: {message}\n")


def document(top: argparse.ArgumentParser, commands: Mapping[str, argparse.ArgumentParser]) -> None:
    """Put the exit-code table in the --help of `top` and of every command."""
    for command in [top, *commands.values()]:
        command.epilog = f"{command.epilog}\n\n{TABLE}" if command.epilog else TABLE
        command.formatter_class = argparse.RawDescriptionHelpFormatter


def _first_line(error: ValidationError) -> str:
    first = error.errors(include_url=False)[0] if error.errors() else {"loc": (), "msg": str(error)}
    where = ".".join(str(p) for p in first["loc"]) or "settings"
    return f"invalid setting DEPLOYWORKER_{where.upper()}: {first['msg']}"


def guard(run: Callable[[], int]) -> int:
    """Run a command; turn what escapes it into one line on stderr and its exit code."""
    try:
        return int(run())
    except ConfigError as exc:
        return fail(str(exc), CONFIG)
    except ValidationError as exc:
        return fail(_first_line(exc), CONFIG)
    except (NoCredentialsError, PartialCredentialsError) as exc:
        return fail(f"{exc} (set AWS_PROFILE, or AWS_ACCESS_KEY_ID and its secret)", NO_CREDENTIALS)
    except NoRegionError:
        return fail(
            "no AWS region: set AWS_REGION or DEPLOYWORKER_REGION, or --region", NO_CREDENTIALS
        )
    except AwsError as exc:
        return fail(str(exc), of_aws(exc))
    except BotoCoreError as exc:
        return fail(str(exc), AWS_ERROR)
    except KeyboardInterrupt:
        return INTERRUPTED
    except BrokenPipeError:
        return _quiet_broken_pipe()
    except OSError as exc:
        if exc.errno == errno.EPIPE:
            return _quiet_broken_pipe()
        raise


def _quiet_broken_pipe() -> int:
    """The reader went away: say nothing, and let the interpreter's final flush of
    stdout go to /dev/null instead of raising again at exit."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return BROKEN_PIPE
