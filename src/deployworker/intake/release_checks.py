"""Checks the release schema shares: names and phase lists (pure).

Kept apart from `releases` so its model stays within bounds; durations and
repositories follow `fields`, like every other model of the allowlist.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_NAME = re.compile(r"^[A-Za-z0-9_-]{1,255}$")


def check_name(value: str, what: str) -> str:
    """`value` if it is a valid ECS name. Raises `ValueError` naming `what`."""
    if not _NAME.fullmatch(value):
        raise ValueError(f"{value!r} is not a valid {what}")
    return value


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
