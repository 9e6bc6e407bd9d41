"""Several accounts and replicas at a small size, as correctness checks (`bench.accounts`).

The full-size scenarios are `python -m bench.accounts` (in `make bench`); these prove
that deploys spread over accounts each land in their own account's ECS, that replicas
sharing one account's limits cause no throttling, and that the workers still settle
every deploy when an outside client eats into the account's UpdateService budget.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bench.accounts import AccountsSpec, run
from deployworker.observe.logs import configure_logging


@pytest.fixture(autouse=True)
def logs_back_to_stderr() -> Iterator[None]:
    """A run logs to nowhere, as in the benchmark; later tests read the logs again."""
    yield
    configure_logging("info")


def test_deploys_over_several_accounts_settle_without_throttles() -> None:
    f = run(AccountsSpec("accounts", accounts=3, per_account=10, scale=20))
    assert f["outcomes"] == {"deployed": 30}
    assert f["throttles"] == 0
    # Each account's ECS saw its own deploys: 10 registrations and updates apiece.
    for account in f["accounts"].values():
        assert account["calls"] >= 20


def test_replicas_share_one_accounts_budget_and_absorb_an_outside_client() -> None:
    f = run(AccountsSpec("replicas", 1, per_account=30, replicas=2, outside_share=0.5, scale=20))
    assert f["outcomes"] == {"deployed": 30}
    assert f["throttle_share"] < 0.05
