"""Stage 1, parse: a raw SQS body becomes a validated `DeployRequest`, or a `Rejection`.

Pure: no I/O. Handles the SNS notification envelope (when raw delivery is off),
bounds size and nesting before validation, and turns validation errors into one
readable reason. The message model itself is in `message.py`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from deployworker.errors import invalid
from deployworker.intake.message import DeployRequest

MAX_BODY_BYTES = 256 * 1024
MAX_NESTING = 8


def _depth(value: Any, limit: int) -> int:
    """Nesting depth of a decoded JSON value, stopping early past `limit`."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    deepest = 0
    while stack:
        node, level = stack.pop()
        deepest = max(deepest, level)
        if deepest > limit:
            return deepest
        if isinstance(node, dict):
            stack.extend((child, level + 1) for child in node.values())
        elif isinstance(node, list):
            stack.extend((child, level + 1) for child in node)
    return deepest


def _decode(text: str, what: str) -> Any:
    try:
        value = json.loads(text)
    except RecursionError:
        raise invalid(f"{what} is nested too deeply") from None
    except json.JSONDecodeError as exc:
        raise invalid(
            f"{what} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    if _depth(value, MAX_NESTING) > MAX_NESTING:
        raise invalid(f"{what} is nested deeper than {MAX_NESTING} levels")
    return value


def _is_envelope(document: Any) -> bool:
    return isinstance(document, dict) and "Type" in document and "TopicArn" in document


@dataclass(frozen=True)
class Unwrapped:
    """The deploy message text, the SNS message attributes that came with it, and
    whether it arrived in an SNS envelope."""

    text: str
    attributes: dict[str, str]
    enveloped: bool


def unwrap(body: str) -> Unwrapped:
    """Take the deploy message out of an SNS notification envelope, if it is in one.

    Raises `Rejection` for an oversized body or a broken envelope.
    """
    if len(body.encode("utf-8", errors="replace")) > MAX_BODY_BYTES:
        raise invalid(f"message body is larger than {MAX_BODY_BYTES} bytes")
    if '"TopicArn"' not in body:  # cheap test first: most bodies are raw
        return Unwrapped(body, {}, False)
    document = _decode(body, "message body")
    if not _is_envelope(document):
        return Unwrapped(body, {}, False)
    message = document.get("Message")
    if document.get("Type") != "Notification" or not isinstance(message, str):
        raise invalid("SNS envelope has no string 'Message' (or its Type is not 'Notification')")
    raw_attributes = document.get("MessageAttributes")
    attributes = {
        str(name): str(value.get("Value", ""))
        for name, value in (raw_attributes if isinstance(raw_attributes, dict) else {}).items()
        if isinstance(value, dict)
    }
    return Unwrapped(message, attributes, True)


def _describe(error: ValidationError) -> str:
    parts = []
    for item in error.errors(include_url=False, include_input=False):
        where = ".".join(str(p) for p in item["loc"]) or "message"
        if item["type"] == "extra_forbidden":
            parts.append(f"unknown field {where!r}")
        else:
            message = item["msg"].removeprefix("Value error, ")
            parts.append(f"{where}: {message}")
    return "; ".join(parts)


def parse_message(body: str) -> DeployRequest:
    """Parse an SQS message body (raw or SNS-wrapped) into a `DeployRequest`.

    Raises `Rejection` (kind `invalid`) naming every problem found; raises nothing else.
    """
    return parse_request(unwrap(body))


def parse_request(unwrapped: Unwrapped) -> DeployRequest:
    """Parse an unwrapped deploy message. Raises `Rejection` (kind `invalid`) only."""
    what = "SNS envelope's Message" if unwrapped.enveloped else "message body"
    document = _decode(unwrapped.text, what)
    if not isinstance(document, dict):
        raise invalid(f"message body must be a JSON object, not {type(document).__name__}")
    try:
        return DeployRequest.model_validate(document)
    except ValidationError as exc:
        raise invalid(_describe(exc)) from None
    except (ValueError, TypeError, RecursionError) as exc:
        raise invalid(f"message could not be validated: {exc}") from None
