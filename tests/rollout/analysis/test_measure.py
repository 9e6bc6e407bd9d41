"""The analysis verdict: table-driven cases and properties of `judge` and `overall`."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from deployworker.rollout.analysis.measure import (
    Bounds,
    Measurement,
    MetricVerdict,
    Phase,
    judge,
    overall,
)


def m(*values: float | None) -> list[Measurement]:
    return [Measurement(v, float(i)) for i, v in enumerate(values)]


CASES = [
    # bounds, count, failure_limit, values, phase
    (Bounds(max=0.01), 3, 0, [], Phase.RUNNING),
    (Bounds(max=0.01), 3, 0, [0.0, 0.005], Phase.RUNNING),
    (Bounds(max=0.01), 3, 0, [0.0, 0.005, 0.01], Phase.PASSED),
    (Bounds(max=0.01), 3, 0, [0.5], Phase.FAILED),
    (Bounds(max=0.01), 3, 1, [0.5], Phase.RUNNING),
    (Bounds(max=0.01), 3, 1, [0.5, 0.5], Phase.FAILED),
    (Bounds(min=1.0), 2, 0, [1.0, 0.99], Phase.FAILED),
    (Bounds(min=1.0, max=2.0), 2, 0, [1.0, 2.0], Phase.PASSED),
    (Bounds(max=0.01), 2, 0, [None, 0.0], Phase.INCONCLUSIVE),
    (Bounds(max=0.01), 2, 0, [None, 0.5], Phase.FAILED),
    (Bounds(max=0.01), 1, 0, [0.0, 0.5], Phase.PASSED),  # beyond count is ignored
]


@pytest.mark.parametrize(("bounds", "count", "limit", "values", "phase"), CASES)
def test_judge(
    bounds: Bounds, count: int, limit: int, values: list[float | None], phase: Phase
) -> None:
    assert judge("x", bounds, count, limit, m(*values)).phase is phase


def test_verdict_carries_the_values_and_counts() -> None:
    verdict = judge("err", Bounds(max=0.01), 3, 0, m(0.0, None, 0.2))
    assert verdict == MetricVerdict("err", Phase.FAILED, 3, 3, 1, 1, (0.0, None, 0.2))
    assert verdict.done


values = st.lists(st.one_of(st.none(), st.floats(-1e6, 1e6)), max_size=20)


@given(values, st.integers(1, 10), st.integers(0, 9))
def test_judge_is_monotonic_once_failed(vs: list[float | None], count: int, limit: int) -> None:
    bounds = Bounds(min=-10.0, max=10.0)
    verdicts = [judge("x", bounds, count, limit, m(*vs[:i])) for i in range(len(vs) + 1)]
    failed_at = next((i for i, v in enumerate(verdicts) if v.phase is Phase.FAILED), None)
    if failed_at is not None:
        assert all(v.phase is Phase.FAILED for v in verdicts[failed_at:])
    for v in verdicts:
        assert v.taken <= count
        assert (v.phase is Phase.RUNNING) == (v.taken < count and v.failures <= limit)


@given(st.lists(st.sampled_from(list(Phase)), max_size=6))
def test_overall_takes_the_worst_phase(phases: list[Phase]) -> None:
    verdicts = [MetricVerdict(str(i), p, 0, 1, 0, 0, ()) for i, p in enumerate(phases)]
    result = overall(verdicts)
    order = [Phase.FAILED, Phase.RUNNING, Phase.INCONCLUSIVE, Phase.PASSED]
    assert result is (min(phases, key=order.index) if phases else Phase.PASSED)


@given(
    st.sampled_from([math.inf, -math.inf, math.nan]),
    st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False)),
    st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False)),
)
def test_a_value_that_is_not_finite_never_holds(
    value: float, low: float | None, high: float | None
) -> None:
    # -Inf used to pass a one-sided `max` and +Inf a one-sided `min`.
    bounds = Bounds(min=low, max=high)
    assert not bounds.holds(value)
    assert judge("m", bounds, 1, 0, m(value)).phase is Phase.FAILED


@given(st.floats(allow_nan=False, allow_infinity=False), st.floats(0, 1e6))
def test_a_finite_value_inside_one_sided_bounds_holds(value: float, width: float) -> None:
    assert Bounds(max=value + width).holds(value) and Bounds(min=value - width).holds(value)
