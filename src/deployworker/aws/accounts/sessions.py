"""Assumed-role sessions: one botocore session per (role, region, external id), cached.

The credentials are botocore's own: an `AssumeRoleCredentialFetcher` behind
`DeferredRefreshableCredentials`, so the SDK assumes the role on first use and again
before the credentials expire (its advisory and mandatory refresh windows). A deploy
that runs for hours never meets an expired token, and no cache here second-guesses it.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import botocore.session
from botocore.credentials import (
    AssumeRoleCredentialFetcher,
    CredentialProvider,
    Credentials,
    DeferredRefreshableCredentials,
)

from deployworker.aws.clients import locked_client
from deployworker.errors import ConfigError


def session_name(configured: str | None) -> str:
    """The assumed-role session name: names this replica in every target's CloudTrail.
    STS AssumeRole's RoleSessionName (botocore's model) is 2 to 64 characters of
    letters, digits and `_+=,.@-`: others become `-`, the name is cut at 64, and one
    shorter than 2 is refused at start (STS would refuse every AssumeRole)."""
    name = configured or f"deployworker-{socket.gethostname()}-{os.getpid()}"
    name = "".join(c if c.isascii() and (c.isalnum() or c in "+=,.@-_") else "-" for c in name)
    if len(name) < 2:
        raise ConfigError(
            f"DEPLOYWORKER_SESSION_NAME={configured!r} is too short: STS AssumeRole's "
            "RoleSessionName is 2 to 64 characters"
        )
    return name[:64]


# The worker runs as a role (its ECS task role), so assuming a target's role is role
# chaining, which AWS caps at one hour. STS AssumeRole, DurationSeconds (botocore's
# model): "Role chaining limits your Amazon Web Services CLI or Amazon Web Services API
# role session to a maximum of one hour." A longer request fails every AssumeRole.
ROLE_CHAINING_MAX_SECONDS = 3600


def chained_seconds(seconds: int) -> int:
    """The session length to ask for; refuses, at start, one role chaining cannot get."""
    if seconds > ROLE_CHAINING_MAX_SECONDS:
        raise ConfigError(
            f"DEPLOYWORKER_ASSUME_ROLE_SECONDS={seconds} is over {ROLE_CHAINING_MAX_SECONDS}: "
            "the worker assumes target roles from its own role (role chaining), which AWS "
            "limits to one hour, so every AssumeRole would fail; set 900-3600 (sessions are "
            "refreshed before they expire, so a longer one gains nothing)"
        )
    return seconds


# botocore's defaults: refresh in the background 15 minutes before expiry, and block
# callers for a refresh in the last 10.
ADVISORY_REFRESH_SECONDS = 900.0
MANDATORY_REFRESH_SECONDS = 600.0


class _Assumed(CredentialProvider):
    """A credential provider that always answers with one role's refreshable credentials."""

    METHOD = "assume-role"
    CANONICAL_NAME = "deployworker-assume-role"

    def __init__(self, credentials: Credentials) -> None:
        super().__init__()
        self._credentials = credentials

    def load(self) -> Credentials:
        return self._credentials


class _Refreshing(DeferredRefreshableCredentials):
    """botocore's deferred refreshable credentials with this worker's refresh windows:
    refresh in the background `advisory` seconds before expiry, block in the last
    `mandatory` (botocore reads both attributes; they are class-level defaults there)."""

    _advisory_refresh_timeout: float
    _mandatory_refresh_timeout: float

    def __init__(self, refresh_using: Callable[[], Any], advisory: float, mandatory: float) -> None:
        super().__init__(refresh_using, _Assumed.METHOD)
        self._advisory_refresh_timeout = advisory
        self._mandatory_refresh_timeout = mandatory


@dataclass(frozen=True, slots=True)
class Role:
    """A role to assume: its ARN and the external id its trust policy asks for."""

    arn: str
    external_id: str | None = None


@dataclass
class Sessions:
    """botocore sessions acting as assumed roles, one per (role, region), made on first use.

    `base` is the worker's own session: its credentials call STS, and its loaded
    service models are shared, so a new session costs no second load of them.
    `session_name` names this replica in the target account's CloudTrail.
    """

    base: botocore.session.Session
    session_name: str
    endpoint_url: str | None = None
    duration_seconds: int = 3600
    refresh_seconds: float = ADVISORY_REFRESH_SECONDS
    _cache: dict[tuple[Role, str], botocore.session.Session] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        chained_seconds(self.duration_seconds)

    def session(self, role: Role, region: str) -> botocore.session.Session:
        """The (cached) session that acts as `role` in `region`."""
        with self._lock:
            found = self._cache.get((role, region))
            if found is None:
                found = self._cache[(role, region)] = self._new(role, region)
            return found

    def credentials(self, role: Role, region: str) -> Credentials:
        """The refreshable credentials of `role`'s session in `region`."""
        credentials = self.session(role, region).get_credentials()
        assert credentials is not None  # our provider always answers
        return credentials

    def _new(self, role: Role, region: str) -> botocore.session.Session:
        extra: dict[str, Any] = {
            "RoleSessionName": self.session_name[:64],
            "DurationSeconds": self.duration_seconds,
        }
        if role.external_id:
            extra["ExternalId"] = role.external_id

        def sts_client(service: str, **credentials: Any) -> Any:
            # STS in the target's region, called with the worker's own credentials.
            return locked_client(
                self.base,
                service,
                region_name=region,
                endpoint_url=self.endpoint_url,
                **credentials,
            )

        fetcher = AssumeRoleCredentialFetcher(
            sts_client,
            self.base.get_credentials(),
            role.arn,
            extra_args=extra,
            # The fetcher's own cache must not outlive the refresh window, or a refresh
            # would be handed the same, about-to-expire credentials.
            expiry_window_seconds=int(self.refresh_seconds),
        )
        mandatory = min(MANDATORY_REFRESH_SECONDS, self.refresh_seconds * 2 / 3)
        credentials = _Refreshing(fetcher.fetch_credentials, self.refresh_seconds, mandatory)
        session = botocore.session.Session()
        session.set_config_variable("region", region)
        # Share the base session's loader: service models are parsed once per process.
        session.register_component("data_loader", self.base.get_component("data_loader"))
        resolver = session.get_component("credential_provider")
        resolver.providers.insert(0, _Assumed(credentials))
        return session
