"""The gate and approval families of `Metrics`: endings and pending approvals per
allowlisted service, votes, approval windows and analysis measurement durations."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# The label values of deployworker_gate_evaluations_total (deploy.gates.decide.RESULTS).
GATE_RESULTS = ("passed", "failed", "rejected", "timed_out", "inconclusive")
# The label values of deployworker_approval_votes_total: what became of an approval.
VOTE_RESULTS = (
    *("counted", "duplicate", "late", "not_yet", "invalid", "no_gate"),
    *("bad_proof", "unlisted", "no_deploy", "full", "aws_error", "retried"),
)
# The label values of deployworker_analysis_measurement_duration_seconds (analysis.providers).
ANALYSIS_PROVIDERS = ("prometheus", "cloudwatch", "cloudwatch_alarms")
MEASUREMENT_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class Listed(Protocol):
    """What the metrics read of an allowlist entry (observe imports no stage)."""

    @property
    def cluster(self) -> str: ...
    @property
    def service(self) -> str: ...
    @property
    def gates(self) -> Sequence[object]: ...


class Listing(Protocol):
    """A loaded allowlist, as the metrics see it."""

    @property
    def services(self) -> Sequence[Listed]: ...


class GateMetrics:
    """Gate families; `Metrics` adds them to its registry with `_add_gate_families`.

    Gates run only for allowlisted services, so their `cluster`/`service` labels are
    as bounded as the allowlist."""

    def _add_gate_families(self, r: CollectorRegistry) -> None:
        service = ["cluster", "service"]
        self.gate_evaluations = Counter(
            "deployworker_gate_evaluations",
            "Gates ended, by service and result (passed, failed, rejected, timed_out, "
            "inconclusive).",
            [*service, "result"],
            registry=r,
        )
        self.approvals_pending = Gauge(
            "deployworker_approvals_pending",
            "Gates of a service waiting for a human approval.",
            service,
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
        self.approval_opened = Gauge(
            "deployworker_approval_opened_timestamp_seconds",
            "Unix time the approval a deploy of an allowlisted service waits for opened.",
            service,
            registry=r,
        )
        self.approval_deadline = Gauge(
            "deployworker_approval_deadline_timestamp_seconds",
            "Unix time that approval's window closes (then the gate's on_timeout).",
            service,
            registry=r,
        )
        self.measurement_seconds = Histogram(
            "deployworker_analysis_measurement_duration_seconds",
            "Time one gate analysis measurement took, by provider.",
            ["provider"],
            buckets=MEASUREMENT_BUCKETS,
            registry=r,
        )
        for provider in ANALYSIS_PROVIDERS:
            self.measurement_seconds.labels(provider)

    def gated(self, listed: set[tuple[str, str]], left: set[tuple[str, str]]) -> None:
        """The allowlist's gated services: their series exist from 0 (so `increase()`
        sees a first failure); those of services no longer gated go away."""
        for cluster, service in listed:
            self.approvals_pending.labels(cluster, service)
            for result in GATE_RESULTS:
                self.gate_evaluations.labels(cluster, service, result)
        for cluster, service in left:
            with contextlib.suppress(KeyError):
                self.approvals_pending.remove(cluster, service)
            for result in GATE_RESULTS:
                with contextlib.suppress(KeyError):
                    self.gate_evaluations.remove(cluster, service, result)

    def gate_ended(self, cluster: str, service: str, result: str) -> None:
        """The gate runner's `on_result`: a gate of an allowlisted service ended."""
        self.gate_evaluations.labels(cluster, service, result).inc()

    def approval_pending(self, cluster: str, service: str, delta: int) -> None:
        """The gate runner's `on_pending`: an approval opened (+1) or closed (-1)."""
        self.approvals_pending.labels(cluster, service).inc(delta)

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
