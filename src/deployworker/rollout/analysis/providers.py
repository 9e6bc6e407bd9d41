"""Every provider behind one `Provider`: a query goes to the provider of its kind.

`Providers` is what a gate holds. It times each measurement for the latency metric
and keeps the `Provider` promise (never raise) even for a provider that breaks it.
`build_providers` builds it from settings: CloudWatch always (through the shared
`aws.factory.Factory`), Prometheus when `DEPLOYWORKER_PROMETHEUS_URL` is set, with its
credentials read once, at start, like the signing key.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import structlog

from deployworker.aws.cloudwatch import CloudWatch
from deployworker.aws.factory import Factory
from deployworker.aws.secrets import Secrets
from deployworker.errors import AwsError, ConfigError
from deployworker.rollout.analysis.cloudwatch import AlarmsProvider, MetricProvider
from deployworker.rollout.analysis.measure import (
    CloudWatchQuery,
    Measurement,
    PrometheusQuery,
    Provider,
    Query,
)
from deployworker.rollout.analysis.prometheus import (
    PrometheusProvider,
    auth_headers,
    secret_headers,
)
from deployworker.settings import Settings

log = structlog.get_logger("deployworker.analysis")

# (provider label, seconds one measurement took): the latency metric's observer.
OnMeasured = Callable[[str, float], None]
# The `provider` label values of deployworker_analysis_measurement_duration_seconds.
PROVIDER_LABELS = ("prometheus", "cloudwatch", "cloudwatch_alarms")


def provider_label(query: Query) -> str:
    """The provider a query goes to, as the metric labels it."""
    if isinstance(query, PrometheusQuery):
        return "prometheus"
    if isinstance(query, CloudWatchQuery):
        return "cloudwatch"
    return "cloudwatch_alarms"


class Providers:
    """A `Provider` for every kind of query, dispatching on the query's type."""

    def __init__(
        self,
        prometheus: Provider | None,
        cloudwatch: Provider | None,
        alarms: Provider | None,
        on_measured: OnMeasured | None = None,
        clock: Callable[[], float] = time.time,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self._by_label = {
            "prometheus": prometheus,
            "cloudwatch": cloudwatch,
            "cloudwatch_alarms": alarms,
        }
        self._on_measured = on_measured
        self._clock = clock
        self._timer = timer

    def elsewhere(self, cloudwatch: CloudWatch) -> Providers:
        """These providers with CloudWatch's read through `cloudwatch` (another account's
        or region's, where its alarms and metrics live); Prometheus stays shared."""
        return Providers(
            self._by_label["prometheus"],
            MetricProvider(cloudwatch),
            AlarmsProvider(cloudwatch),
            self._on_measured,
            self._clock,
            self._timer,
        )

    def unavailable(self, query: Query) -> str | None:
        """Why `query` cannot be measured here (its provider is not configured), or None."""
        if self._by_label[provider_label(query)] is not None:
            return None
        if isinstance(query, PrometheusQuery):
            return "no Prometheus is configured: set DEPLOYWORKER_PROMETHEUS_URL"
        return f"no {provider_label(query)} provider is configured"

    def measure(self, query: Query) -> Measurement:
        """One measurement by the query's provider; never raises."""
        label = provider_label(query)
        provider = self._by_label[label]
        if provider is None:
            return Measurement(None, self._clock(), error=self.unavailable(query))
        started = self._timer()
        try:
            measurement = provider.measure(query)
        except Exception as exc:
            # A provider bug must cost one inconclusive measurement, not the gate.
            log.exception("analysis.provider_failed", provider=label)
            measurement = Measurement(None, self._clock(), error=f"{label} failed: {exc!r}")
        if self._on_measured is not None:
            self._on_measured(label, self._timer() - started)
        return measurement


def prometheus_headers(settings: Settings, read_secret: Callable[[str], str]) -> dict[str, str]:
    """The Prometheus auth header from settings or from the Secrets Manager secret.

    Raises `ConfigError` for conflicting or incomplete credentials, or an unreadable
    secret: a worker that cannot authenticate its gates must not start.
    """
    token = settings.prometheus_bearer_token
    password = settings.prometheus_password
    direct = auth_headers(
        token.get_secret_value() if token is not None else None,
        settings.prometheus_username,
        password.get_secret_value() if password is not None else None,
    )
    arn = settings.prometheus_auth_secret_arn
    if not arn:
        return direct
    if direct:
        raise ConfigError(
            "DEPLOYWORKER_PROMETHEUS_AUTH_SECRET_ARN and Prometheus credentials in the "
            "environment are both set; use one"
        )
    try:
        secret = read_secret(arn)
    except AwsError as exc:
        raise ConfigError(f"cannot read the Prometheus auth secret: {exc}") from exc
    return secret_headers(secret)


def build_providers(
    settings: Settings, aws: Factory, on_measured: OnMeasured | None = None
) -> Providers:
    """Every provider the settings configure; raises `ConfigError` when Prometheus's
    URL or credentials are wrong. The only I/O is reading the auth secret, if set."""
    cloudwatch = aws.adapter(CloudWatch, "cloudwatch")
    prometheus = None
    if settings.prometheus_url:
        headers = prometheus_headers(
            settings, lambda arn: aws.adapter(Secrets, "secretsmanager").value(arn)
        )
        prometheus = PrometheusProvider(
            settings.prometheus_url, headers, settings.prometheus_timeout_seconds
        )
    elif settings.prometheus_auth_secret_arn or settings.prometheus_bearer_token:
        raise ConfigError("Prometheus credentials are set but DEPLOYWORKER_PROMETHEUS_URL is not")
    return Providers(
        prometheus, MetricProvider(cloudwatch), AlarmsProvider(cloudwatch), on_measured
    )
