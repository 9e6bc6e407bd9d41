"""Which deployments a describe round takes: the due and the woken, and its last call
filled with the deployments due next, never more calls than they need."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from deployworker.rollout.schedule import PER_CALL, first_due, pick

CASES = [
    ("nothing followed", {}, [], 10.0, [], set()),
    ("nothing due, nothing woken", {"a": 20.0, "b": 30.0}, [], 10.0, [], set()),
    (
        "due: the others ride along",
        {"a": 5.0, "b": 30.0, "c": 20.0},
        [],
        10.0,
        ["a", "c", "b"],
        {"a"},
    ),
    ("woken first, then by due time", {"a": 50.0, "b": 30.0}, ["a"], 10.0, ["a", "b"], set()),
    ("a woken ARN nobody follows", {"a": 50.0}, ["zz"], 10.0, [], set()),
    ("due exactly now", {"a": 10.0}, [], 10.0, ["a"], {"a"}),
]


@pytest.mark.parametrize(
    ("case", "due", "woken", "now", "arns", "was_due"), CASES, ids=[c[0] for c in CASES]
)
def test_pick(
    case: str,
    due: dict[str, float],
    woken: list[str],
    now: float,
    arns: list[str],
    was_due: set[str],
) -> None:
    assert pick(due, woken, now) == (arns, frozenset(was_due))


def test_a_wake_among_many_fills_one_call_with_those_due_soonest() -> None:
    due = {f"sd-{i:03}": 100.0 + i for i in range(100)}
    arns, was_due = pick(due, ["sd-099"], now=0.0)
    assert arns == ["sd-099"] + [f"sd-{i:03}" for i in range(19)]
    assert was_due == frozenset()


@given(
    st.dictionaries(st.text(min_size=1, max_size=4), st.floats(0, 100), max_size=70),
    st.lists(st.text(min_size=1, max_size=4), max_size=30),
    st.floats(0, 100),
)
def test_every_due_and_woken_deployment_is_taken_in_as_few_calls_as_they_need(
    due: dict[str, float], woken: list[str], now: float
) -> None:
    arns, was_due = pick(due, woken, now)
    must = {a for a, at in due.items() if at <= now} | (set(woken) & set(due))
    assert was_due == {a for a, at in due.items() if at <= now}
    assert must <= set(arns) <= set(due)
    assert len(arns) == len(set(arns))
    calls = math.ceil(len(must) / PER_CALL)
    assert len(arns) == min(len(due), calls * PER_CALL)  # full calls, none extra
    riders = [due[a] for a in arns if a not in must]
    left = [at for a, at in due.items() if a not in arns]
    assert not riders or not left or max(riders) <= min(left)  # the soonest ride along


def test_a_new_deployment_joins_the_latest_group_due_within_a_cadence_that_has_room() -> None:
    assert first_due([], now=0, cadence=30) == 30  # nothing followed: a cadence from now
    assert first_due([10.0, 10.0, 25.0], now=0, cadence=30) == 25.0
    assert first_due([10.0] * 3 + [25.0] * 20, now=0, cadence=30) == 10.0  # 25's call is full
    assert first_due([25.0] * 21, now=0, cadence=30) == 25.0  # its second call has room
    assert first_due([40.0, 5.0], now=10, cadence=30) == 40.0  # 5 is past: not a group
    assert first_due([50.0], now=10, cadence=30) == 40  # 50 is beyond a cadence


@given(st.lists(st.floats(-50, 150), max_size=60), st.floats(0, 100), st.floats(1, 60))
def test_a_new_deployment_is_first_due_within_one_cadence_and_never_now(
    dues: list[float], now: float, cadence: float
) -> None:
    assert now < first_due(dues, now, cadence) <= now + cadence
