"""Faults injected into boto3 clients at the HTTP layer, so botocore's own retry and
error parsing run as they would against AWS."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from botocore.awsrequest import AWSResponse, HTTPHeaders


class FakeRaw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


def error_response(status: int, code: str, message: str = "injected") -> AWSResponse:
    """An AWS JSON error response with `status`, error `code` and `message`."""
    body = json.dumps({"__type": code, "message": message}).encode()
    headers = HTTPHeaders()
    headers["content-type"] = "application/x-amz-json-1.1"
    return AWSResponse("http://127.0.0.1", status, headers, FakeRaw(body))


def inject(client: Any, operation: str, faults: list[AWSResponse | Exception]) -> list[int]:
    """Fail the next len(faults) calls of `operation`; returns a list counting every call."""
    calls: list[int] = []
    pending = iter(faults)

    def hook(**_: Any) -> AWSResponse | None:
        calls.append(1)
        fault = next(pending, None)
        if isinstance(fault, Exception):
            raise fault
        return fault

    client.meta.events.register_first(
        f"before-send.{client.meta.service_model.endpoint_prefix}.{operation}", hook
    )
    return calls
