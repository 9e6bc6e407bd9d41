"""Fault injection for tests and the soak run: AWS errors at a chosen rate.

A `before-send` hook answers a share of a client's calls with a throttle, a 500,
a 503 or a connection error instead of sending them. The response goes through
botocore's real parsing, so the adapters see exactly what AWS would send.
"""

from __future__ import annotations

import json
import random
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

from botocore.awsrequest import AWSResponse, HTTPHeaders
from botocore.exceptions import EndpointConnectionError

FAULTS = (
    (400, "ThrottlingException"),
    (500, "InternalFailure"),
    (503, "ServiceUnavailable"),
    (0, "connection"),
)


class _Body:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


def error_response(status: int, code: str, content_type: str) -> AWSResponse:
    """An AWS JSON-protocol error response."""
    headers = HTTPHeaders()
    headers["content-type"] = content_type
    body = json.dumps({"__type": code, "message": "injected fault"}).encode()
    return AWSResponse("http://127.0.0.1/", status, headers, _Body(body))


class FaultInjector:
    """Answers `rate` of a client's calls with a random fault; counts what it did."""

    def __init__(self, rate: float, seed: int = 0, operations: set[str] | None = None) -> None:
        self.rate = rate
        self.operations = operations
        self.injected: Counter[str] = Counter()
        self._random = random.Random(seed)
        self._lock = threading.Lock()

    def attach(self, client: Any) -> None:
        """Inject into every call of a JSON-protocol client (ECS, SQS)."""
        prefix = client.meta.service_model.endpoint_prefix
        version = client.meta.service_model.metadata.get("jsonVersion", "1.1")
        content_type = f"application/x-amz-json-{version}"

        def hook(event_name: str, **_: Any) -> AWSResponse | None:
            operation = event_name.rsplit(".", 1)[-1]
            if self.operations is not None and operation not in self.operations:
                return None
            with self._lock:
                if self._random.random() >= self.rate:
                    return None
                status, code = self._random.choice(FAULTS)
                self.injected[code] += 1
            if status == 0:
                raise EndpointConnectionError(endpoint_url="http://127.0.0.1/")
            return error_response(status, code, content_type)

        client.meta.events.register_first(f"before-send.{prefix}", hook)
