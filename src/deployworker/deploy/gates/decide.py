"""A gate's state machine (pure): given what was measured and voted, what happens now.

`decide(gate, progress, now)` is the whole rule. Analysis first: each metric's
measurements are judged with `rollout.analysis.measure.judge`; the gate keeps measuring
while any metric runs, fails as soon as one fails, and on no data takes
`on_inconclusive`. Then the approval, if the gate has one: it opens when the analysis
ended (the last measurement's time, or when the gate opened), and its tally decides;
a window that closes unanswered takes `on_timeout`. Nothing here reads a clock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from deployworker.deploy.approvals.votes import Tally, Vote, tally
from deployworker.intake.gates import Gate, Metric
from deployworker.rollout.analysis.measure import (
    AlarmsQuery,
    Bounds,
    CloudWatchQuery,
    Measurement,
    MetricVerdict,
    Phase,
    PrometheusQuery,
    Query,
    judge,
    overall,
)


def query_of(metric: Metric) -> Query:
    """The provider query a metric's spec describes."""
    if metric.prometheus is not None:
        return PrometheusQuery(metric.prometheus)
    if metric.cloudwatch is not None:
        cw = metric.cloudwatch
        return CloudWatchQuery(cw.namespace, cw.metric, dict(cw.dimensions), cw.stat, cw.period)
    assert metric.cloudwatch_alarms is not None  # the schema requires exactly one provider
    return AlarmsQuery(tuple(metric.cloudwatch_alarms))


def bounds_of(metric: Metric) -> Bounds:
    """The accepted range; alarms pass only while none of them is in ALARM (0)."""
    if metric.cloudwatch_alarms is not None:
        return Bounds(max=0)
    return Bounds(metric.min, metric.max)


class Action(StrEnum):
    """What the runner does next."""

    MEASURE = "measure"  # take the `due` measurements, look again at `wake_at`
    AWAIT = "await_approval"  # look at the votes again (by `wake_at` at the latest)
    CONTINUE = "continue"  # ContinueServiceDeployment(CONTINUE), or `deployed`
    ROLLBACK = "rollback"  # ContinueServiceDeployment(ROLLBACK), or the worker's rollback


# `result` values; the label of deployworker_gate_evaluations_total for the endings.
RESULTS = ("passed", "failed", "rejected", "timed_out", "inconclusive")


@dataclass(frozen=True)
class Progress:
    """Everything the gate knows: when it opened, measurements by metric, votes."""

    opened_at: float
    measurements: Mapping[str, Sequence[Measurement]] = field(default_factory=dict)
    votes: Sequence[Vote] = ()
    # When the gate's window opened: its PAUSE hook's start (the same for a redelivered
    # message), else `opened_at`. Votes from before it are another gate's or step's.
    window: float | None = None


@dataclass(frozen=True)
class Decision:
    """The next step, the result so far (`running`, `awaiting`, or one of RESULTS) and
    a reason that names the gate, the metric and the measured values."""

    action: Action
    result: str
    reason: str
    due: tuple[str, ...] = ()
    wake_at: float | None = None
    verdicts: tuple[MetricVerdict, ...] = ()
    tally: Tally | None = None

    @property
    def final(self) -> bool:
        """Whether the gate has ended."""
        return self.action in (Action.CONTINUE, Action.ROLLBACK)


def values_text(verdict: MetricVerdict) -> str:
    """`0.002, 0.05, no data`: the measured values, in order."""
    return ", ".join("no data" if v is None else f"{v:g}" for v in verdict.values)


def range_text(bounds: Bounds) -> str:
    """`[0, 0.01]`, `[≥ 0.9]`, `[≤ 0.01]`."""
    if bounds.min is not None and bounds.max is not None:
        return f"[{bounds.min:g}, {bounds.max:g}]"
    return f"[≥ {bounds.min:g}]" if bounds.min is not None else f"[≤ {bounds.max:g}]"


def _metric_line(verdict: MetricVerdict, metric: Metric) -> str:
    return (
        f"metric {verdict.name} {verdict.phase.value}: {verdict.failures} of {verdict.taken} "
        f"measurements outside {range_text(bounds_of(metric))} (failure_limit "
        f"{metric.failure_limit}), {verdict.inconclusive} without data; "
        f"values {values_text(verdict)}"
    )


def _analysis_end(gate: Gate, progress: Progress) -> float:
    """When the analysis ended: its last measurement (the approval opens then)."""
    times = [m.at for ms in progress.measurements.values() for m in ms]
    return max(times, default=progress.opened_at) if gate.analysis else progress.opened_at


def decide(gate: Gate, progress: Progress, now: float) -> Decision:
    """The gate's next step at `now` (epoch seconds)."""
    where = f"gate at {gate.at}"
    verdicts = tuple(
        judge(
            m.name,
            bounds_of(m),
            m.count,
            m.failure_limit,
            progress.measurements.get(m.name, ()),
        )
        for m in gate.analysis
    )
    specs = {m.name: m for m in gate.analysis}
    phase = overall(verdicts)
    if phase is Phase.FAILED:
        bad = [v for v in verdicts if v.phase is Phase.FAILED]
        lines = "; ".join(_metric_line(v, specs[v.name]) for v in bad)
        return Decision(Action.ROLLBACK, "failed", f"{where} failed: {lines}", verdicts=verdicts)
    if phase is Phase.RUNNING:
        return _measure(gate, progress, now, verdicts)
    if phase is Phase.INCONCLUSIVE:
        vague = [v for v in verdicts if v.phase is Phase.INCONCLUSIVE]
        lines = "; ".join(_metric_line(v, specs[v.name]) for v in vague)
        reason = f"{where} inconclusive: {lines}"
        if gate.on_inconclusive == "continue":
            return Decision(Action.CONTINUE, "inconclusive", reason, verdicts=verdicts)
        if gate.on_inconclusive == "rollback" or gate.approval is None:
            return Decision(Action.ROLLBACK, "inconclusive", reason, verdicts=verdicts)
    if gate.approval is None:
        lines = "; ".join(f"{v.name} {values_text(v)}" for v in verdicts)
        return Decision(Action.CONTINUE, "passed", f"{where} passed: {lines}", verdicts=verdicts)
    return _approval(gate, progress, now, verdicts)


def _measure(
    gate: Gate, progress: Progress, now: float, verdicts: tuple[MetricVerdict, ...]
) -> Decision:
    """Still measuring: which metrics are due now, and when the next one is."""
    due: list[str] = []
    wake: list[float] = []
    for metric, verdict in zip(gate.analysis, verdicts, strict=True):
        if verdict.done:
            continue
        taken = progress.measurements.get(metric.name, ())
        # The first at once; then each `interval` after the one before.
        at = taken[-1].at + metric.interval if taken else progress.opened_at
        if at <= now:
            due.append(metric.name)
        else:
            wake.append(at)
    text = ", ".join(f"{v.name} {v.taken}/{v.count}" for v in verdicts)
    return Decision(
        Action.MEASURE,
        "running",
        f"gate at {gate.at}: analysis {text}",
        tuple(due),
        min(wake, default=now),
        verdicts,
    )


def _approval(
    gate: Gate, progress: Progress, now: float, verdicts: tuple[MetricVerdict, ...]
) -> Decision:
    """Analysis done (passed, or inconclusive with `on_inconclusive: approval`)."""
    policy = gate.approval
    assert policy is not None
    since = progress.opened_at if progress.window is None else progress.window
    count = tally(progress.votes, policy, _analysis_end(gate, progress), now, since)
    where = f"gate at {gate.at}"
    if count.state == "approved":
        reason = f"{where} approved by {', '.join(count.approved_by)}"
        return Decision(Action.CONTINUE, "passed", reason, verdicts=verdicts, tally=count)
    if count.state == "rejected":
        reason = f"{where} rejected by {', '.join(count.rejected_by)}"
        return Decision(Action.ROLLBACK, "rejected", reason, verdicts=verdicts, tally=count)
    if count.state == "expired":
        action = Action.CONTINUE if gate.on_timeout == "continue" else Action.ROLLBACK
        reason = (
            f"{where} timed out after {policy.timeout}s waiting for {count.needed} more "
            f"approval(s) from {', '.join(policy.approvers)} (then {gate.on_timeout})"
        )
        return Decision(action, "timed_out", reason, verdicts=verdicts, tally=count)
    reason = f"{where} awaiting {count.needed} approval(s)"
    return Decision(
        Action.AWAIT, "awaiting", reason, wake_at=count.deadline, verdicts=verdicts, tally=count
    )
