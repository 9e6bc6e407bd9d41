"""boto3 client construction: one place that sets endpoints, timeouts and retries."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config


def make_client(
    service: str,
    region: str | None,
    endpoint_url: str | None,
    pool_size: int = 20,
    read_timeout: float = 35.0,
) -> Any:
    """A boto3 client with botocore's retries off: `_retry.Caller` owns retrying.

    `read_timeout` must exceed the SQS long-poll wait, or every empty poll would
    look like a network fault.
    """
    config = Config(
        region_name=region,
        retries={"total_max_attempts": 1, "mode": "standard"},
        connect_timeout=5,
        read_timeout=read_timeout,
        max_pool_connections=pool_size,
    )
    session = boto3.session.Session()
    return session.client(service, endpoint_url=endpoint_url, config=config)  # type: ignore[call-overload]
