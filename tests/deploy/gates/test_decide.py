"""The gate state machine: measuring, failing, inconclusive data, approvals, deadlines."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from deployworker.deploy.approvals.votes import Vote
from deployworker.deploy.gates.decide import (
    Action,
    Progress,
    bounds_of,
    decide,
    query_of,
)
from deployworker.intake.gates import Gate
from deployworker.rollout.analysis.measure import (
    AlarmsQuery,
    Bounds,
    CloudWatchQuery,
    Measurement,
    PrometheusQuery,
)

MANAGERS = "arn:aws:iam::123456789012:role/release-managers"
ALICE = "arn:aws:sts::123456789012:assumed-role/release-managers/alice"
MALLORY = "arn:aws:sts::123456789012:assumed-role/developers/mallory"
ERRORS = {"name": "error-ratio", "prometheus": "errors", "max": 0.01, "interval": 30, "count": 3}


def gate(**spec: Any) -> Gate:
    values: dict[str, Any] = {"at": "POST_TEST_TRAFFIC_SHIFT"}
    values.update(spec)
    return Gate.model_validate(values)


def taken(*values: float | None, start: float = 0.0, every: float = 30.0) -> list[Measurement]:
    return [Measurement(v, start + i * every) for i, v in enumerate(values)]


APPROVAL = {"approvers": [MANAGERS], "required": 1, "timeout": 600}


@pytest.mark.parametrize(
    ("spec", "measured", "votes", "now", "action", "result"),
    [
        # nothing measured yet: the first measurement is due at once
        ({"analysis": [ERRORS]}, {}, [], 0, Action.MEASURE, "running"),
        # one healthy measurement: the next is due 30 s after it
        ({"analysis": [ERRORS]}, {"error-ratio": taken(0.001)}, [], 10, Action.MEASURE, "running"),
        # every measurement healthy, no approval: pass
        (
            {"analysis": [ERRORS]},
            {"error-ratio": taken(0.001, 0.0, 0.01)},
            [],
            60,
            Action.CONTINUE,
            "passed",
        ),
        # one bad value with failure_limit 0: fail at once
        ({"analysis": [ERRORS]}, {"error-ratio": taken(0.05)}, [], 0, Action.ROLLBACK, "failed"),
        # no data in one: inconclusive; default on_inconclusive without an approval rolls back
        (
            {"analysis": [ERRORS]},
            {"error-ratio": taken(0.001, None, 0.001)},
            [],
            60,
            Action.ROLLBACK,
            "inconclusive",
        ),
        (
            {"analysis": [ERRORS], "on_inconclusive": "continue"},
            {"error-ratio": taken(None, None, None)},
            [],
            60,
            Action.CONTINUE,
            "inconclusive",
        ),
        # inconclusive with an approval: ask for it
        (
            {"analysis": [ERRORS], "approval": APPROVAL},
            {"error-ratio": taken(None, 0.0, 0.0)},
            [],
            70,
            Action.AWAIT,
            "awaiting",
        ),
        (
            {"analysis": [ERRORS], "approval": APPROVAL, "on_inconclusive": "rollback"},
            {"error-ratio": taken(None, 0.0, 0.0)},
            [],
            70,
            Action.ROLLBACK,
            "inconclusive",
        ),
        # analysis passed, approval given
        (
            {"analysis": [ERRORS], "approval": APPROVAL},
            {"error-ratio": taken(0.0, 0.0, 0.0)},
            [Vote("approve", ALICE, 100)],
            100,
            Action.CONTINUE,
            "passed",
        ),
        # approval-only: pending, approved, rejected, expired (rollback or continue)
        ({"approval": APPROVAL}, {}, [], 5, Action.AWAIT, "awaiting"),
        ({"approval": APPROVAL}, {}, [Vote("approve", ALICE, 5)], 5, Action.CONTINUE, "passed"),
        ({"approval": APPROVAL}, {}, [Vote("reject", ALICE, 5)], 5, Action.ROLLBACK, "rejected"),
        ({"approval": APPROVAL}, {}, [Vote("approve", MALLORY, 5)], 5, Action.AWAIT, "awaiting"),
        ({"approval": APPROVAL}, {}, [], 600, Action.ROLLBACK, "timed_out"),
        (
            {"approval": APPROVAL, "on_timeout": "continue"},
            {},
            [],
            601,
            Action.CONTINUE,
            "timed_out",
        ),
        # a vote after the deadline does not count
        (
            {"approval": APPROVAL},
            {},
            [Vote("approve", ALICE, 601)],
            700,
            Action.ROLLBACK,
            "timed_out",
        ),
    ],
)
def test_decide(
    spec: dict[str, Any],
    measured: dict[str, list[Measurement]],
    votes: list[Vote],
    now: float,
    action: Action,
    result: str,
) -> None:
    decision = decide(gate(**spec), Progress(0.0, measured, votes), now)
    assert (decision.action, decision.result) == (action, result)
    assert decision.reason.startswith("gate at POST_TEST_TRAFFIC_SHIFT")


def test_a_failure_names_the_gate_the_metric_and_the_values() -> None:
    decision = decide(gate(analysis=[ERRORS]), Progress(0, {"error-ratio": taken(0.002, 0.07)}), 30)
    assert decision.action is Action.ROLLBACK
    assert "gate at POST_TEST_TRAFFIC_SHIFT failed" in decision.reason
    assert "metric error-ratio failed" in decision.reason
    assert "0.002, 0.07" in decision.reason
    assert "[≤ 0.01]" in decision.reason


def test_the_next_measurement_is_due_an_interval_after_the_last() -> None:
    g = gate(analysis=[ERRORS, {**ERRORS, "name": "slow", "interval": 60}])
    measured = {"error-ratio": taken(0.0, start=100), "slow": taken(0.0, start=100)}
    decision = decide(g, Progress(100, measured), 131)
    assert decision.action is Action.MEASURE
    assert decision.due == ("error-ratio",)
    assert decision.wake_at == 160


def test_the_approval_opens_when_the_analysis_ends() -> None:
    g = gate(analysis=[ERRORS], approval=APPROVAL)
    measured = {"error-ratio": taken(0.0, 0.0, 0.0, start=1000)}  # the last at 1060
    decision = decide(g, Progress(1000, measured), 1100)
    assert decision.tally is not None
    assert decision.tally.deadline == 1660
    assert decision.wake_at == 1660


def test_queries_and_bounds_from_the_spec() -> None:
    g = gate(
        analysis=[
            ERRORS,
            {"name": "alarms", "cloudwatch_alarms": ["web-5xx"]},
            {
                "name": "p99",
                "cloudwatch": {"namespace": "AWS/ApplicationELB", "metric": "T", "stat": "p99"},
                "min": 0.1,
                "max": 0.5,
            },
        ]
    )
    errors, alarms, p99 = g.analysis
    assert query_of(errors) == PrometheusQuery("errors")
    assert query_of(alarms) == AlarmsQuery(("web-5xx",))
    assert query_of(p99) == CloudWatchQuery("AWS/ApplicationELB", "T", {}, "p99", 60)
    assert bounds_of(errors) == Bounds(None, 0.01)
    assert bounds_of(alarms) == Bounds(None, 0)
    assert bounds_of(p99) == Bounds(0.1, 0.5)


values = st.lists(st.one_of(st.none(), st.floats(0, 0.05)), min_size=0, max_size=6)


@given(values, st.integers(0, 2), st.floats(0, 10_000))
def test_a_gate_ends_only_when_its_analysis_can_no_longer_change(
    measured: list[float | None], failure_limit: int, later: float
) -> None:
    count = 3 + failure_limit
    g = gate(analysis=[{**ERRORS, "count": count, "failure_limit": failure_limit}])
    decision = decide(g, Progress(0, {"error-ratio": taken(*measured)}), 200 + later)
    bad = sum(1 for v in measured[:count] if v is not None and v > 0.01)
    if bad > failure_limit:
        assert (decision.action, decision.result) == (Action.ROLLBACK, "failed")
    elif len(measured) < count:
        assert decision.action is Action.MEASURE
        assert decision.due == ("error-ratio",)  # long past the next one's time
    elif any(v is None for v in measured[:count]):
        assert decision.result == "inconclusive"
    else:
        assert (decision.action, decision.result) == (Action.CONTINUE, "passed")


@given(
    st.lists(st.tuples(st.sampled_from(["approve", "reject"]), st.floats(0, 1200))),
    st.floats(0, 1200),
)
def test_an_approval_gate_never_continues_without_a_listed_approval_in_time(
    votes: list[tuple[str, float]], now: float
) -> None:
    cast = [Vote(action, ALICE, at) for action, at in votes]  # type: ignore[arg-type]
    decision = decide(gate(approval=APPROVAL), Progress(0, {}, cast), now)
    in_time = sorted((at, action) for action, at in votes if at <= 600)
    if decision.action is Action.CONTINUE:
        assert in_time and in_time[0][1] == "approve"
    if decision.action is Action.AWAIT:
        assert now < 600
        assert not in_time
