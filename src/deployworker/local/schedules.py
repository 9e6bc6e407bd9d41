"""EventBridge Scheduler as AWS runs it, where moto differs: UpdateSchedule checks StartDate.

UpdateSchedule is a full PUT, so a read-modify-write sends back the StartDate it read.
AWS refuses a StartDate more than five minutes in the past with
`ValidationException: The StartDate you specify cannot be earlier than 5 minutes ago.`
on UpdateSchedule as on CreateSchedule (moto 5.2 checks it only on create, in
`Schedule._validate_start_date`, citing boto3's create_schedule StartDate parameter).
The API reference (UpdateSchedule, StartDate) adds: "EventBridge Scheduler ignores
StartDate for one-time schedules", so `at(...)` expressions are not checked.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from moto.scheduler.exceptions import ValidationException
from moto.scheduler.models import Schedule

STALE = timedelta(minutes=5)
MESSAGE = "The StartDate you specify cannot be earlier than 5 minutes ago."

_ORIGINAL: Callable[..., None] = Schedule.update


def check_start_date(expression: str, start_date: float | None, now: datetime) -> None:
    """Raise `ValidationException` as AWS does for a StartDate over 5 min in the past."""
    if start_date is None or expression.startswith("at("):
        return
    if datetime.fromtimestamp(float(start_date), UTC) < now - STALE:
        raise ValidationException(message=MESSAGE)


def _update(self: Schedule, **kwargs: Any) -> None:
    check_start_date(kwargs["schedule_expression"], kwargs["start_date"], datetime.now(UTC))
    _ORIGINAL(self, **kwargs)


def install() -> None:
    """Make moto's UpdateSchedule check StartDate."""
    Schedule.update = _update


def uninstall() -> None:
    """Put moto's Schedule back as it was."""
    Schedule.update = _ORIGINAL
