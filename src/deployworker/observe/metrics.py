"""Prometheus metrics, as a listener on pipeline events (not code inside the loop).

Each `Metrics` has its own registry, so several workers can live in one process
(the tests do this) without colliding in the global registry.
"""

from __future__ import annotations

import contextlib
import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info

from deployworker import __version__
from deployworker.outcome import Outcome, Result

DURATION_BUCKETS = (5, 10, 20, 30, 60, 120, 180, 300, 600, 900, 1800, 3600)
# The label values of deployworker_ecs_events_total (rollout.events.Result).
ECS_EVENT_RESULTS = ("deployment", "service", "quiet", "unwatched", "ignored", "invalid")
# The label values of deployworker_gate_evaluations_total (deploy.gates.decide.RESULTS).
GATE_RESULTS = ("passed", "failed", "rejected", "timed_out", "inconclusive")
# The label values of deployworker_approval_votes_total: what became of an approval.
VOTE_RESULTS = (
    *("counted", "duplicate", "late", "not_yet", "invalid", "no_gate"),
    *("bad_proof", "unlisted", "no_deploy", "full", "aws_error", "retried"),
)
AGE_BUCKETS = (0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)
# The label values of deployworker_analysis_measurement_seconds (analysis.providers).
ANALYSIS_PROVIDERS = ("prometheus", "cloudwatch", "cloudwatch_alarms")
MEASUREMENT_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class Metrics:
    """The worker's metric families and the hooks that move them."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
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
            "deployworker_deploys_in_flight", "Messages being worked on.", registry=r
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
        self.gate_evaluations = Counter(
            "deployworker_gate_evaluations",
            "Gates ended, by result (passed, failed, rejected, timed_out, inconclusive).",
            ["result"],
            registry=r,
        )
        for result in GATE_RESULTS:
            self.gate_evaluations.labels(result)
        self.approvals_pending = Gauge(
            "deployworker_approvals_pending", "Gates waiting for a human approval.", registry=r
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
            "deployworker_api_budget",
            "This replica's calls per second for an ECS operation in an account and region, "
            "after AIMD backoff.",
            ["account", "region", "operation"],
            registry=r,
        )
        self.approval_votes = Counter(
            "deployworker_approval_votes",
            "Approval messages by what became of them (counted, unlisted, bad_proof, ...).",
            ["result"],
            registry=r,
        )
        for result in VOTE_RESULTS:
            self.approval_votes.labels(result)
        window = ["cluster", "service"]
        self.approval_opened = Gauge(
            "deployworker_approval_opened_timestamp_seconds",
            "Unix time the approval a deploy of an allowlisted service waits for opened.",
            window,
            registry=r,
        )
        self.approval_deadline = Gauge(
            "deployworker_approval_deadline_timestamp_seconds",
            "Unix time that approval's window closes (then the gate's on_timeout).",
            window,
            registry=r,
        )
        self.measurement_seconds = Histogram(
            "deployworker_analysis_measurement_seconds",
            "Time one gate analysis measurement took, by provider.",
            ["provider"],
            buckets=MEASUREMENT_BUCKETS,
            registry=r,
        )
        for provider in ANALYSIS_PROVIDERS:
            self.measurement_seconds.labels(provider)
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

    def approval_vote(self, result: str) -> None:
        """One approval message handled; an unknown result counts as invalid."""
        self.approval_votes.labels(result if result in VOTE_RESULTS else "invalid").inc()

    def approval_window(
        self, cluster: str, service: str, opened_at: float | None, deadline: float | None
    ) -> None:
        """The gate runner's callback, for allowlisted services only: an approval opened
        (both times given) or closed (None: its series go away, and so does any alert)."""
        if opened_at is None or deadline is None:
            for gauge in (self.approval_opened, self.approval_deadline):
                with contextlib.suppress(KeyError):  # not open: nothing to remove
                    gauge.remove(cluster, service)
            return
        self.approval_opened.labels(cluster, service).set(opened_at)
        self.approval_deadline.labels(cluster, service).set(deadline)

    def measured(self, provider: str, seconds: float) -> None:
        """One analysis measurement finished (the providers' `on_measured`)."""
        self.measurement_seconds.labels(provider).observe(seconds)

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

    def allowlist_loaded(self, ok: bool, entries: int | None) -> None:
        """An allowlist (re)load finished."""
        self.allowlist_reloads.labels("ok" if ok else "error").inc()
        if entries is not None:
            self.allowlist_entries.set(entries)

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
