"""Field rules the allowlist's models share (pure): durations and image repositories.

One grammar for every duration in the file (`90`, `90s`, `15m`, `2h`) and one check
for repositories, used as annotated types so a model states a field's rule in its
type instead of repeating a validator.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field

from deployworker.intake.budget import duration_text
from deployworker.intake.imageref import is_repository

_DURATION = re.compile(r"^(?P<value>[0-9]+)(?P<unit>s|m|h)?$")
_UNITS = {"s": 1, "m": 60, "h": 3600, None: 1}
DAY = 24 * 3600


def parse_duration(value: Any, what: str = "a timeout", most: int = DAY) -> int:
    """Seconds in `value`: an integer, or a string like `90`, `90s`, `15m`, `1h`,
    between 1 second and `most`. Raises `ValueError` naming `what`."""
    if isinstance(value, int) and not isinstance(value, bool):
        seconds = value
    else:
        match = _DURATION.fullmatch(str(value))
        if isinstance(value, bool) or match is None:
            raise ValueError(f"{value!r} is not a duration such as 90s, 15m or 1h")
        seconds = int(match["value"]) * _UNITS[match["unit"]]
    if not 1 <= seconds <= most:
        limit = "24 hours" if most == DAY else duration_text(most)
        raise ValueError(f"{what} must be between 1 second and {limit}")
    return seconds


def _optional_duration(value: Any) -> int | None:
    return None if value is None else parse_duration(value)


def check_repositories(value: tuple[str, ...]) -> tuple[str, ...]:
    """Each item is a repository without a tag or digest. Raises `ValueError`."""
    for repository in value:
        if not is_repository(repository):
            raise ValueError(
                f"{repository!r} is not a repository (give it without a tag or digest)"
            )
    return value


Duration = Annotated[int, BeforeValidator(parse_duration)]
OptionalDuration = Annotated[int | None, BeforeValidator(_optional_duration)]
Repositories = Annotated[tuple[str, ...], Field(min_length=1), AfterValidator(check_repositories)]
