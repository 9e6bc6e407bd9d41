"""Where a promotion's source runs, and where a registry account's images live: ECS
or ECR in another account or region, on demand.

A promote names its source service, and optionally the source's account and region
(staging in one account, production in another). `source_reader` gives the deploying
pipeline's `Actor` the ECS adapter for that place, built once per (account, region)
through the same factories and budgets as every other call there. `registry_reader`
gives it ECR in an entry's `registry_account`, through that account's role.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from deployworker.aws.accounts.sessions import Role
from deployworker.aws.accounts.targets import Accounts
from deployworker.aws.ecr import Ecr
from deployworker.aws.ecs import Ecs
from deployworker.errors import not_allowed
from deployworker.intake.accounts import Target, account_of
from deployworker.intake.admit import Intake

# (account id, ECR there in a region): `deploy.pin.Registry`.
RegistryIn = tuple[str, Callable[[str], Ecr]]


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


def registry_reader(accounts: Accounts, intake: Intake) -> Callable[[str], RegistryIn]:
    """A registry account (alias or id from the allowlist's `accounts:`): its id, and
    ECR there in a region, built once per region through its role. Raises `Rejection`
    for an account the allowlist does not list."""
    cache: dict[tuple[str, str], Ecr] = {}
    lock = threading.Lock()

    def registry(name: str) -> RegistryIn:
        listed = account_of(intake.allowlist().accounts, name)
        if listed is None:
            raise not_allowed(f"registry account {name!r} is not in the allowlist's accounts")
        role = Role(listed.role_arn, listed.external_id)

        def ecr_in(region: str) -> Ecr:
            with lock:
                if (listed.account_id, region) not in cache:
                    factory = accounts.factory(listed.account_id, region, role)
                    cache[(listed.account_id, region)] = factory.adapter(Ecr, "ecr")
                return cache[(listed.account_id, region)]

        return listed.account_id, ecr_in

    return registry
