"""Adapters under injected faults: retried when transient, classified, counted, bounded."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError, EndpointConnectionError

from conftest import REPO, World, default_entry, deploy, drain, metric
from deployworker.aws._retry import Caller, RetryPolicy, classify
from deployworker.errors import NotFoundError, PermanentAwsError, RetryableAwsError
from injected import error_response, inject


def test_throttling_and_5xx_are_retried_and_counted(world: World) -> None:
    world.service()
    app = world.app(aws_attempts=5)
    faults: list[AWSResponse | Exception] = [
        error_response(400, "ThrottlingException"),
        error_response(500, "ServerException"),
        error_response(503, "ServiceUnavailableException"),
    ]
    calls = inject(app.ecs._client, "UpdateService", faults)
    inject(
        app.ecs._client,
        "RegisterTaskDefinition",
        [EndpointConnectionError(endpoint_url="http://127.0.0.1")],
    )
    world.send(deploy(f"{REPO}:2.0", deploy_id="faulty"))
    drain(app)
    assert world.images()["app"] == f"{REPO}:2.0"
    assert len(calls) == 4
    assert len(world.revisions()) == 2  # the failed register attempt was retried, not doubled
    ecs = {"service": "ecs", "operation": "UpdateService"}
    assert metric(app, "deployworker_aws_requests_total", **ecs, result="throttled") == 1
    assert metric(app, "deployworker_aws_requests_total", **ecs, result="error") == 2
    assert metric(app, "deployworker_aws_requests_total", **ecs, result="ok") == 1
    assert metric(app, "deployworker_messages_total", outcome="deployed") == 1


def test_exhausted_retries_leave_the_message_for_redelivery(world: World) -> None:
    before = world.service()
    app = world.app(aws_attempts=2, retry_backoff_seconds=0)
    inject(
        app.ecs._client, "UpdateService", [error_response(503, "ServiceUnavailableException")] * 2
    )
    world.send(deploy(f"{REPO}:2.0", deploy_id="later"))
    app.worker.run_once()
    assert world.describe()["taskDefinition"] == before
    assert world.queue_depth() == 1
    assert metric(app, "deployworker_messages_total", outcome="retried") == 1
    assert world.dead_letters() == []
    # Redelivery reuses the revision registered the first time, then completes.
    drain(app)
    assert world.images()["app"] == f"{REPO}:2.0"
    assert len(world.revisions()) == 2
    assert world.queue_depth() == 0


CONCURRENT_REVISIONS = (
    "Too many concurrent attempts to create a new revision of the specified family."
)


def test_concurrent_revision_registrations_are_retried_and_deploy_once(world: World) -> None:
    world.service()
    app = world.app(aws_attempts=4, retry_backoff_seconds=0)
    calls = inject(
        app.ecs._client,
        "RegisterTaskDefinition",
        [error_response(400, "ClientException", CONCURRENT_REVISIONS)] * 2,
    )
    world.send(deploy(f"{REPO}:2.0", deploy_id="crowded"))
    drain(app)
    assert world.images()["app"] == f"{REPO}:2.0"
    assert len(calls) == 3
    assert len(world.revisions()) == 2  # registered once, after the two refusals
    assert world.dead_letters() == []
    assert metric(app, "deployworker_messages_total", outcome="deployed") == 1


def client_error(code: str, status: int, message: str = "m") -> ClientError:
    response: Any = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(response, "Op")


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (client_error("ThrottlingException", 400), RetryableAwsError),
        (client_error("Throttling", 400), RetryableAwsError),
        (client_error("RequestLimitExceeded", 400), RetryableAwsError),
        (client_error("Anything", 500), RetryableAwsError),
        (client_error("ServiceUnavailable", 503), RetryableAwsError),
        (client_error("ServiceNotFoundException", 400), NotFoundError),
        (client_error("ClusterNotFoundException", 400), NotFoundError),
        (client_error("AccessDeniedException", 400), PermanentAwsError),
        (client_error("InvalidParameterException", 400), PermanentAwsError),
        (client_error("ClientException", 400, CONCURRENT_REVISIONS), RetryableAwsError),
        (
            client_error("ClientException", 400, "Container.image should not be null"),
            PermanentAwsError,
        ),
        (client_error("InvalidParameterException", 400, CONCURRENT_REVISIONS), PermanentAwsError),
        (EndpointConnectionError(endpoint_url="x"), RetryableAwsError),
    ],
)
def test_classification(exc: Exception, kind: type) -> None:
    error = classify("Op", exc)
    assert type(error) is kind


def test_backoff_is_jittered_exponential_and_bounded() -> None:
    sleeps: list[float] = []
    policy = RetryPolicy(
        attempts=6, max_seconds=60, initial_wait=0.5, max_wait=4, sleep=sleeps.append
    )
    seen: list[str] = []
    caller = Caller("ecs", policy, lambda s, o, r: seen.append(r))
    counter = itertools.count()

    def always_throttled() -> None:
        next(counter)
        raise client_error("ThrottlingException", 400)

    with pytest.raises(RetryableAwsError):
        caller.call("UpdateService", always_throttled)
    assert next(counter) == 6  # bounded by attempts
    assert len(sleeps) == 5
    assert all(0 <= s <= 4 for s in sleeps)
    assert seen == ["throttled"] * 6


def test_a_call_that_recovers_returns_its_value_after_its_retries() -> None:
    sleeps: list[float] = []
    seen: list[str] = []
    caller = Caller("ecs", RetryPolicy(sleep=sleeps.append), lambda s, o, r: seen.append(r))
    outcomes = iter([client_error("ThrottlingException", 400), client_error("Boom", 503)])

    def flaky() -> str:
        failure = next(outcomes, None)
        if failure is not None:
            raise failure
        return "done"

    assert caller.call("UpdateService", flaky) == "done"
    assert seen == ["throttled", "error", "ok"]
    assert len(sleeps) == 2


def test_permanent_errors_are_not_retried() -> None:
    sleeps: list[float] = []
    caller = Caller("ecs", RetryPolicy(sleep=sleeps.append))
    with pytest.raises(PermanentAwsError):
        caller.call(
            "UpdateService",
            lambda: (_ for _ in ()).throw(client_error("AccessDeniedException", 400)),
        )
    assert sleeps == []


def test_thirty_percent_faults_on_ecs_and_sqs_still_deploy_everything_once(world: World) -> None:
    from deployworker.deploy.plan import DEPLOY_ID_TAG
    from deployworker.local.faults import FaultInjector

    services = [f"svc{i}" for i in range(4)]
    for name in services:
        world.service(name=name)
    app = world.app(
        world.allowlist([default_entry(service=name) for name in services]),
        aws_attempts=8,
        retry_backoff_seconds=0,
        supersede=False,  # every deploy must run, in order, through the faults
    )
    injector = FaultInjector(0.3, seed=42)
    injector.attach(app.ecs._client)
    injector.attach(app.sqs._client)
    sent = []
    for i in range(3):
        for name in services:
            deploy_id = f"{name}-{i}"
            world.send(
                deploy(f"{REPO}:{i + 2}", service=name, deploy_id=deploy_id),
                group=f"prod/{name}",
                dedup=deploy_id,
            )
            sent.append(deploy_id)
    drain(app, rounds=200)
    assert world.queue_depth() == 0
    assert world.dead_letters() == []
    for name in services:
        assert world.images(name=name)["app"] == f"{REPO}:4"
        tags = [
            world.task_definition(a)[1].get(DEPLOY_ID_TAG) for a in world.revisions(f"prod-{name}")
        ]
        assert tags == [None, f"{name}-0", f"{name}-1", f"{name}-2"]
    assert sum(injector.injected.values()) > 20
    assert injector.injected["ThrottlingException"] > 0
    # Every throttle injected was seen and counted, whichever operation it hit.
    throttled = sum(
        sample.value
        for family in app.metrics.registry.collect()
        if family.name == "deployworker_aws_requests"
        for sample in family.samples
        if sample.name.endswith("_total") and sample.labels["result"] == "throttled"
    )
    assert throttled == injector.injected["ThrottlingException"]
    assert metric(app, "deployworker_messages_total", outcome="deployed") == len(sent)


def test_token_bucket_paces_registrations(world: World) -> None:
    import time

    services = [f"svc{i}" for i in range(4)]
    for name in services:
        world.service(name=name)
    app = world.app(
        world.allowlist([default_entry(service=name) for name in services]),
        register_rate=2.0,
        register_burst=1,
    )
    times: list[float] = []
    app.ecs._client.meta.events.register(
        "before-send.ecs.RegisterTaskDefinition", lambda **_: times.append(time.monotonic())
    )
    for name in services:
        world.send(
            deploy(f"{REPO}:2", service=name, deploy_id=f"{name}-paced"), group=f"prod/{name}"
        )
    drain(app)
    assert len(times) == 4
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= 0.45  # 2 per second, no burst: never two within half a second
