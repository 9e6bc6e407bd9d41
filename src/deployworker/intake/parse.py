"""Stage 1, parse: a raw SQS body becomes a validated `DeployRequest`, or a `Rejection`.

Pure: no I/O. Handles the SNS notification envelope (when raw delivery is off),
bounds size and nesting before validation, and turns validation errors into one
readable reason. The message model itself is in `message.py`.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from deployworker.errors import invalid
from deployworker.intake.message import DeployRequest

MAX_BODY_BYTES = 256 * 1024
MAX_NESTING = 8
# No field of any message holds a number this long; Python refuses to convert an integer
# of more than 4,300 digits at all (ValueError), and json would do it before we could.
MAX_NUMBER_CHARS = 32
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")


class _Refused(ValueError):
    """Raised by the decoder's hooks: the text is JSON-like but not acceptable."""


def _depth(value: Any, limit: int) -> int:
    """Nesting depth of a decoded JSON value, stopping early past `limit`. Strings that
    cannot be UTF-8 (a lone surrogate escape such as "\\ud800") are refused here too."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    deepest = 0
    while stack:
        node, level = stack.pop()
        deepest = max(deepest, level)
        if deepest > limit:
            return deepest
        if isinstance(node, dict):
            stack.extend((child, level + 1) for child in node.values())
            stack.extend((key, level) for key in node)
        elif isinstance(node, list):
            stack.extend((child, level + 1) for child in node)
        elif isinstance(node, str):
            try:
                node.encode("utf-8")
            except UnicodeEncodeError:
                raise _Refused("holds a string that is not valid Unicode") from None
    return deepest


def _raw_depth(text: str) -> int:
    """The bracket nesting of `text` outside its strings, without decoding it: what keeps
    a deeply nested body from ever reaching `json.loads` (and its RecursionError)."""
    level = deepest = 0
    for bracket in _BRACKET.findall(_STRING.sub("", text)):
        level += 1 if bracket in "[{" else -1
        deepest = max(deepest, level)
    return deepest


def _constant(name: str) -> Any:
    raise _Refused(f"holds {name}, which is not JSON")


def _number(text: str) -> Any:
    if len(text) > MAX_NUMBER_CHARS:
        raise _Refused(f"holds a number of {len(text)} characters (at most {MAX_NUMBER_CHARS})")
    value = float(text) if any(c in text for c in ".eE") else int(text)
    if isinstance(value, float) and not math.isfinite(value):
        raise _Refused(f"holds {text}, a number no float can hold")
    return value


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document: dict[str, Any] = {}
    for key, value in pairs:
        if key in document:  # json.loads would keep the last silently
            raise _Refused(f"names the key {key[:64]!r} twice")
        document[key] = value
    return document


def decode(text: str, what: str) -> Any:
    """Strict JSON for every message kind (deploy, release, vote, and SNS's envelope).

    Size and nesting are checked on the text, before `json.loads` runs; NaN and Infinity,
    numbers too long for any field, duplicate keys and strings that are not Unicode are
    refused while decoding. Raises `Rejection` (invalid) and nothing else."""
    if len(text.encode("utf-8", errors="replace")) > MAX_BODY_BYTES:
        raise invalid(f"{what} is larger than {MAX_BODY_BYTES} bytes")
    if _raw_depth(text) > MAX_NESTING:
        raise invalid(f"{what} is nested deeper than {MAX_NESTING} levels")
    try:
        value = json.loads(
            text,
            parse_constant=_constant,
            parse_int=_number,
            parse_float=_number,
            object_pairs_hook=_object,
        )
        if _depth(value, MAX_NESTING) > MAX_NESTING:
            raise invalid(f"{what} is nested deeper than {MAX_NESTING} levels")
    except RecursionError:
        raise invalid(f"{what} is nested too deeply") from None
    except json.JSONDecodeError as exc:
        raise invalid(
            f"{what} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except _Refused as exc:
        raise invalid(f"{what} {exc}") from None
    except ValueError as exc:  # anything else json or int() refuses
        raise invalid(f"{what} is not valid JSON: {exc}") from None
    return value


_decode = decode  # the name `intake.approval` imports


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
    document = decode(body, "message body")
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
    document = decode(unwrapped.text, what)
    if not isinstance(document, dict):
        raise invalid(f"message body must be a JSON object, not {type(document).__name__}")
    try:
        return DeployRequest.model_validate(document)
    except ValidationError as exc:
        raise invalid(_describe(exc)) from None
    except (ValueError, TypeError, RecursionError) as exc:
        raise invalid(f"message could not be validated: {exc}") from None
