"""The CloudWatch providers against moto's CloudWatch over real HTTP (the `endpoint`
fixture), and botocore's Stubber for what moto does not serve (p99, error statuses)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.stub import Stubber
from moto.cloudwatch.models import cloudwatch_backends

from conftest import REGION
from deployworker.aws._retry import Caller, RetryPolicy
from deployworker.aws.clients import make_client
from deployworker.aws.cloudwatch import NAMES_PER_CALL, CloudWatch
from deployworker.rollout.analysis.cloudwatch import (
    INGESTION_SECONDS,
    AlarmsProvider,
    MetricProvider,
    complete_period,
)
from deployworker.rollout.analysis.measure import (
    AlarmsQuery,
    Bounds,
    CloudWatchQuery,
    Phase,
    PrometheusQuery,
    judge,
)

ACCOUNT = "123456789012"
LB = {"LoadBalancer": "app/web/50dc6c495c0c9188"}


def caller() -> Caller:
    return Caller("cloudwatch", RetryPolicy(attempts=1))


@pytest.fixture
def client(endpoint: str) -> Any:
    return make_client("cloudwatch", REGION, endpoint)


def alarm(client: Any, name: str, state: str | None = None, reason: str = "test") -> None:
    client.put_metric_alarm(
        AlarmName=name,
        Namespace="AWS/ApplicationELB",
        MetricName="HTTPCode_Target_5XX_Count",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=10,
        ComparisonOperator="GreaterThanThreshold",
    )
    if state is not None:
        client.set_alarm_state(AlarmName=name, StateValue=state, StateReason=reason)


def composite_alarm(name: str, rule: str) -> None:
    # moto 5.2 serves composite alarms in DescribeAlarms but has no PutCompositeAlarm.
    cloudwatch_backends[ACCOUNT][REGION].put_metric_alarm(
        name=name,
        namespace="",
        metric_name="",
        comparison_operator="",
        evaluation_periods=0,
        period=0,
        threshold=0,
        statistic="",
        description="",
        dimensions=[],
        alarm_actions=[],
        rule=rule,
    )


def test_alarms_count_those_in_alarm_and_name_them(client: Any) -> None:
    provider = AlarmsProvider(CloudWatch(client, caller()))
    query = AlarmsQuery(("web-5xx", "web-latency"))
    alarm(client, "web-5xx", "OK")
    alarm(client, "web-latency", "OK")
    healthy = provider.measure(query)
    assert (healthy.value, healthy.error) == (0.0, None)

    client.set_alarm_state(
        AlarmName="web-5xx", StateValue="ALARM", StateReason="Threshold Crossed: 42 > 10"
    )
    firing = provider.measure(query)
    assert (firing.value, firing.error) == (1.0, None)
    assert "web-5xx (Threshold Crossed: 42 > 10)" in firing.detail
    assert "web-latency" not in firing.detail
    # A gate judges alarms with max 0: one in ALARM fails the measurement.
    assert judge("alarms", Bounds(max=0), 2, 0, [healthy, firing]).phase is Phase.FAILED

    client.set_alarm_state(AlarmName="web-latency", StateValue="ALARM", StateReason="slow")
    assert provider.measure(query).value == 2.0


def test_composite_alarms_are_read_too(client: Any) -> None:
    alarm(client, "web-5xx", "ALARM")
    composite_alarm("web-health", 'ALARM("web-5xx")')
    client.set_alarm_state(AlarmName="web-health", StateValue="ALARM", StateReason="child")
    measured = AlarmsProvider(CloudWatch(client, caller())).measure(AlarmsQuery(("web-health",)))
    assert (measured.value, measured.error) == (1.0, None)
    assert "web-health" in measured.detail


def test_an_alarm_that_does_not_exist_is_an_error_naming_it(client: Any) -> None:
    alarm(client, "web-5xx", "OK")
    measured = AlarmsProvider(CloudWatch(client, caller())).measure(
        AlarmsQuery(("web-5xx", "web-5xxx", "web-typo"))
    )
    assert measured.value is None
    assert measured.error == "no such CloudWatch alarm: web-5xxx, web-typo"


def test_alarms_that_all_lack_data_are_no_data(client: Any) -> None:
    alarm(client, "a", "INSUFFICIENT_DATA")
    alarm(client, "b", "INSUFFICIENT_DATA")
    provider = AlarmsProvider(CloudWatch(client, caller()))
    measured = provider.measure(AlarmsQuery(("a", "b")))
    assert (measured.value, measured.error) == (None, None)
    assert "INSUFFICIENT_DATA" in measured.detail
    client.set_alarm_state(AlarmName="b", StateValue="OK", StateReason="recovered")
    assert provider.measure(AlarmsQuery(("a", "b"))).value == 0.0


def test_more_than_a_hundred_alarms_take_several_calls(client: Any) -> None:
    names = [f"alarm-{i:03}" for i in range(NAMES_PER_CALL + 30)]
    for name in names:
        alarm(client, name)
    client.set_alarm_state(AlarmName=names[-1], StateValue="ALARM", StateReason="last")
    sizes: list[int] = []
    client.meta.events.register(
        "provide-client-params.cloudwatch.DescribeAlarms",
        lambda params, **_: sizes.append(len(params["AlarmNames"])),
    )
    measured = AlarmsProvider(CloudWatch(client, caller())).measure(AlarmsQuery(tuple(names)))
    assert (measured.value, measured.error) == (1.0, None)
    assert sizes == [NAMES_PER_CALL, 30]


def put(client: Any, values: list[float], dimensions: dict[str, str], ago: float = 5) -> None:
    stamp = datetime.now(UTC) - timedelta(seconds=ago)
    client.put_metric_data(
        Namespace="AWS/ApplicationELB",
        MetricData=[
            {
                "MetricName": "TargetResponseTime",
                "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()],
                "Value": value,
                "Timestamp": stamp,
            }
            for value in values
        ],
    )


def put_at(client: Any, values: list[float], dimensions: dict[str, str], stamp: float) -> None:
    client.put_metric_data(
        Namespace="AWS/ApplicationELB",
        MetricData=[
            {
                "MetricName": "TargetResponseTime",
                "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()],
                "Value": value,
                "Timestamp": datetime.fromtimestamp(stamp, UTC),
            }
            for value in values
        ],
    )


def minute_ago(minutes: int) -> int:
    """A minute boundary `minutes` minutes before now."""
    return (int(time.time()) // 60) * 60 - 60 * minutes


def query(stat: str, period: int = 60) -> CloudWatchQuery:
    return CloudWatchQuery("AWS/ApplicationELB", "TargetResponseTime", LB, stat, period)


def test_a_metric_statistic_over_the_newest_complete_period(client: Any) -> None:
    base = minute_ago(5)
    put_at(client, [0.2, 0.4, 0.9], LB, base + 10)  # the newest complete minute
    put_at(client, [5.0], LB, base - 240)  # long before: not read
    put_at(client, [7.0], {"LoadBalancer": "app/other/1"}, base + 10)
    # 150 s after `base`: the minute from base+60 is within the ingestion allowance and
    # the one from base+120 still running; the newest complete period is [base, base+60).
    provider = MetricProvider(CloudWatch(client, caller()), clock=lambda: base + 150.0)
    average = provider.measure(query("Average"))
    assert average.value == pytest.approx(0.5)
    assert average.error is None
    assert "TargetResponseTime Average" in average.detail
    maximum = provider.measure(query("Maximum"))
    assert maximum.value == pytest.approx(0.9)
    assert judge("p", Bounds(max=0.5), 1, 0, [maximum]).phase is Phase.FAILED


def test_a_sum_reads_the_complete_period_not_the_one_still_filling(client: Any) -> None:
    # 50 errors in the last complete minute; the current minute has 1 so far. Reading
    # the newest bucket of "the last 60 s" gave 1, and a `max: 10` gate passed.
    base = minute_ago(5)
    put_at(client, [20.0, 30.0], LB, base + 10)
    put_at(client, [1.0], LB, base + 130)
    provider = MetricProvider(CloudWatch(client, caller()), clock=lambda: base + 150.0)
    measured = provider.measure(query("Sum"))
    assert measured.value == pytest.approx(50.0)
    assert judge("errors", Bounds(max=10), 1, 0, [measured]).phase is Phase.FAILED


@pytest.mark.parametrize(
    ("now", "period", "window"),
    [
        (1000.0, 60, (840.0, 900.0)),  # 1000 - 60 = 940: the minute that ended at 900
        (960.0, 60, (840.0, 900.0)),
        (1020.0, 60, (900.0, 960.0)),
        (1000.0, 10, (930.0, 940.0)),
        (3600.0 * 5 + 59, 300, (3600.0 * 5 - 600, 3600.0 * 5 - 300)),
    ],
)
def test_complete_period(now: float, period: int, window: tuple[float, float]) -> None:
    assert complete_period(now, period) == window
    start, end = window
    assert end % period == 0 and end - start == period and end <= now - INGESTION_SECONDS


def test_a_metric_without_datapoints_is_no_data(client: Any) -> None:
    base = minute_ago(5)
    put_at(client, [1.0], LB, base - 240)
    provider = MetricProvider(CloudWatch(client, caller()), clock=lambda: base + 150.0)
    measured = provider.measure(query("Average"))
    assert (measured.value, measured.error) == (None, None)
    assert "no datapoint for the period at" in measured.detail


def stubbed() -> tuple[Any, Stubber]:
    client = make_client("cloudwatch", REGION, "http://127.0.0.1:1")
    return client, Stubber(client)


def test_an_extended_statistic_is_asked_for_and_the_newest_point_read() -> None:
    client, stub = stubbed()
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    expected = {
        "MetricDataQueries": [
            {
                "Id": "m0",
                "MetricStat": {
                    "Metric": {
                        "Namespace": "AWS/ApplicationELB",
                        "MetricName": "TargetResponseTime",
                        "Dimensions": [{"Name": "LoadBalancer", "Value": LB["LoadBalancer"]}],
                    },
                    "Period": 300,
                    "Stat": "p99",
                },
                "ReturnData": True,
            }
        ],
        # 12:00 less the ingestion allowance is 11:59: the period that ended at 11:55.
        "StartTime": now - timedelta(seconds=600),
        "EndTime": now - timedelta(seconds=300),
        "ScanBy": "TimestampDescending",
    }
    stub.add_response(
        "get_metric_data",
        {
            "MetricDataResults": [
                {
                    "Id": "m0",
                    "Timestamps": [now - timedelta(seconds=420), now - timedelta(seconds=540)],
                    "Values": [0.42, 0.9],
                    "StatusCode": "Complete",
                }
            ]
        },
        expected,
    )
    with stub:
        measured = MetricProvider(CloudWatch(client, caller()), clock=now.timestamp).measure(
            CloudWatchQuery("AWS/ApplicationELB", "TargetResponseTime", LB, "p99", 300)
        )
    assert (measured.value, measured.error) == (0.42, None)
    assert "11:53:00Z" in measured.detail


def test_aws_errors_are_error_measurements() -> None:
    client, stub = stubbed()
    stub.add_client_error("describe_alarms", "AccessDenied", "not authorized", 403)
    stub.add_response(
        "get_metric_data",
        {
            "MetricDataResults": [
                {"Id": "m0", "StatusCode": "Forbidden", "Messages": [{"Value": "no access"}]}
            ]
        },
    )
    cloudwatch = CloudWatch(client, caller())
    with stub:
        denied = AlarmsProvider(cloudwatch).measure(AlarmsQuery(("a",)))
        forbidden = MetricProvider(cloudwatch).measure(CloudWatchQuery("N", "M"))
    assert denied.value is None
    assert denied.error is not None
    assert "AccessDenied" in denied.error
    assert forbidden.value is None
    assert forbidden.error is not None
    assert "Forbidden: no access" in forbidden.error


def test_each_provider_measures_only_its_own_queries() -> None:
    cloudwatch = CloudWatch(None, caller())
    assert AlarmsProvider(cloudwatch).measure(PrometheusQuery("up")).error
    assert MetricProvider(cloudwatch).measure(AlarmsQuery(("a",))).error
