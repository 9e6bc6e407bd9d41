"""CloudWatch providers: named alarms' states, and one metric statistic.

`AlarmsProvider` measures how many of the named alarms are in ALARM, so a gate
judges it with max 0. An alarm name that exists nowhere is an error, not a zero: a
typo must never read as "healthy". Alarms that all lack data are no data. The
`MetricProvider` reads one statistic (Average, Sum, p99, ...) of the newest *complete*
period (`complete_period`). Neither raises: an AWS error becomes the measurement's
`error`.

Complete periods: GetMetricData aggregates into periods aligned to the period (it
rounds StartTime down), so a window of "the last `period` seconds" straddles two
buckets and its newest is the current, incomplete one: its Sum or SampleCount reads
low, and a `max:` gate can pass a bad canary. The window is therefore exactly one
period, on period boundaries, ending no later than `INGESTION_SECONDS` before now.

Ingestion delay: datapoints reach CloudWatch after the fact (agents and services
batch them), so a period that just ended may still be filling. The window ends at
least `INGESTION_SECONDS` in the past; a period whose data has not arrived at all reads
as no data (an inconclusive measurement, never a zero), and a gate's `count` and
`interval` take the next period on the next measurement.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

from deployworker.aws.cloudwatch import CloudWatch
from deployworker.errors import AwsError
from deployworker.rollout.analysis.measure import AlarmsQuery, CloudWatchQuery, Measurement, Query

ALARM = "ALARM"
INSUFFICIENT_DATA = "INSUFFICIENT_DATA"
# How much of CloudWatch's state reason one alarm contributes to `detail`.
_REASON = 120
# How long after a period ends its datapoints are taken to have arrived.
INGESTION_SECONDS = 60


def complete_period(now: float, period: int) -> tuple[float, float]:
    """(start, end) of the newest period, aligned to `period`, that ended at least
    `INGESTION_SECONDS` before `now`."""
    end = (int(now - INGESTION_SECONDS) // period) * period
    return float(end - period), float(end)


def _short(text: str) -> str:
    return text if len(text) <= _REASON else text[: _REASON - 3] + "..."


class AlarmsProvider:
    """Measures `AlarmsQuery`: the value is the number of named alarms in ALARM."""

    def __init__(self, cloudwatch: CloudWatch, clock: Callable[[], float] = time.time) -> None:
        self._cloudwatch = cloudwatch
        self._clock = clock

    def measure(self, query: Query) -> Measurement:
        """One DescribeAlarms reading of the query's alarms; never raises."""
        at = self._clock()
        if not isinstance(query, AlarmsQuery):
            return Measurement(None, at, error=f"alarms cannot measure {type(query).__name__}")
        try:
            states = self._cloudwatch.alarm_states(query.names)
        except AwsError as exc:
            return Measurement(None, at, error=f"DescribeAlarms failed: {exc}")
        missing = [n for n in query.names if n not in states]
        if missing:
            return Measurement(
                None, at, error=f"no such CloudWatch alarm: {', '.join(sorted(set(missing)))}"
            )
        firing = sorted({n for n in query.names if states[n].state == ALARM})
        if firing:
            detail = "in ALARM: " + "; ".join(
                f"{n} ({_short(states[n].reason)})" if states[n].reason else n for n in firing
            )
            return Measurement(float(len(firing)), at, detail=detail)
        if all(states[n].state == INSUFFICIENT_DATA for n in query.names):
            return Measurement(None, at, detail="every alarm is in INSUFFICIENT_DATA")
        return Measurement(0.0, at, detail="none in ALARM")


class MetricProvider:
    """Measures `CloudWatchQuery`: the newest datapoint in the last `period` seconds."""

    def __init__(self, cloudwatch: CloudWatch, clock: Callable[[], float] = time.time) -> None:
        self._cloudwatch = cloudwatch
        self._clock = clock

    def measure(self, query: Query) -> Measurement:
        """One GetMetricData reading; never raises."""
        at = self._clock()
        if not isinstance(query, CloudWatchQuery):
            return Measurement(None, at, error=f"CloudWatch cannot measure {type(query).__name__}")
        start, end = complete_period(at, query.period)
        try:
            point = self._cloudwatch.latest_datapoint(
                query.namespace,
                query.metric,
                query.dimensions,
                query.stat,
                query.period,
                datetime.fromtimestamp(end, UTC),
            )
        except AwsError as exc:
            return Measurement(None, at, error=f"GetMetricData failed: {exc}")
        what = f"{query.namespace} {query.metric} {query.stat}"
        if point is None or point.at.timestamp() < start:
            period = datetime.fromtimestamp(start, UTC).strftime("%H:%M:%SZ")
            return Measurement(None, at, detail=f"{what}: no datapoint for the period at {period}")
        stamp = point.at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return Measurement(point.value, at, detail=f"{what} at {stamp}")
