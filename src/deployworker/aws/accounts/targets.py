"""Factories and budgets per target (account, region): how adapters reach another account.

`Accounts.factory` gives the home `Factory` moved to another region, or one whose
clients act through an assumed-role session (`sessions`) in another account;
`Accounts.limiter` gives the target's ECS budgets (`budgets`), one per target and
shared by everything that calls ECS there. The home path is unchanged: same factory,
same shared botocore session.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from deployworker.aws._ratelimit import Budget
from deployworker.aws.accounts.budgets import AdaptiveLimiter, Aimd, OnRate
from deployworker.aws.accounts.sessions import Role, Sessions
from deployworker.aws.factory import Factory

# (account, region) to the clients there: benchmarks and tests swap in fakes per target.
ClientsFor = Callable[[str, str], Callable[[str], Any]]


@dataclass
class Accounts:
    """Where each target's adapters come from, and each target's ECS budget."""

    home: Factory
    home_account: str
    sessions: Sessions | None
    budgets: Mapping[str, Budget]
    on_rate: OnRate | None = None
    clients_for: ClientsFor | None = None
    aimd: Aimd = field(default_factory=Aimd)
    _limiters: dict[tuple[str, str], AdaptiveLimiter] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def factory(self, account: str, region: str, role: Role | None = None) -> Factory:
        """A factory for `account` in `region`: home's credentials at home, `role`'s
        (assumed, refreshed by botocore) in another account."""
        moved = replace(self.home, region=region)
        if self.clients_for is not None:
            return replace(moved, clients=self.clients_for(account, region))
        if account == self.home_account or role is None:
            return moved
        if self.sessions is None:
            raise ValueError(f"no credentials for account {account}: sessions are not set up")
        return replace(moved, session=self.sessions.session(role, region))

    def limiter(self, account: str, region: str) -> AdaptiveLimiter:
        """The ECS token buckets of `account` in `region` (one per target)."""
        with self._lock:
            found = self._limiters.get((account, region))
            if found is None:
                found = AdaptiveLimiter(self.budgets, account, region, self.on_rate, self.aimd)
                self._limiters[(account, region)] = found
            return found
