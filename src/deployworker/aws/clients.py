"""boto3 client construction: one place that sets endpoints, timeouts and retries.

Every client comes from one shared botocore session, so the SDK's endpoint and
service data are loaded once, not again for every client.
"""

from __future__ import annotations

import threading
from typing import Any

import boto3
import botocore.session
from botocore.config import Config

# Re-entrant: `make_client` holds it while `shared_session` may create the session.
_lock = threading.RLock()
_session: botocore.session.Session | None = None


def shared_session() -> botocore.session.Session:
    """The process's one botocore session (created on first use)."""
    global _session  # noqa: PLW0603 - a lazily created, process-wide cache
    with _lock:
        if _session is None:
            _session = botocore.session.get_session()
        return _session


def locked_client(session: botocore.session.Session, service: str, **kwargs: Any) -> Any:
    """`session.create_client(service, **kwargs)` under the lock `make_client` holds."""
    with _lock:
        return session.create_client(service, **kwargs)


def make_client(
    service: str,
    region: str | None,
    endpoint_url: str | None,
    pool_size: int = 20,
    read_timeout: float = 35.0,
    botocore_session: botocore.session.Session | None = None,
) -> Any:
    """A boto3 client with botocore's retries off: `_retry.Caller` owns retrying.

    `read_timeout` must exceed the SQS long-poll wait, or every empty poll would
    look like a network fault. `botocore_session` (another account's assumed-role
    session) replaces the process's shared one.
    """
    config = Config(
        region_name=region,
        retries={"total_max_attempts": 1, "mode": "standard"},
        connect_timeout=5,
        read_timeout=read_timeout,
        max_pool_connections=pool_size,
    )
    # botocore does not promise thread-safe client creation from one session.
    with _lock:
        session = boto3.session.Session(botocore_session=botocore_session or shared_session())
        return session.client(service, endpoint_url=endpoint_url, config=config)  # type: ignore[call-overload]
