"""Where a promotion's source runs: ECS in another account or region, on demand.

A promote names its source service, and optionally the source's account and region
(staging in one account, production in another). `source_reader` gives the deploying
pipeline's `Actor` the ECS adapter for that place, built once per (account, region)
through the same factories and budgets as every other call there.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from deployworker.aws.accounts.sessions import Role
from deployworker.aws.accounts.targets import Accounts
from deployworker.aws.ecs import Ecs
from deployworker.errors import not_allowed
from deployworker.intake.accounts import Target, account_of
from deployworker.intake.admit import Intake


def source_reader(
    accounts: Accounts, intake: Intake, at: Target
) -> Callable[[str | None, str | None], Ecs]:
    """ECS where a promotion's source runs: `account` (alias or id) and `region`, each
    `at`'s when not given. Raises `Rejection` for an account the allowlist does not list."""
    cache: dict[tuple[str, str], Ecs] = {}
    lock = threading.Lock()

    def ecs(account: str | None, region: str | None) -> Ecs:
        listed = account_of(intake.allowlist().accounts, account) if account else None
        if account and listed is None and account not in (at.account, accounts.home_account):
            raise not_allowed(f"promotion source account {account!r} is not in the allowlist")
        where = Target(listed.account_id if listed else account or at.account, region or at.region)
        role = Role(listed.role_arn, listed.external_id) if listed else None
        with lock:
            if (where.account, where.region) not in cache:
                factory = accounts.factory(where.account, where.region, role)
                limiter = accounts.limiter(where.account, where.region)
                cache[(where.account, where.region)] = Ecs(
                    factory.client("ecs"), factory.caller("ecs", limiter)
                )
            return cache[(where.account, where.region)]

    return ecs
