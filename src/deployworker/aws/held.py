"""A write is made only while the message copy it serves is held.

A deploy acts for one copy of an SQS message. Once the heartbeat cannot keep that copy
invisible (SQS refused the extension, or failed it long enough that its visibility may
have lapsed), another worker may receive the message and act for it: this copy must
then make no further ECS write. The pipeline sets `check` around each of its stages;
`Caller.once` runs it before every attempt of an ECS write, after the rate-limit wait,
so no code path (apply, migration, rollback, gate) can forget it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

# The ECS operations that change something (tags and tasks included).
ECS_WRITES = frozenset(
    {
        "RegisterTaskDefinition",
        "UpdateService",
        "StopServiceDeployment",
        "ContinueServiceDeployment",
        "RunTask",
        "StopTask",
        "TagResource",
        "UntagResource",
    }
)

Check = Callable[[], None]  # raises `CopyLost` when the copy is no longer held
_check: ContextVar[Check | None] = ContextVar("deployworker_held_check", default=None)


@contextmanager
def holding(check: Check) -> Iterator[None]:
    """Run the block with `check` guarding every ECS write made on this thread."""
    token = _check.set(check)
    try:
        yield
    finally:
        _check.reset(token)


def before_write(service: str, operation: str) -> None:
    """Raise `CopyLost` if this is an ECS write and its copy is no longer held."""
    check = _check.get()
    if check is not None and service == "ecs" and operation in ECS_WRITES:
        check()


def still_held() -> None:
    """Raise `CopyLost` if the copy is no longer held (a long wait asks between polls)."""
    check = _check.get()
    if check is not None:
        check()
