"""The error vocabulary shared by every stage of the pipeline.

Two families exist on purpose. A `Rejection` is about the *message*: it is final,
never retried, and sends the message to the dead-letter queue with its reason.
An `AwsError` is about the *call*: the adapters raise `RetryableAwsError` only after
their own retries ran out, and `PermanentAwsError` when retrying cannot help.
"""

from __future__ import annotations

from enum import StrEnum


class RejectionKind(StrEnum):
    """Why a message can never be deployed; each kind maps to one outcome label."""

    INVALID = "invalid"
    NOT_ALLOWED = "not_allowed"


class Rejection(Exception):
    """A message that must go to the dead-letter queue, with a reason a human can act on."""

    def __init__(self, kind: RejectionKind, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


def invalid(reason: str) -> Rejection:
    """Build the rejection for a malformed message."""
    return Rejection(RejectionKind.INVALID, reason)


def not_allowed(reason: str) -> Rejection:
    """Build the rejection for a well-formed message the allowlist denies."""
    return Rejection(RejectionKind.NOT_ALLOWED, reason)


class CopyLost(Exception):
    """The message copy a deploy acts for is no longer held: it must write nothing more."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class AwsError(Exception):
    """An AWS call failed; `code` is the AWS error code or the exception class name."""

    def __init__(self, operation: str, code: str, message: str) -> None:
        super().__init__(f"{operation}: {code}: {message}")
        self.operation = operation
        self.code = code
        self.message = message


class RetryableAwsError(AwsError):
    """Throttling, 5xx or a network fault: the same call may succeed later."""


class PermanentAwsError(AwsError):
    """A 4xx such as a missing service or denied access: retrying cannot help."""


class NotFoundError(PermanentAwsError):
    """The named cluster, service or task definition does not exist."""


class ConfigError(Exception):
    """The worker cannot start as configured; the message says what to set."""
