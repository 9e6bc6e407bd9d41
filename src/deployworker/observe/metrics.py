"""Prometheus metrics, as a listener on pipeline events (not code inside the loop).

Each `Metrics` has its own registry, so several workers can live in one process
(the tests do this) without colliding in the global registry.
"""

from __future__ import annotations

import contextlib
import time

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    Info,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
)

from deployworker import __version__
from deployworker.observe.gatemetrics import GateMetrics, Listing
from deployworker.outcome import Outcome, Result

# `*_created` series double every counter and histogram for a value nobody graphs (the
# process start is `process_start_time_seconds`); prometheus_client's switch is global.
disable_created_metrics()  # type: ignore[no-untyped-call]
# A deploy's outcomes whose alerts use increase(): their series exist, at 0, for every
# allowlisted service from the moment the allowlist loads, so a service's first failure
# is a step from 0 to 1 that increase() sees, not a series born at 1 (docs/alerts.md).
ALERTED_OUTCOMES = (Outcome.FAILED.value, Outcome.ROLLED_BACK.value)
DURATION_BUCKETS = (5, 10, 20, 30, 60, 120, 180, 300, 600, 900, 1800, 3600)
# The label values of deployworker_ecs_events_total (rollout.events.Result).
ECS_EVENT_RESULTS = ("deployment", "service", "quiet", "unwatched", "ignored", "invalid")
AGE_BUCKETS = (0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)


class Metrics(GateMetrics):
    """The worker's metric families and the hooks that move them."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        # process_* (RSS, open fds, start time), python_info and python_gc_*, as
        # prometheus_client registers them in its default registry.
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)
        GCCollector(registry=r)
        self._services: set[tuple[str, str]] = set()
        self._gated: set[tuple[str, str]] = set()
        self.received = Counter(
            "deployworker_messages_received", "Messages received from the work queue.", registry=r
        )
        self.messages = Counter(
            "deployworker_messages", "Messages by final outcome.", ["outcome"], registry=r
        )
        for outcome in Outcome:
            self.messages.labels(outcome.value)
        self.releases = Counter(
            "deployworker_releases",
            "Releases of allowlisted releases by outcome.",
            ["release", "outcome"],
            registry=r,
        )
        self.deploys = Counter(
            "deployworker_deploys",
            "Deploys of allowlisted services by outcome.",
            ["cluster", "service", "outcome"],
            registry=r,
        )
        self.duration = Histogram(
            "deployworker_deploy_duration_seconds",
            "Time from receipt to outcome for allowlisted services.",
            ["cluster", "service", "outcome"],
            buckets=DURATION_BUCKETS,
            registry=r,
        )
        self.last_deploy = Gauge(
            "deployworker_last_deploy_timestamp_seconds",
            "Unix time of the last deploy of an allowlisted service, by outcome.",
            ["cluster", "service", "outcome"],
            registry=r,
        )
        self.message_age = Histogram(
            "deployworker_message_age_seconds",
            "Time from SentTimestamp to receipt: queue lag.",
            buckets=AGE_BUCKETS,
            registry=r,
        )
        self.events_dropped = Counter(
            "deployworker_events_dropped",
            "Deploy events not published (queue full or SNS failed).",
            registry=r,
        )
        self.in_flight = Gauge(
            "deployworker_deploys_in_flight",
            "Messages this worker holds: received and not yet settled (deploys, releases "
            "and votes).",
            registry=r,
        )
        self.aws_requests = Counter(
            "deployworker_aws_requests",
            "AWS API attempts by result (ok, throttled, error).",
            ["service", "operation", "result"],
            registry=r,
        )
        self.allowlist_entries = Gauge(
            "deployworker_allowlist_entries", "Services in the loaded allowlist.", registry=r
        )
        self.allowlist_reloads = Counter(
            "deployworker_allowlist_reloads", "Allowlist loads by result.", ["result"], registry=r
        )
        self.allowlist_ok = Gauge(
            "deployworker_allowlist_last_reload_successful",
            "1 if the last allowlist (re)load succeeded, 0 if the file in place is invalid "
            "(the last good allowlist stays in force).",
            registry=r,
        )
        self.allowlist_ok_at = Gauge(
            "deployworker_allowlist_last_reload_success_timestamp_seconds",
            "Unix time of the last successful allowlist load.",
            registry=r,
        )
        self.poll_last_success = Gauge(
            "deployworker_poll_last_success_timestamp_seconds",
            "Unix time of the last successful receive.",
            registry=r,
        )
        self.watched = Gauge(
            "deployworker_watched_deployments",
            "Deployments the watcher followed in its last round.",
            registry=r,
        )
        self.watch_calls = Counter(
            "deployworker_watch_describe_calls",
            "DescribeServiceDeployments calls made by the watcher (20 deployments each at most).",
            registry=r,
        )
        self.watch_cadence = Gauge(
            "deployworker_watch_cadence_seconds",
            "Seconds between watch rounds: the interval, stretched to the describe budget.",
            registry=r,
        )
        self.paused = Gauge(
            "deployworker_deploys_paused",
            "Deploys whose service deployment waits at a PAUSE lifecycle hook.",
            registry=r,
        )
        self.ecs_events = Counter(
            "deployworker_ecs_events",
            "ECS events read from the events queue, by what became of them.",
            ["result"],
            registry=r,
        )
        for result in ECS_EVENT_RESULTS:
            self.ecs_events.labels(result)
        self.api_budgets = Gauge(
            "deployworker_api_budget_requests_per_second",
            "This replica's requests per second for an ECS operation in an account and region, "
            "after AIMD backoff.",
            ["account", "region", "operation"],
            registry=r,
        )
        self._add_gate_families(r)
        Info("deployworker_build", "Build information.", registry=r).info({"version": __version__})

    def aws_request(self, service: str, operation: str, result: str) -> None:
        """Adapter observer: count one AWS API attempt."""
        self.aws_requests.labels(service, operation, result).inc()

    def api_budget(self, account: str, region: str, operation: str, rate: float) -> None:
        """Budget observer: an operation's rate in a target is now `rate`."""
        self.api_budgets.labels(account, region, operation).set(rate)

    def watch_round(self, watched: int, calls: int, cadence: float) -> None:
        """Watcher observer: one round of DescribeServiceDeployments finished."""
        self.watched.set(watched)
        self.watch_calls.inc(calls)
        self.watch_cadence.set(cadence)

    def ecs_event(self, result: str) -> None:
        """One ECS event read; a result outside the fixed set counts as invalid."""
        self.ecs_events.labels(result if result in ECS_EVENT_RESULTS else "invalid").inc()

    def message_received(self, sent_at: float) -> None:
        """A message arrived; `sent_at` is its SentTimestamp (0 when unknown)."""
        self.received.inc()
        if sent_at > 0:
            self.message_age.observe(max(0.0, time.time() - sent_at))

    def polled(self) -> None:
        """A receive call completed."""
        self.poll_last_success.set(time.time())

    def set_in_flight(self, count: int) -> None:
        """The number of messages held changed."""
        self.in_flight.set(count)

    def allowlist_loaded(self, ok: bool, allowlist: Listing | None) -> None:
        """An allowlist (re)load finished; `allowlist` is the one that took effect."""
        self.allowlist_reloads.labels("ok" if ok else "error").inc()
        self.allowlist_ok.set(1 if ok else 0)
        if not ok or allowlist is None:
            return
        self.allowlist_ok_at.set(time.time())
        self.allowlist_entries.set(len(allowlist.services))
        services = {(e.cluster, e.service) for e in allowlist.services}
        gated = {(e.cluster, e.service) for e in allowlist.services if e.gates}
        for cluster, service in services:
            for outcome in ALERTED_OUTCOMES:
                self.deploys.labels(cluster, service, outcome)
        for cluster, service in self._services - services:
            for outcome in ALERTED_OUTCOMES:
                with contextlib.suppress(KeyError):
                    self.deploys.remove(cluster, service, outcome)
        self.gated(gated, self._gated - gated)
        self._services, self._gated = services, gated

    def settled(self, result: Result) -> None:
        """A message reached its outcome."""
        self.messages.labels(result.outcome.value).inc()
        if result.cluster and result.service and result.outcome != Outcome.RELEASED:
            labels = (result.cluster, result.service, result.outcome.value)
            self.deploys.labels(*labels).inc()
            self.duration.labels(*labels).observe(result.duration)
            self.last_deploy.labels(*labels).set(time.time())
        if result.release and result.outcome != Outcome.RELEASED:
            self.releases.labels(result.release, result.outcome.value).inc()
