"""What a measurement is, what a provider does, and how measurements are judged (pure).

The model is Argo Rollouts' and Flagger's, without an expression language: a metric
takes `count` measurements; one outside [min, max] fails; more than `failure_limit`
failures fail the metric at once; a measurement with no data is inconclusive, and a
metric that took all its measurements without failing but saw no data in any of
them is inconclusive rather than passed (absence of evidence is not health).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol


@dataclass(frozen=True)
class PrometheusQuery:
    """An instant PromQL query; its value is the single sample it returns."""

    expr: str


@dataclass(frozen=True)
class CloudWatchQuery:
    """One statistic of one CloudWatch metric over its last `period` seconds."""

    namespace: str
    metric: str
    dimensions: Mapping[str, str] = field(default_factory=dict)
    stat: str = "Average"
    period: int = 60


@dataclass(frozen=True)
class AlarmsQuery:
    """CloudWatch alarms; the value is how many of them are in ALARM."""

    names: tuple[str, ...]


Query = PrometheusQuery | CloudWatchQuery | AlarmsQuery


@dataclass(frozen=True)
class Measurement:
    """One reading. `value` None means no data (or a provider error, in `error`)."""

    value: float | None
    at: float
    error: str | None = None
    detail: str = ""  # e.g. which alarms are in ALARM, for the reason and the event


class Provider(Protocol):
    """Takes one measurement of a query. Never raises: a failure is a `Measurement`
    with no value and an `error`, which the judge treats as inconclusive."""

    def measure(self, query: Query) -> Measurement: ...


@dataclass(frozen=True)
class Bounds:
    """The accepted range; either end may be open."""

    min: float | None = None
    max: float | None = None

    def holds(self, value: float) -> bool:
        """Whether `value` is inside the range (ends included). A value that is not a
        finite number never is: -Inf would pass a `max`, +Inf a `min`, and NaN compares
        false either way (a Prometheus division by zero answers any of them)."""
        if not math.isfinite(value):
            return False
        return (self.min is None or value >= self.min) and (self.max is None or value <= self.max)


class Phase(StrEnum):
    """Where a metric's analysis stands."""

    RUNNING = "running"
    PASSED = "passed"
    FAILED = "failed"
    INCONCLUSIVE = "inconclusive"


@dataclass(frozen=True)
class MetricVerdict:
    """A metric's phase and the counts behind it."""

    name: str
    phase: Phase
    taken: int
    count: int
    failures: int
    inconclusive: int
    values: tuple[float | None, ...]

    @property
    def done(self) -> bool:
        """Whether no further measurement can change the phase."""
        return self.phase is not Phase.RUNNING


def judge(
    name: str,
    bounds: Bounds,
    count: int,
    failure_limit: int,
    measurements: Sequence[Measurement],
) -> MetricVerdict:
    """The verdict on the measurements taken so far (at most `count` are looked at).

    FAILED as soon as failures exceed `failure_limit`; otherwise RUNNING until `count`
    measurements exist, then INCONCLUSIVE if any had no data, else PASSED.
    """
    taken = list(measurements[:count])
    failures = sum(1 for m in taken if m.value is not None and not bounds.holds(m.value))
    missing = sum(1 for m in taken if m.value is None)
    if failures > failure_limit:
        phase = Phase.FAILED
    elif len(taken) < count:
        phase = Phase.RUNNING
    elif missing:
        phase = Phase.INCONCLUSIVE
    else:
        phase = Phase.PASSED
    return MetricVerdict(
        name, phase, len(taken), count, failures, missing, tuple(m.value for m in taken)
    )


def overall(verdicts: Sequence[MetricVerdict]) -> Phase:
    """A gate's analysis phase: FAILED if any metric failed, RUNNING while any runs,
    INCONCLUSIVE if any is inconclusive, else PASSED (also with no metrics)."""
    phases = {v.phase for v in verdicts}
    for phase in (Phase.FAILED, Phase.RUNNING, Phase.INCONCLUSIVE):
        if phase in phases:
            return phase
    return Phase.PASSED
