"""Matching ECS's EventBridge events to followed service deployments: by the service
deployment's ARN, else by its service; everything else is dropped with a result."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from deployworker.rollout.events import (
    Kind,
    Result,
    Starts,
    follow_index,
    match,
    parse,
    service_key,
)

PREFIX = "arn:aws:ecs:eu-west-1:123456789012"
OURS = f"{PREFIX}:service-deployment/prod/web/aBcD1234"
OTHER_PROD = f"{PREFIX}:service-deployment/prod/api/zz99"
FOLLOWED = follow_index([OURS, OTHER_PROD])


def event(
    resources: list[str] | None = None,
    name: str = "SERVICE_DEPLOYMENT_COMPLETED",
    detail_type: str = "ECS Deployment State Change",
    source: str = "aws.ecs",
    **detail: Any,
) -> dict[str, Any]:
    """An event as ECS sends it through EventBridge to SQS."""
    return {
        "version": "0",
        "id": "ddca6449-b258-46c0-8653-e0e3a6EXAMPLE",
        "detail-type": detail_type,
        "source": source,
        "account": "123456789012",
        "time": "2025-05-23T12:31:14Z",
        "region": "eu-west-1",
        "resources": [f"{PREFIX}:service/prod/web"] if resources is None else resources,
        "detail": {
            "eventType": "INFO",
            "eventName": name,
            "deploymentId": "ecs-svc/1234567890123456789",
            "updatedAt": "2025-05-23T12:31:14Z",
            "reason": "ECS deployment ecs-svc/1234567890123456789 completed.",
            **detail,
        },
    }


CASES = [
    ("completed, by service", event(), Result.SERVICE, (OURS,)),
    (
        "in progress, by service",
        event(name="SERVICE_DEPLOYMENT_IN_PROGRESS"),
        Result.SERVICE,
        (OURS,),
    ),
    (
        "failed, by service",
        event(name="SERVICE_DEPLOYMENT_FAILED", eventType="ERROR"),
        Result.SERVICE,
        (OURS,),
    ),
    ("by deployment ARN", event(serviceDeploymentArn=OURS), Result.DEPLOYMENT, (OURS,)),
    (
        "another deployment of a followed service wakes ours (it may overtake it)",
        event(serviceDeploymentArn=f"{PREFIX}:service-deployment/prod/web/newer"),
        Result.SERVICE,
        (OURS,),
    ),
    (
        "service action",
        event(name="SERVICE_STEADY_STATE", detail_type="ECS Service Action"),
        Result.SERVICE,
        (OURS,),
    ),
    (
        "detail.serviceArn",
        event(resources=[], serviceArn=f"{PREFIX}:service/prod/api"),
        Result.SERVICE,
        (OTHER_PROD,),
    ),
    ("unwatched service", event([f"{PREFIX}:service/prod/billing"]), Result.UNWATCHED, ()),
    ("same name, other cluster", event([f"{PREFIX}:service/staging/web"]), Result.UNWATCHED, ()),
    (
        "same service, other account",
        event(["arn:aws:ecs:eu-west-1:999999999999:service/prod/web"]),
        Result.UNWATCHED,
        (),
    ),
    (
        "same service, other region",
        event(["arn:aws:ecs:us-east-1:123456789012:service/prod/web"]),
        Result.UNWATCHED,
        (),
    ),
    ("task state change", event(detail_type="ECS Task State Change"), Result.IGNORED, ()),
    ("not from ECS", event(source="my.app"), Result.IGNORED, ()),
    ("no service named", event(resources=[]), Result.INVALID, ()),
    ("short service ARN", event([f"{PREFIX}:service/web"]), Result.INVALID, ()),
    ("detail not an object", {**event(), "detail": "x"}, Result.INVALID, ()),
    ("resources not a list", {**event(), "resources": "x"}, Result.INVALID, ()),
    ("not JSON", None, Result.INVALID, ()),
]


@pytest.mark.parametrize(("case", "body", "result", "arns"), CASES, ids=[c[0] for c in CASES])
def test_match(
    case: str, body: dict[str, Any] | None, result: Result, arns: tuple[str, ...]
) -> None:
    found = match(body, FOLLOWED)
    assert (found.result, found.arns) == (result, arns)


STARTED = "SERVICE_DEPLOYMENT_IN_PROGRESS"
KINDS = [
    ("completed", event(), Kind.WAKE),
    ("failed", event(name="SERVICE_DEPLOYMENT_FAILED", eventType="ERROR"), Kind.WAKE),
    (
        "completed, as a service action",
        event(detail_type="ECS Service Action"),
        Kind.WAKE,
    ),
    ("completed, by deployment ARN", event(serviceDeploymentArn=OURS), Kind.WAKE),
    ("a start, by service: ours or a newer one", event(name=STARTED), Kind.START),
    (
        "our own start, by deployment ARN",
        event(name=STARTED, serviceDeploymentArn=OURS),
        Kind.QUIET,
    ),
    (
        "a newer deployment's start, by its ARN: it overtakes ours",
        event(name=STARTED, serviceDeploymentArn=f"{PREFIX}:service-deployment/prod/web/newer"),
        Kind.WAKE,
    ),
    (
        "steady state",
        event(name="SERVICE_STEADY_STATE", detail_type="ECS Service Action"),
        Kind.QUIET,
    ),
    (
        "a warning",
        event(name="SERVICE_TASK_START_IMPAIRED", detail_type="ECS Service Action"),
        Kind.QUIET,
    ),
    ("a deployment event ECS may add later", event(name="SERVICE_DEPLOYMENT_NEW"), Kind.WAKE),
    # The ECS guide documents this event's detail-type and event name only; it names the
    # service in `resources`, as ECS's service events do: a gate may start now.
    (
        "a PAUSE hook awaits action",
        event(name="HOOK_AWAITING_ACTION", detail_type="ECS Hook State Change"),
        Kind.WAKE,
    ),
    (
        "a PAUSE hook awaits action, naming the deployment",
        event(
            name="HOOK_AWAITING_ACTION",
            detail_type="ECS Hook State Change",
            serviceDeploymentArn=OURS,
        ),
        Kind.WAKE,
    ),
]


@pytest.mark.parametrize(("case", "body", "kind"), KINDS, ids=[c[0] for c in KINDS])
def test_only_events_that_can_end_a_verdict_wake(
    case: str, body: dict[str, Any], kind: Kind
) -> None:
    assert match(body, FOLLOWED).kind is kind


def test_the_first_start_heard_is_the_deployments_own_and_another_wakes_it() -> None:
    starts = Starts()

    def started(deployment_id: str) -> tuple[str, ...]:
        return starts.to_wake(match(event(name=STARTED, deploymentId=deployment_id), FOLLOWED))

    assert started("ecs-svc/1") == ()  # ours: quiet
    assert started("ecs-svc/1") == ()  # a duplicate: quiet
    assert started("ecs-svc/2") == (OURS,)  # a newer deployment, or a rollback: look
    assert started("ecs-svc/2") == (OURS,)
    assert starts.to_wake(match(event(), FOLLOWED)) == (OURS,)  # ends always wake
    steady = event(name="SERVICE_STEADY_STATE", detail_type="ECS Service Action")
    assert starts.to_wake(match(steady, FOLLOWED)) == ()
    starts.keep_only([])  # followed no more: a new deployment of that ARN starts afresh
    assert started("ecs-svc/2") == ()


@given(st.lists(st.sampled_from(["ecs-svc/1", "ecs-svc/2", "ecs-svc/3", ""]), max_size=12))
def test_a_start_wakes_unless_it_names_the_first_start_heard(ids: list[str]) -> None:
    starts = Starts()
    for deployment_id in ids:
        found = match(event(name=STARTED, deploymentId=deployment_id), FOLLOWED)
        assert starts.to_wake(found) == (() if deployment_id == ids[0] else (OURS,))


def test_every_followed_deployment_of_the_service_is_woken() -> None:
    second = f"{PREFIX}:service-deployment/prod/web/second"
    found = match(event(), follow_index([OURS, second, OTHER_PROD]))
    assert found.arns == tuple(sorted([OURS, second]))


@pytest.mark.parametrize(
    ("arn", "key"),
    [
        (f"{PREFIX}:service/prod/web", ("eu-west-1", "123456789012", "prod", "web")),
        (OURS, ("eu-west-1", "123456789012", "prod", "web")),
        (f"{PREFIX}:service/web", None),
        (f"{PREFIX}:cluster/prod", None),
        (f"{PREFIX}:service-deployment/prod/web", None),
        ("arn:aws:sqs:eu-west-1:123456789012:service/prod/web", None),
        ("", None),
    ],
)
def test_service_key(arn: str, key: tuple[str, ...] | None) -> None:
    assert service_key(arn) == key


@pytest.mark.parametrize("body", ["", "[]", "null", '"x"', "{", "[" * 100_000])
def test_parse_refuses_anything_but_an_object(body: str) -> None:
    assert parse(body) is None


def test_parse_reads_an_event() -> None:
    assert parse(json.dumps(event())) == event()


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(
    st.dictionaries(st.sampled_from(["source", "detail-type", "detail", "resources", "x"]), JSON)
)
def test_any_json_object_gets_a_result_and_wakes_only_followed_deployments(
    body: dict[str, Any],
) -> None:
    found = match(body, FOLLOWED)
    assert found.result in set(Result)
    assert set(found.arns) <= FOLLOWED.arns
    assert bool(found.arns) == (found.result in (Result.DEPLOYMENT, Result.SERVICE))


@given(
    st.text(min_size=1, max_size=12, alphabet="abcXYZ-_09"),
    st.text(min_size=1, max_size=12, alphabet="abcXYZ-_09"),
)
def test_a_service_event_wakes_exactly_that_services_deployments(cluster: str, name: str) -> None:
    ours = f"{PREFIX}:service-deployment/{cluster}/{name}/id1"
    followed = follow_index([ours, OTHER_PROD])
    found = match(event([f"{PREFIX}:service/{cluster}/{name}"]), followed)
    expected = {ours} | ({OTHER_PROD} if (cluster, name) == ("prod", "api") else set())
    assert set(found.arns) == expected
