"""Reading Prometheus's `/api/v1/query` answers as measurements: table-driven and
property-based (pure)."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from deployworker.rollout.analysis.promresult import read_response, series_text

AT = 1_700_000_000.0


def answer(kind: str, result: Any) -> bytes:
    return json.dumps(
        {"status": "success", "data": {"resultType": kind, "result": result}}
    ).encode()


def series(value: str, **labels: str) -> dict[str, Any]:
    return {"metric": labels, "value": [AT, value]}


@pytest.mark.parametrize(
    ("status", "body", "value", "error", "detail"),
    [
        (200, answer("scalar", [AT, "0.5"]), 0.5, None, "scalar"),
        (200, answer("vector", [series("0.01", job="web")]), 0.01, None, '{job="web"}'),
        (
            200,
            answer("vector", [series("3", __name__="up", job="a")]),
            3.0,
            None,
            'up{job="a"}',
        ),
        (200, answer("vector", [series("+Inf")]), math.inf, None, "{}"),
        (200, answer("vector", []), None, None, "no series"),
        (200, answer("vector", [series("NaN")]), None, None, "NaN"),
        (200, answer("scalar", [AT, "NaN"]), None, None, "NaN"),
        (200, answer("vector", [series("1", a="1"), series("2", a="2")]), None, "2 series", ""),
        (
            200,
            answer("vector", [series(str(i), i=str(i)) for i in range(5)]),
            None,
            "and 2 more",
            "",
        ),
        (200, answer("matrix", [{"metric": {}, "values": [[AT, "1"]]}]), None, "range vector", ""),
        (200, answer("string", [AT, "x"]), None, "'string'", ""),
        (200, answer("vector", [{"metric": {}, "histogram": [AT, {}]}]), None, "plain sample", ""),
        (200, answer("vector", [series("lots")]), None, "not a number", ""),
        (200, answer("vector", [{"metric": {}, "value": [AT]}]), None, "malformed", ""),
        (200, answer("vector", {"not": "a list"}), None, "malformed", ""),
        (
            400,
            b'{"status":"error","errorType":"bad_data","error":"parse error: unclosed ("}',
            None,
            "(bad_data): parse error",
            "",
        ),
        (
            422,
            b'{"status":"error","errorType":"execution","error":"too many samples"}',
            None,
            "execution",
            "",
        ),
        (503, b"Service Unavailable", None, "HTTP 503", ""),
        (500, b'{"status":"success","data":{}}', None, "HTTP 500", ""),
        (200, b"[1, 2]", None, "not a Prometheus API answer", ""),
        (200, b'{"status":"success"}', None, "no data", ""),
        (200, b"\xff\xfe", None, "not a Prometheus API answer", ""),
    ],
)
def test_answers(
    status: int, body: bytes, value: float | None, error: str | None, detail: str
) -> None:
    measured = read_response(status, body, AT)
    assert measured.value == value
    assert measured.at == AT
    if error is None:
        assert measured.error is None
    else:
        assert measured.error is not None
        assert error in measured.error
    assert detail in measured.detail


def test_a_long_error_is_quoted_short() -> None:
    body = json.dumps({"status": "error", "errorType": "bad_data", "error": "x" * 5000})
    measured = read_response(400, body.encode(), AT)
    assert measured.error is not None
    assert len(measured.error) < 300


finite = st.floats(allow_nan=False, allow_infinity=False)
labels = st.dictionaries(st.from_regex(r"[a-z_]{1,8}", fullmatch=True), st.text(max_size=8))


@given(finite, labels)
def test_one_series_gives_its_value_back(value: float, metric: dict[str, str]) -> None:
    body = answer("vector", [{"metric": metric, "value": [AT, repr(value)]}])
    measured = read_response(200, body, AT)
    assert (measured.value, measured.error) == (value, None)
    assert measured.detail == series_text(metric)


@given(st.lists(labels, min_size=2, max_size=20))
def test_several_series_are_always_an_error(metrics: list[dict[str, str]]) -> None:
    body = answer("vector", [{"metric": m, "value": [AT, "1"]} for m in metrics])
    measured = read_response(200, body, AT)
    assert measured.value is None
    assert measured.error is not None
    assert f"{len(metrics)} series" in measured.error


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | finite | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(st.integers(100, 599), json_values)
def test_any_json_answer_is_read_without_raising(status: int, document: Any) -> None:
    measured = read_response(status, json.dumps(document).encode(), AT)
    # Either a reading or an error, never both; a value only from a 200 success.
    assert measured.value is None or measured.error is None
    if measured.value is not None:
        assert status == 200


@given(st.binary(max_size=200))
def test_any_bytes_are_read_without_raising(body: bytes) -> None:
    read_response(200, body, AT)
