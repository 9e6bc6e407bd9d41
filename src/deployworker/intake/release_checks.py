"""Checks the release schema shares: names, durations and phase lists (pure).

Kept apart from `entries` (whose `parse_duration` follows the same grammar) so that
`entries` can import the release models without an import cycle.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

_NAME = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
_DURATION = re.compile(r"^(?P<value>[0-9]+)(?P<unit>s|m|h)?$")


def check_name(value: str, what: str) -> str:
    """`value` if it is a valid ECS name. Raises `ValueError` naming `what`."""
    if not _NAME.fullmatch(value):
        raise ValueError(f"{value!r} is not a valid {what}")
    return value


def parse_duration(value: Any) -> int:
    """Seconds in an integer or a string like `90s`, `15m`, `1h` (1 s to 24 h)."""
    # The same grammar as `entries.parse_duration`; kept here so entries can import us.
    match = _DURATION.fullmatch(str(value))
    if isinstance(value, bool) or match is None:
        raise ValueError(f"{value!r} is not a duration such as 90s, 15m or 1h")
    seconds = int(match["value"]) * {"s": 1, "m": 60, "h": 3600, None: 1}[match["unit"]]
    if not 1 <= seconds <= 24 * 3600:
        raise ValueError("a timeout must be between 1 second and 24 hours")
    return seconds


def check_phases(phases: Sequence[Sequence[str]], names: Sequence[str]) -> None:
    """Every member in exactly one non-empty phase. Raises `ValueError`."""
    listed = [n for phase in phases for n in phase]
    if any(not phase for phase in phases):
        raise ValueError("phases: a phase names at least one member")
    unknown = sorted(set(listed) - set(names))
    if unknown:
        raise ValueError(f"phases: {', '.join(unknown)} not a member")
    twice = sorted({n for n in listed if listed.count(n) > 1})
    if twice:
        raise ValueError(f"phases: {', '.join(twice)} in more than one phase")
    missing = [n for n in names if n not in listed]
    if missing:
        raise ValueError(f"phases: member(s) {', '.join(missing)} in no phase")
