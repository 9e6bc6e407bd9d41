"""Where `publish --wait` and `status` read a deploy: home's ECS, or another target's.

Another account is read through the role the allowlist lists for it, assumed the way
the worker does (`aws.accounts.sessions`), so CI needs `sts:AssumeRole` on that role.
"""

from __future__ import annotations

from deployworker.aws._retry import Caller, RetryPolicy
from deployworker.aws.accounts.sessions import Role, Sessions
from deployworker.aws.clients import make_client, shared_session
from deployworker.aws.ecs import Ecs
from deployworker.intake.accounts import ACCOUNT_ID, Account
from deployworker.intake.allowlist import load_allowlist
from deployworker.settings import Settings


def _accounts(settings: Settings) -> dict[str, Account]:
    """The allowlist's accounts, when the allowlist is at hand (none otherwise)."""
    text = settings.allowlist_yaml
    if text is None and settings.allowlist_path.exists():
        text = settings.allowlist_path.read_text()
    return dict(load_allowlist(text).accounts) if text else {}


def accounts_for(settings: Settings, account: str | None) -> dict[str, Account] | None:
    """The allowlist's accounts when `account` is an alias `publish` must resolve; the
    allowlist is not read for an id or no account at all."""
    if account is None or ACCOUNT_ID.fullmatch(account):
        return None
    return _accounts(settings)


def _role(settings: Settings, account: str) -> Role | None:
    """The role the allowlist lists for `account` (alias or id), if the allowlist is here."""
    for alias, listed in _accounts(settings).items():
        if account in (alias, listed.account_id):
            return Role(listed.role_arn, listed.external_id)
    return None


def ecs_for(
    settings: Settings,
    region: str | None,
    endpoint: str | None,
    account: str | None = None,
    target_region: str | None = None,
) -> Ecs:
    """ECS in `account` (alias or id; None: the caller's own) and `target_region`.

    Raises `ValueError` when another account is named and no allowlist lists its role.
    """
    caller = Caller("ecs", RetryPolicy(attempts=4))
    where = target_region or region
    if account is None:
        return Ecs(make_client("ecs", where, endpoint), caller)
    role = _role(settings, account)
    if role is None:
        if ACCOUNT_ID.fullmatch(account) and account == settings.account_id:
            return Ecs(make_client("ecs", where, endpoint), caller)
        raise ValueError(
            f"account {account!r}: set DEPLOYWORKER_ALLOWLIST_PATH to the allowlist that "
            "lists its role, to read the deploy there"
        )
    sessions = Sessions(shared_session(), "deployworker-ci", endpoint)
    session = sessions.session(role, where or "")
    return Ecs(make_client("ecs", where, endpoint, botocore_session=session), caller)
