"""Field rules the allowlist's models share (pure): durations and image repositories.

One grammar for every duration in the file (`90s`, `15m`, `2h`, `1h30m`, `1h30m15s`) and
one check for repositories, used as annotated types so a model states a field's rule in
its type instead of repeating a validator. The file must give a unit: a bare `30` is
refused with a hint (it read as seconds, while Argo Rollouts and ecspresso users read
minutes); models built in code (`Approval(timeout=600)`) may still pass seconds.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, ValidationInfo, WithJsonSchema

from deployworker.intake.budget import duration_text
from deployworker.intake.imageref import is_repository

_DURATION = re.compile(r"^(?:(?P<h>[0-9]+)h)?(?:(?P<m>[0-9]+)m)?(?:(?P<s>[0-9]+)s)?$")
# The same grammar for the JSON Schema (editors check it as the file is typed).
DURATION_PATTERN = r"^(?=[0-9])([0-9]+h)?([0-9]+m)?([0-9]+s)?$"
DURATION_SCHEMA = {
    "type": "string",
    "pattern": DURATION_PATTERN,
    "description": "a duration: hours, minutes and seconds, such as 90s, 15m, 2h or 1h30m",
    "examples": ["90s", "15m", "1h30m"],
}
DAY = 24 * 3600
# Validation context of the allowlist file (`load_allowlist`): durations need a unit.
FROM_FILE = {"file": True}


class Located(ValueError):
    """A model-level error about one of its items: `loc` is where, below the model, so
    the error is reported at that item's line (a duplicate entry, not the file's top)."""

    def __init__(self, loc: tuple[int | str, ...], message: str) -> None:
        super().__init__(message)
        self.loc = loc


def from_file(info: ValidationInfo | None) -> bool:
    """Whether the value being validated comes from the allowlist file."""
    return bool(info is not None and isinstance(info.context, dict) and info.context.get("file"))


def parse_duration(value: Any, what: str = "a timeout", most: int = DAY, bare: bool = True) -> int:
    """Seconds in `value`: a string such as `90s`, `15m`, `1h30m` (or, with `bare`, an
    integer or a digit string: seconds), between 1 second and `most`.
    Raises `ValueError` naming `what`."""
    text = str(value)
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"{value!r} is not a duration such as 90s, 15m or 1h30m")
    if re.fullmatch(r"[0-9]+", text):
        if not bare:
            raise ValueError(
                f"{text} has no unit: write {text}s for seconds "
                f"(durations look like 90s, 15m, 1h30m)"
            )
        seconds = int(text)
    else:
        match = _DURATION.fullmatch(text)
        if not text or match is None:
            raise ValueError(f"{value!r} is not a duration such as 90s, 15m or 1h30m")
        seconds = sum(int(match[u] or 0) * n for u, n in (("h", 3600), ("m", 60), ("s", 1)))
    if not 1 <= seconds <= most:
        limit = "24 hours" if most == DAY else duration_text(most)
        raise ValueError(f"{what} must be between 1 second and {limit}")
    return seconds


def _duration(value: Any, info: ValidationInfo) -> int:
    return parse_duration(value, bare=not from_file(info))


def _optional_duration(value: Any, info: ValidationInfo) -> int | None:
    return None if value is None else _duration(value, info)


def check_repositories(value: tuple[str, ...]) -> tuple[str, ...]:
    """Each item is a repository without a tag or digest. Raises `ValueError`."""
    for repository in value:
        if not is_repository(repository):
            raise ValueError(
                f"{repository!r} is not a repository (give it without a tag or digest)"
            )
    return value


Duration = Annotated[int, BeforeValidator(_duration), WithJsonSchema(DURATION_SCHEMA)]
OptionalDuration = Annotated[
    int | None,
    BeforeValidator(_optional_duration),
    WithJsonSchema({"anyOf": [DURATION_SCHEMA, {"type": "null"}]}),
]
# A duration a model checks with its own bounds (`parse_duration` in a validator).
DurationSchema = WithJsonSchema(DURATION_SCHEMA)
Repositories = Annotated[tuple[str, ...], Field(min_length=1), AfterValidator(check_repositories)]
