"""What the gate runner needs from others: a vote book and measurement providers.

The approvals side implements `VoteBook` (verified, durable votes per deploy); the
analysis side implements `rollout.analysis.measure.Provider` per kind of query, and
`Providers` sends each query to the provider of its kind. A kind nobody configured
answers "no data" with the reason, which the gate treats as inconclusive.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from deployworker.deploy.approvals.votes import Vote
from deployworker.rollout.analysis.measure import (
    AlarmsQuery,
    CloudWatchQuery,
    Measurement,
    PrometheusQuery,
    Provider,
    Query,
)


class VoteBook(Protocol):
    """The verified votes on one deploy, kept durably (they survive a worker crash)."""

    def votes(self, cluster: str, service: str, deploy_id: str) -> Sequence[Vote]: ...


class NoVotes:
    """The vote book until approvals are wired: nobody has voted."""

    def votes(self, cluster: str, service: str, deploy_id: str) -> Sequence[Vote]:
        """No votes, ever."""
        return ()


@dataclass(frozen=True)
class Providers:
    """A `Provider` that routes each query to the provider configured for its kind:
    PromQL to `prometheus`; CloudWatch metrics and alarms to `cloudwatch`."""

    prometheus: Provider | None = None
    cloudwatch: Provider | None = None

    def measure(self, query: Query) -> Measurement:
        """The routed provider's measurement, or no data when none is configured."""
        if isinstance(query, PrometheusQuery):
            provider, kind = self.prometheus, "prometheus (DEPLOYWORKER_PROMETHEUS_URL)"
        elif isinstance(query, CloudWatchQuery | AlarmsQuery):
            provider, kind = self.cloudwatch, "cloudwatch"
        else:  # pragma: no cover - Query is a closed union
            provider, kind = None, type(query).__name__
        if provider is None:
            return Measurement(None, 0.0, error=f"no {kind} provider is configured")
        return provider.measure(query)


@dataclass(frozen=True)
class Subject:
    """What a gate judges: the deploy, and its revision (which carries the gate tag)."""

    cluster: str
    service: str
    deploy_id: str
    revision: str | None = None
