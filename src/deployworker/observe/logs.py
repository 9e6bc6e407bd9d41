"""structlog configuration: one JSON object per line, with secrets kept out.

Task-definition content is never passed to a logger, but a redaction processor
guards the boundary anyway: any field whose name suggests environment values or
secrets is replaced before rendering.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog

REDACTED_KEYS = frozenset(
    {"environment", "secrets", "containerDefinitions", "container_definitions", "register_input"}
)


def redact(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: blank out fields that could carry environment values or secrets."""
    for key in REDACTED_KEYS & event.keys():
        event[key] = "[redacted]"
    return event


def lead_with_event(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: put timestamp, level and event first, where eyes look for them."""
    head = {k: event.pop(k) for k in ("timestamp", "level", "event") if k in event}
    return {**head, **event}


def configure_logging(level: str = "info", stream: TextIO | None = None) -> None:
    """Send JSON lines to `stream` (stderr by default) at `level` and above."""
    numeric = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            redact,
            structlog.processors.format_exc_info,
            lead_with_event,
            structlog.processors.JSONRenderer(sort_keys=False),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        # Look stderr up per logger, not once: tests and daemons may swap it.
        logger_factory=lambda *_: structlog.PrintLogger(stream or sys.stderr),
        cache_logger_on_first_use=False,
    )
