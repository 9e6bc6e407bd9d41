"""The CloudWatch providers against moto's CloudWatch over real HTTP (the `endpoint`
fixture), and botocore's Stubber for what moto does not serve (p99, error statuses)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.stub import Stubber
from moto.cloudwatch.models import cloudwatch_backends

from conftest import REGION
from deployworker.aws._retry import Caller, RetryPolicy
from deployworker.aws.clients import make_client
from deployworker.aws.cloudwatch import NAMES_PER_CALL, CloudWatch
from deployworker.rollout.analysis.cloudwatch import AlarmsProvider, MetricProvider
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


def test_a_metric_statistic_over_the_last_period(client: Any) -> None:
    put(client, [0.2, 0.4, 0.9], LB)
    put(client, [5.0], LB, ago=600)  # outside the period: not read
    put(client, [7.0], {"LoadBalancer": "app/other/1"})
    provider = MetricProvider(CloudWatch(client, caller()))
    average = provider.measure(
        CloudWatchQuery("AWS/ApplicationELB", "TargetResponseTime", LB, "Average", 60)
    )
    assert average.value == pytest.approx(0.5)
    assert average.error is None
    assert "TargetResponseTime Average" in average.detail
    maximum = provider.measure(
        CloudWatchQuery("AWS/ApplicationELB", "TargetResponseTime", LB, "Maximum", 60)
    )
    assert maximum.value == pytest.approx(0.9)
    assert judge("p", Bounds(max=0.5), 1, 0, [maximum]).phase is Phase.FAILED


def test_a_metric_without_datapoints_is_no_data(client: Any) -> None:
    put(client, [1.0], LB, ago=600)
    measured = MetricProvider(CloudWatch(client, caller())).measure(
        CloudWatchQuery("AWS/ApplicationELB", "TargetResponseTime", LB, "Average", 60)
    )
    assert (measured.value, measured.error) == (None, None)
    assert "no datapoint in the last 60s" in measured.detail


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
        "StartTime": now - timedelta(seconds=300),
        "EndTime": now,
        "ScanBy": "TimestampDescending",
    }
    stub.add_response(
        "get_metric_data",
        {
            "MetricDataResults": [
                {
                    "Id": "m0",
                    "Timestamps": [now - timedelta(seconds=60), now - timedelta(seconds=240)],
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
    assert "11:59:00Z" in measured.detail


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
