"""One place that turns a service name into an adapter's client and `Caller`.

`app` builds every adapter through a `Factory`, so the retry policy, the connection
pool size, the endpoint and the metrics observer are set once. Tests and benchmarks
hand in `clients` to swap boto3 for in-memory fakes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from deployworker.aws._ratelimit import Limiter
from deployworker.aws._retry import Caller, Observer, RetryPolicy
from deployworker.aws.clients import make_client

A = TypeVar("A")


@dataclass(frozen=True)
class Factory:
    """Clients and callers for one region and endpoint, with one retry policy."""

    policy: RetryPolicy
    observe: Observer
    region: str | None
    endpoint_url: str | None
    pool_size: int = 20
    clients: Callable[[str], Any] | None = None
    session: Any = None  # a botocore session acting in another account (`accounts`)

    def client(self, service: str) -> Any:
        """A boto3-shaped client for `service` (a fake when `clients` was given)."""
        if self.clients is not None:
            return self.clients(service)
        return make_client(
            service, self.region, self.endpoint_url, self.pool_size, botocore_session=self.session
        )

    def caller(self, service: str, limiter: Limiter | None = None) -> Caller:
        """The retrying, classifying caller an adapter of `service` uses."""
        return Caller(service, self.policy, self.observe, limiter)

    def adapter(
        self, cls: Callable[[Any, Caller], A], service: str, limiter: Limiter | None = None
    ) -> A:
        """`cls(client, caller)` for `service`: how every adapter in `aws/` is built."""
        return cls(self.client(service), self.caller(service, limiter))
