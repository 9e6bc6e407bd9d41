"""The adapter factory: one retry policy, one observer and the injected clients."""

from __future__ import annotations

from typing import Any

from deployworker.aws._retry import Caller, RetryPolicy
from deployworker.aws.factory import Factory


class Fake:
    def __init__(self, client: Any, caller: Caller) -> None:
        self.client = client
        self.caller = caller


def test_adapter_gets_the_injected_client_and_a_caller_that_reports_its_service() -> None:
    seen: list[tuple[str, str, str]] = []
    factory = Factory(
        RetryPolicy(attempts=2, max_seconds=1.0),
        lambda *a: seen.append(a),
        "eu-west-1",
        None,
        clients=lambda service: f"client:{service}",
    )
    built = factory.adapter(Fake, "sqs")
    assert built.client == "client:sqs"
    assert built.caller.once("GetQueueUrl", lambda: 42) == 42
    assert seen == [("sqs", "GetQueueUrl", "ok")]


def test_without_injected_clients_it_builds_real_boto3_clients_for_its_region() -> None:
    factory = Factory(RetryPolicy(attempts=1, max_seconds=1.0), lambda *a: None, "us-west-2", None)
    client = factory.client("ecs")
    assert client.meta.region_name == "us-west-2"
    assert client.meta.service_model.service_name == "ecs"
