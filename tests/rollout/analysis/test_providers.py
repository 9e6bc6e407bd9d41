"""The `Providers` dispatcher and `build_providers`: settings, credentials from Secrets
Manager (moto), the latency metric, and the never-raise promise."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import SecretStr

from conftest import REGION
from deployworker.aws._retry import RetryPolicy
from deployworker.aws.clients import make_client
from deployworker.aws.factory import Factory
from deployworker.errors import ConfigError
from deployworker.observe.metrics import Metrics
from deployworker.rollout.analysis.measure import (
    AlarmsQuery,
    CloudWatchQuery,
    Measurement,
    PrometheusQuery,
    Query,
)
from deployworker.rollout.analysis.providers import (
    PROVIDER_LABELS,
    Providers,
    build_providers,
    prometheus_headers,
)
from deployworker.settings import Settings
from promserver import TOKEN, AuthProxy, Exporter, PrometheusServer


class Fixed:
    def __init__(self, value: float) -> None:
        self.value = value
        self.seen: list[Query] = []

    def measure(self, query: Query) -> Measurement:
        self.seen.append(query)
        return Measurement(self.value, 1.0)


class Broken:
    def measure(self, query: Query) -> Measurement:
        raise RuntimeError("bug")


def test_queries_go_to_the_provider_of_their_kind_and_are_timed() -> None:
    prometheus, cloudwatch, alarms = Fixed(1), Fixed(2), Fixed(3)
    timed: list[tuple[str, float]] = []
    ticks = iter([10.0, 10.5, 20.0, 20.25, 30.0, 31.0])
    providers = Providers(
        prometheus, cloudwatch, alarms, lambda p, s: timed.append((p, s)), timer=lambda: next(ticks)
    )
    queries: list[Query] = [PrometheusQuery("up"), CloudWatchQuery("N", "M"), AlarmsQuery(("a",))]
    assert [providers.measure(q).value for q in queries] == [1, 2, 3]
    assert (prometheus.seen, cloudwatch.seen, alarms.seen) == (
        [queries[0]],
        [queries[1]],
        [queries[2]],
    )
    assert timed == [("prometheus", 0.5), ("cloudwatch", 0.25), ("cloudwatch_alarms", 1.0)]
    assert {p for p, _ in timed} == set(PROVIDER_LABELS)


def test_an_unconfigured_or_broken_provider_is_an_error_measurement() -> None:
    timed: list[str] = []
    providers = Providers(None, Broken(), None, lambda p, s: timed.append(p))
    missing = providers.measure(PrometheusQuery("up"))
    assert missing.value is None
    assert missing.error is not None
    assert "DEPLOYWORKER_PROMETHEUS_URL" in missing.error
    assert providers.unavailable(PrometheusQuery("up")) == missing.error
    assert providers.unavailable(CloudWatchQuery("N", "M")) is None
    broken = providers.measure(CloudWatchQuery("N", "M"))
    assert broken.value is None
    assert broken.error is not None
    assert "bug" in broken.error
    assert timed == ["cloudwatch"]


def factory(endpoint: str, metrics: Metrics | None = None) -> Factory:
    observe = metrics.aws_request if metrics else (lambda *_: None)
    return Factory(RetryPolicy(attempts=1), observe, REGION, endpoint)


def test_built_from_settings_they_measure_prometheus_and_cloudwatch_into_the_metric(
    endpoint: str, prometheus: PrometheusServer, exporter: Exporter
) -> None:
    exporter.set("t_built", 0.5)
    prometheus.wait_value("t_built", 0.5)
    client = make_client("cloudwatch", REGION, endpoint)
    client.put_metric_alarm(
        AlarmName="web-5xx",
        Namespace="N",
        MetricName="M",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanThreshold",
    )
    client.set_alarm_state(AlarmName="web-5xx", StateValue="ALARM", StateReason="test")
    metrics = Metrics()
    settings = Settings(prometheus_url=prometheus.url, endpoint_url=endpoint, region=REGION)
    providers = build_providers(settings, factory(endpoint, metrics), metrics.measured)
    assert providers.measure(PrometheusQuery("t_built")).value == 0.5
    assert providers.measure(AlarmsQuery(("web-5xx",))).value == 1.0
    assert providers.measure(CloudWatchQuery("N", "M")).value is None
    registry = metrics.registry
    for label in PROVIDER_LABELS:
        count = registry.get_sample_value(
            "deployworker_analysis_measurement_duration_seconds_count", {"provider": label}
        )
        assert count == 1, label
    assert registry.get_sample_value(
        "deployworker_aws_requests_total",
        {"service": "cloudwatch", "operation": "DescribeAlarms", "result": "ok"},
    )


def test_without_a_url_there_is_no_prometheus(endpoint: str) -> None:
    providers = build_providers(Settings(region=REGION), factory(endpoint))
    assert providers.unavailable(PrometheusQuery("up")) is not None
    assert providers.unavailable(AlarmsQuery(("a",))) is None


def test_credentials_from_secrets_manager_reach_prometheus(
    endpoint: str, prometheus: PrometheusServer, exporter: Exporter
) -> None:
    exporter.set("t_secret", 3)
    prometheus.wait_value("t_secret", 3)
    secrets = make_client("secretsmanager", REGION, endpoint)
    arn = secrets.create_secret(
        Name="prometheus", SecretString=json.dumps({"bearer_token": TOKEN})
    )["ARN"]
    proxy = AuthProxy(prometheus.url, f"Bearer {TOKEN}")
    try:
        settings = Settings(prometheus_url=proxy.url, prometheus_auth_secret_arn=arn, region=REGION)
        measured = build_providers(settings, factory(endpoint)).measure(PrometheusQuery("t_secret"))
    finally:
        proxy.stop()
    assert (measured.value, measured.error) == (3.0, None)
    assert proxy.seen == [f"Bearer {TOKEN}"]

    missing = Settings(
        prometheus_url=proxy.url, prometheus_auth_secret_arn=arn + "-gone", region=REGION
    )
    with pytest.raises(ConfigError, match="cannot read the Prometheus auth secret"):
        build_providers(missing, factory(endpoint))


def _read(value: str) -> Any:
    return lambda arn: value


@pytest.mark.parametrize(
    ("settings", "secret", "header"),
    [
        ({}, "", None),
        ({"prometheus_bearer_token": SecretStr("t")}, "", "Bearer t"),
        (
            {"prometheus_username": "u", "prometheus_password": SecretStr("p")},
            "",
            "Basic dTpw",
        ),
        ({"prometheus_auth_secret_arn": "arn:s"}, '{"username":"u","password":"p"}', "Basic dTpw"),
        ({"prometheus_auth_secret_arn": "arn:s"}, '{"bearer_token":"t"}', "Bearer t"),
    ],
)
def test_prometheus_headers(settings: dict[str, Any], secret: str, header: str | None) -> None:
    got = prometheus_headers(Settings(**settings), _read(secret))
    assert got.get("Authorization") == header


@pytest.mark.parametrize(
    ("settings", "secret", "words"),
    [
        ({"prometheus_bearer_token": SecretStr("t"), "prometheus_username": "u"}, "", "not both"),
        ({"prometheus_username": "u"}, "", "both a username and a password"),
        ({"prometheus_password": SecretStr("p")}, "", "both a username and a password"),
        (
            {"prometheus_auth_secret_arn": "arn:s", "prometheus_bearer_token": SecretStr("t")},
            '{"bearer_token":"t"}',
            "use one",
        ),
        ({"prometheus_auth_secret_arn": "arn:s"}, "plain-token-not-json", "must be JSON"),
        ({"prometheus_auth_secret_arn": "arn:s"}, '{"token": "x"}', "must be JSON"),
        ({"prometheus_auth_secret_arn": "arn:s"}, '{"bearer_token": 5}', "strings"),
        ({"prometheus_auth_secret_arn": "arn:s"}, '{"username": "u"}', "password"),
    ],
)
def test_bad_credentials_stop_the_worker(settings: dict[str, Any], secret: str, words: str) -> None:
    with pytest.raises(ConfigError, match=words) as raised:
        prometheus_headers(Settings(**settings), _read(secret))
    assert "plain-token-not-json" not in str(raised.value)


def test_credentials_without_a_url_are_a_config_error(endpoint: str) -> None:
    with pytest.raises(ConfigError, match="DEPLOYWORKER_PROMETHEUS_URL"):
        build_providers(
            Settings(prometheus_bearer_token=SecretStr("t"), region=REGION), factory(endpoint)
        )
