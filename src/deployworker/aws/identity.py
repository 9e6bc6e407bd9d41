"""Who and where the worker is: its account (STS) and its region (the SDK's).

A message may name its cluster and service by ARN, and an ARN names an account and
a region. The worker denies ARNs that are not its own, so it must know both without
being told: the account from one STS GetCallerIdentity at start (a call that needs no
IAM permission and that no policy can deny), the region from the one botocore
resolved for its clients.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from deployworker.aws._retry import Caller
from deployworker.errors import AwsError, ConfigError


class Sts:
    """The STS call the worker makes: GetCallerIdentity."""

    def __init__(self, client: Any, caller: Caller) -> None:
        self._client = client
        self._caller = caller

    def account(self) -> str:
        """The 12-digit account the worker's credentials belong to."""
        response = self._caller.call("GetCallerIdentity", self._client.get_caller_identity)
        return str(response["Account"])


def client_region(client: Any) -> str | None:
    """The region botocore resolved for `client` (settings, environment or profile)."""
    meta = getattr(client, "meta", None)
    region = getattr(meta, "region_name", None)
    return str(region) if region else None


def own_scope(
    region: str | None, account: str | None, client: Any, sts: Callable[[], Sts]
) -> tuple[str, str]:
    """(region, account) the worker serves: as configured, else the region of `client`
    and the account STS names. Raises `ConfigError` when either cannot be known, so a
    worker never runs unable to tell a foreign ARN from its own."""
    region = region or client_region(client)
    if not region:
        raise ConfigError("the worker's region is unknown: set AWS_REGION or DEPLOYWORKER_REGION")
    if account:
        return region, account
    try:
        return region, sts().account()
    except AwsError as exc:
        raise ConfigError(
            f"cannot learn the worker's account from STS GetCallerIdentity ({exc}); "
            "set DEPLOYWORKER_ACCOUNT_ID"
        ) from exc
