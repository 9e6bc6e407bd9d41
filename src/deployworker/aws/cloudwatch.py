"""CloudWatch adapter: alarm states (DescribeAlarms) and one metric's latest datapoint
(GetMetricData), for gate analysis."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from deployworker.aws._retry import Caller
from deployworker.errors import PermanentAwsError

# DescribeAlarms takes at most 100 names a call (botocore's AlarmNames shape).
NAMES_PER_CALL = 100
# Without AlarmTypes, DescribeAlarms returns metric alarms only; a composite alarm
# named in a gate would then look missing.
ALARM_TYPES = ("MetricAlarm", "CompositeAlarm")


@dataclass(frozen=True)
class AlarmState:
    """One alarm's state: OK, ALARM or INSUFFICIENT_DATA, and CloudWatch's reason."""

    name: str
    state: str
    reason: str = ""


@dataclass(frozen=True)
class Datapoint:
    """One value of a statistic and the start of the period it covers."""

    at: datetime
    value: float


class CloudWatch:
    """Reads alarms and metric statistics."""

    def __init__(self, client: Any, caller: Caller) -> None:
        self._client = client
        self._caller = caller

    def alarm_states(self, names: Sequence[str]) -> dict[str, AlarmState]:
        """The states of the named metric and composite alarms, by name; a name that
        names no alarm is absent from the result."""
        unique = list(dict.fromkeys(names))
        found: dict[str, AlarmState] = {}
        for start in range(0, len(unique), NAMES_PER_CALL):
            chunk = unique[start : start + NAMES_PER_CALL]
            token: str | None = None
            while True:
                kwargs: dict[str, Any] = {
                    "AlarmNames": chunk,
                    "AlarmTypes": list(ALARM_TYPES),
                    "MaxRecords": NAMES_PER_CALL,
                }
                if token:
                    kwargs["NextToken"] = token
                page: dict[str, Any] = self._caller.call(
                    "DescribeAlarms", partial(self._client.describe_alarms, **kwargs)
                )
                for alarm in [*page.get("MetricAlarms", []), *page.get("CompositeAlarms", [])]:
                    name = str(alarm["AlarmName"])
                    found[name] = AlarmState(
                        name, str(alarm["StateValue"]), str(alarm.get("StateReason", ""))
                    )
                token = page.get("NextToken")
                if not token:
                    break
        return found

    def latest_datapoint(
        self,
        namespace: str,
        metric: str,
        dimensions: Mapping[str, str],
        stat: str,
        period: int,
        now: datetime,
    ) -> Datapoint | None:
        """The newest value of `stat` (Average, p99, ...) over the `period` seconds
        before `now` (the caller aligns `now` to a period boundary: see
        `rollout.analysis.cloudwatch.complete_period`), or None when it holds no data.

        Raises `PermanentAwsError` when CloudWatch answers the query with an error
        status (Forbidden, InternalError) instead of data.
        """
        query = {
            "Id": "m0",
            "MetricStat": {
                "Metric": {
                    "Namespace": namespace,
                    "MetricName": metric,
                    "Dimensions": [{"Name": k, "Value": v} for k, v in sorted(dimensions.items())],
                },
                "Period": period,
                "Stat": stat,
            },
            "ReturnData": True,
        }
        kwargs: dict[str, Any] = {
            "MetricDataQueries": [query],
            "StartTime": now - timedelta(seconds=period),
            "EndTime": now,
            "ScanBy": "TimestampDescending",
        }
        points: list[Datapoint] = []
        while True:
            page: dict[str, Any] = self._caller.call(
                "GetMetricData", partial(self._client.get_metric_data, **kwargs)
            )
            for result in page.get("MetricDataResults", []):
                status = str(result.get("StatusCode", "Complete"))
                if status in ("Forbidden", "InternalError"):
                    text = "; ".join(str(m.get("Value", "")) for m in result.get("Messages", []))
                    raise PermanentAwsError("GetMetricData", status, text or status)
                stamps = result.get("Timestamps", [])
                values = result.get("Values", [])
                points.extend(Datapoint(t, float(v)) for t, v in zip(stamps, values, strict=False))
            token = page.get("NextToken")
            if not token:
                break
            kwargs = {**kwargs, "NextToken": token}
        return max(points, key=lambda p: p.at, default=None)
