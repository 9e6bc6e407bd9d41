"""What an answer of Prometheus's `/api/v1/query` means as a measurement (pure).

A gate metric compares one number with its range, so a query must come down to one
number: a scalar, or an instant vector with exactly one series. An empty vector (the
series does not exist, or nothing matched) and NaN (0/0, a rate over no requests) are
no data, which the judge treats as inconclusive. Several series are the author's
mistake, not a reading: picking one of them would judge an arbitrary series, so that
is an error that says how to fix the query. Nothing here raises.
"""

from __future__ import annotations

import json
import math
from typing import Any

from deployworker.rollout.analysis.measure import Measurement

# How much of an unexpected body an error message quotes.
_QUOTE = 200
# How many series a "several series" error names.
_NAMED = 3


def _quote(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _QUOTE else text[: _QUOTE - 3] + "..."


def series_text(labels: Any) -> str:
    """`name{a="1",b="2"}`: a series as PromQL writes it (labels sorted)."""
    if not isinstance(labels, dict):
        return "{}"
    name = str(labels.get("__name__", ""))
    pairs = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()) if k != "__name__")
    return f"{name}{{{pairs}}}"


def sample_value(sample: Any) -> float | str | None:
    """The number in a `[timestamp, "value"]` pair: a float, None for NaN, or an
    error text when the pair is malformed."""
    if not isinstance(sample, list) or len(sample) != 2 or not isinstance(sample[1], str):
        return f"malformed sample {_quote(json.dumps(sample))}"
    try:
        value = float(sample[1])
    except ValueError:
        return f"the sample value {sample[1]!r} is not a number"
    # +Inf stays a value (x/0 is out of any finite range); NaN is no data.
    return None if math.isnan(value) else value


def _vector(result: Any, at: float) -> Measurement:
    if not isinstance(result, list):
        return Measurement(None, at, error="malformed vector result")
    if not result:
        return Measurement(None, at, detail="the query returned no series")
    if len(result) > 1:
        names = ", ".join(
            series_text(s.get("metric") if isinstance(s, dict) else None) for s in result[:_NAMED]
        )
        more = f" and {len(result) - _NAMED} more" if len(result) > _NAMED else ""
        return Measurement(
            None,
            at,
            error=(
                f"the query returned {len(result)} series ({names}{more}); it must return "
                "one: aggregate it, e.g. sum(...) or max(...)"
            ),
        )
    series = result[0]
    if not isinstance(series, dict) or "value" not in series:
        # A native histogram sample carries "histogram" instead of "value".
        return Measurement(None, at, error="the series has no plain sample value")
    return _sample(series["value"], at, series_text(series.get("metric")))


def _sample(sample: Any, at: float, detail: str) -> Measurement:
    value = sample_value(sample)
    if isinstance(value, str):
        return Measurement(None, at, error=value)
    if value is None:
        return Measurement(None, at, detail=f"the query returned NaN {detail}".rstrip())
    return Measurement(value, at, detail=detail)


def read_response(status: int, body: bytes, at: float) -> Measurement:
    """The measurement an HTTP answer (`status`, `body`) of `/api/v1/query` gives."""
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        text = _quote(body.decode("utf-8", "replace"))
        return Measurement(None, at, error=f"HTTP {status}, not a Prometheus API answer: {text}")
    if not isinstance(document, dict):
        return Measurement(None, at, error=f"HTTP {status}, not a Prometheus API answer")
    if document.get("status") == "error":
        kind = document.get("errorType", "error")
        message = _quote(str(document.get("error", "")))
        return Measurement(None, at, error=f"Prometheus refused the query ({kind}): {message}")
    if status != 200 or document.get("status") != "success":
        return Measurement(None, at, error=f"HTTP {status}, status {document.get('status')!r}")
    data = document.get("data")
    if not isinstance(data, dict):
        return Measurement(None, at, error="the answer has no data")
    kind = data.get("resultType")
    if kind == "scalar":
        return _sample(data.get("result"), at, "scalar")
    if kind == "vector":
        return _vector(data.get("result"), at)
    if kind == "matrix":
        return Measurement(
            None,
            at,
            error="the query returned a range vector; use an instant one, e.g. rate(x[1m])",
        )
    return Measurement(None, at, error=f"the query returned a {kind!r}, not a number")
