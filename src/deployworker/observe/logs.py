"""structlog configuration: readable lines on a terminal, one JSON object per line
elsewhere, the same for the standard library's loggers, and secrets kept out.

`DEPLOYWORKER_LOG_FORMAT` picks `console` (structlog's ConsoleRenderer) or `json`;
`auto` (the default) means console when stderr is a terminal. Records of stdlib
loggers (urllib3, botocore, werkzeug in local mode) go through
`structlog.stdlib.ProcessorFormatter` with the same processors and renderer, so a run
prints in one format. structlog's own events keep their direct path to the stream (no
stdlib record per line: the worker logs on every deploy step).

Task-definition content is never passed to a logger, but a redaction processor guards
the boundary anyway: any field whose name suggests environment values or secrets is
replaced before rendering.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog
from structlog.typing import Processor

REDACTED_KEYS = frozenset(
    {"environment", "secrets", "containerDefinitions", "container_definitions", "register_input"}
)
LEVELS = ("debug", "info", "warning", "error", "critical")
FORMATS = ("auto", "console", "json")
# A console line names its deploy by these, not by every field bound to it.
_SHORT_CONTEXT = ("cluster", "service", "deploy_id")


def redact(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: blank out fields that could carry environment values or secrets."""
    for key in REDACTED_KEYS & event.keys():
        event[key] = "[redacted]"
    return event


def lead_with_event(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: put timestamp, level and event first, where eyes look for them."""
    head = {k: event.pop(k) for k in ("timestamp", "level", "event") if k in event}
    return {**head, **event}


def shorten_context(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Console processor: the fields bound to the deploy (message and group ids, image,
    container, ...) repeat on every line; keep `cluster/service deploy_id` in front of
    the event instead. A field the line itself changed stays."""
    context = structlog.contextvars.get_contextvars()
    for key, value in context.items():
        if key in event and event[key] == value:
            del event[key]
    where = "/".join(str(context[k]) for k in ("cluster", "service") if context.get(k))
    short = " ".join(p for p in (where, str(context.get("deploy_id") or "")) if p)
    if short:
        event["event"] = f"[{short}] {event.get('event', '')}"
    return event


def _logger_name(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    record = event.get("_record")
    if record is not None and record.name:
        event.setdefault("logger", record.name)
    return event


def check_level(level: str) -> int:
    """The numeric level of `level`. Raises `ValueError` for an unknown one."""
    if level.lower() not in LEVELS:
        raise ValueError(f"unknown log level {level!r} (allowed: {', '.join(LEVELS)})")
    return logging.getLevelNamesMapping()[level.upper()]


def configure_logging(
    level: str = "info", stream: TextIO | None = None, format: str = "auto"
) -> None:
    """Send lines to `stream` (stderr by default) at `level` and above, as console lines
    or JSON (`format`); stdlib loggers' records in the same format."""
    numeric = check_level(level)
    if format not in FORMATS:
        raise ValueError(f"unknown log format {format!r} (allowed: {', '.join(FORMATS)})")
    out = stream or sys.stderr
    console = format == "console" or (format == "auto" and out.isatty())
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso" if not console else "%H:%M:%S", utc=not console),
        redact,
    ]
    renderer: Processor
    if console:
        shared.append(shorten_context)
        renderer = structlog.dev.ConsoleRenderer(colors=out.isatty(), sort_keys=False)
        tail: list[Processor] = [renderer]
    else:
        renderer = structlog.processors.JSONRenderer(sort_keys=False)
        tail = [structlog.processors.format_exc_info, lead_with_event, renderer]
    structlog.configure(
        processors=[*shared, *tail],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        # Look stderr up per logger, not once: tests and daemons may swap it.
        logger_factory=lambda *_: structlog.PrintLogger(stream or sys.stderr),
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(out)
    handler.set_name("deployworker")
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, _logger_name],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *tail],
        )
    )
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "deployworker"]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(max(numeric, logging.INFO))  # botocore's debug would drown the worker's
