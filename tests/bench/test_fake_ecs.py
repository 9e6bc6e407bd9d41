"""The ECS fake's service deployments, driven directly on a clock the test moves.

What a worker following service deployments relies on: a rollout's lifecycle, the
circuit breaker's rollback or stop, StopServiceDeployment's rollback on the same
ARN, a newer deployment stopping an older one, the 20-ARN limit, throttling of
the new calls, and responses that only use keys (and types) of botocore's shapes.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import botocore.session
import pytest
from botocore.exceptions import ClientError
from botocore.model import Shape

from bench.fake_ecs import FakeEcs
from bench.fakeaws import Ledger, ManualClock

REPO = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/app"
ROLLOUT = 60.0  # every rollout and rollback takes this long (simulated seconds)
MODEL = botocore.session.get_session().get_service_model("ecs")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


def make_ecs(clock: ManualClock, rollback: bool = False) -> FakeEcs:
    ecs = FakeEcs(clock, Ledger(), latency=0.0, converge=(ROLLOUT, ROLLOUT))
    ecs.seed_service("c", "s", f"{REPO}:v1", rollback=rollback)
    return ecs


def deploy(ecs: FakeEcs, tag: str) -> str:
    """Register `tag` and point the service at it; returns the service deployment's ARN."""
    arn = ecs.register_task_definition(
        family="c-s", containerDefinitions=[{"name": "app", "image": f"{REPO}:{tag}"}]
    )["taskDefinition"]["taskDefinitionArn"]
    return str(ecs.update_service("c", "s", arn)["service"]["currentServiceDeployment"])


def described(ecs: FakeEcs, arn: str) -> dict[str, Any]:
    (found,) = ecs.describe_service_deployments(serviceDeploymentArns=[arn])["serviceDeployments"]
    return dict(found)


def status(ecs: FakeEcs, arn: str) -> str:
    return str(described(ecs, arn)["status"])


def error_code(call: Callable[[], object]) -> str:
    with pytest.raises(ClientError) as raised:
        call()
    return str(raised.value.response["Error"]["Code"])


def task_definition(ecs: FakeEcs) -> str:
    (service,) = ecs.describe_services("c", ["s"])["services"]
    return str(service["taskDefinition"])


# -- lifecycle -------------------------------------------------------------------------------
def test_a_rollout_goes_pending_in_progress_successful(clock: ManualClock) -> None:
    ecs = make_ecs(clock)
    before = task_definition(ecs)
    arn = deploy(ecs, "v2")
    assert arn.startswith("arn:aws:ecs:eu-west-1:123456789012:service-deployment/c/s/")
    assert status(ecs, arn) == "PENDING"
    clock.sleep(ROLLOUT / 2)
    assert status(ecs, arn) == "IN_PROGRESS"
    clock.sleep(ROLLOUT)
    done = described(ecs, arn)
    assert done["status"] == "SUCCESSFUL"
    assert done["finishedAt"] - done["createdAt"] == timedelta(seconds=ROLLOUT)
    assert done["targetServiceRevision"]["runningTaskCount"] == 2
    (target,) = ecs.describe_service_revisions(
        serviceRevisionArns=[done["targetServiceRevision"]["arn"]]
    )["serviceRevisions"]
    (source,) = ecs.describe_service_revisions(
        serviceRevisionArns=[done["sourceServiceRevisions"][0]["arn"]]
    )["serviceRevisions"]
    assert target["containerImages"] == [{"containerName": "app", "image": f"{REPO}:v2"}]
    assert source["taskDefinition"] == before
    assert target["taskDefinition"] == task_definition(ecs)


def test_the_legacy_deployments_follow_the_same_rollout(clock: ManualClock) -> None:
    ecs = make_ecs(clock)
    deploy(ecs, "v2")
    (service,) = ecs.describe_services("c", ["s"])["services"]
    assert [d["rolloutState"] for d in service["deployments"]] == ["IN_PROGRESS", "COMPLETED"]
    clock.sleep(ROLLOUT)
    (service,) = ecs.describe_services("c", ["s"])["services"]
    assert [d["rolloutState"] for d in service["deployments"]] == ["COMPLETED"]


def test_list_service_deployments_is_newest_first_and_filters(clock: ManualClock) -> None:
    ecs = make_ecs(clock)
    clock.sleep(10)
    first = deploy(ecs, "v2")
    clock.sleep(ROLLOUT)
    second = deploy(ecs, "v3")
    listed = ecs.list_service_deployments(cluster="c", service="s")["serviceDeployments"]
    assert [d["serviceDeploymentArn"] for d in listed[:2]] == [second, first]
    assert len(listed) == 3  # and the service's creation
    running = ecs.list_service_deployments(cluster="c", service="s", status=["PENDING"])
    assert [d["serviceDeploymentArn"] for d in running["serviceDeployments"]] == [second]
    after = described(ecs, first)["createdAt"] + timedelta(seconds=1)
    recent = ecs.list_service_deployments(cluster="c", service="s", createdAt={"after": after})
    assert [d["serviceDeploymentArn"] for d in recent["serviceDeployments"]] == [second]
    page = ecs.list_service_deployments(cluster="c", service="s", maxResults=1)
    rest = ecs.list_service_deployments(
        cluster="c", service="s", maxResults=5, nextToken=page["nextToken"]
    )
    assert len(rest["serviceDeployments"]) == 2
    assert "nextToken" not in rest
    assert error_code(lambda: ecs.list_service_deployments(cluster="c", service="x")) == (
        "ServiceNotFoundException"
    )


# -- failures --------------------------------------------------------------------------------
def test_a_failing_rollout_is_rolled_back_by_the_circuit_breaker(clock: ManualClock) -> None:
    ecs = make_ecs(clock, rollback=True)
    before = task_definition(ecs)
    arn = deploy(ecs, "v2-fail")
    clock.sleep(ROLLOUT + 1)
    rolling = described(ecs, arn)
    assert rolling["status"] == "ROLLBACK_IN_PROGRESS"
    assert rolling["deploymentCircuitBreaker"]["status"] == "TRIGGERED"
    assert rolling["rollback"]["serviceRevisionArn"] == rolling["sourceServiceRevisions"][0]["arn"]
    assert task_definition(ecs) == before
    clock.sleep(ROLLOUT)
    assert status(ecs, arn) == "ROLLBACK_SUCCESSFUL"
    (service,) = ecs.describe_services("c", ["s"])["services"]
    assert service["currentServiceDeployment"] == arn
    assert [(d["taskDefinition"], d["rolloutState"]) for d in service["deployments"]] == [
        (before, "COMPLETED")
    ]


def test_a_failing_rollout_without_rollback_stops_and_leaves_its_tasks(
    clock: ManualClock,
) -> None:
    ecs = make_ecs(clock)
    arn = deploy(ecs, "v2-fail")
    clock.sleep(ROLLOUT + 1)
    stopped = described(ecs, arn)
    assert stopped["status"] == "STOPPED"
    assert "circuit breaker" in stopped["statusReason"]
    (service,) = ecs.describe_services("c", ["s"])["services"]
    assert service["deployments"][0]["rolloutState"] == "FAILED"
    tasks = ecs.list_tasks(cluster="c", family="c-s", desiredStatus="STOPPED")["taskArns"]
    assert len(tasks) == stopped["deploymentCircuitBreaker"]["threshold"] == 3
    assert ecs.list_tasks(cluster="c", family="other", desiredStatus="STOPPED")["taskArns"] == []
    assert ecs.list_tasks(cluster="c", family="c-s")["taskArns"] == []  # none running
    found = ecs.describe_tasks(cluster="c", tasks=[*tasks, "arn:nope"])
    assert {t["stopCode"] for t in found["tasks"]} == {"EssentialContainerExited"}
    assert {t["containers"][0]["image"] for t in found["tasks"]} == {f"{REPO}:v2-fail"}
    assert found["failures"] == [{"arn": "arn:nope", "reason": "MISSING"}]


def test_stop_rolls_back_on_the_same_arn(clock: ManualClock) -> None:
    ecs = make_ecs(clock)
    before = task_definition(ecs)
    arn = deploy(ecs, "v2")
    clock.sleep(ROLLOUT / 2)
    assert ecs.stop_service_deployment(serviceDeploymentArn=arn, stopType="ROLLBACK") == {
        "serviceDeploymentArn": arn
    }
    assert status(ecs, arn) == "ROLLBACK_REQUESTED"
    assert task_definition(ecs) == before
    clock.sleep(ROLLOUT / 2)
    assert status(ecs, arn) == "ROLLBACK_IN_PROGRESS"
    clock.sleep(ROLLOUT)
    assert status(ecs, arn) == "ROLLBACK_SUCCESSFUL"
    listed = ecs.list_service_deployments(cluster="c", service="s")["serviceDeployments"]
    assert listed[0]["serviceDeploymentArn"] == arn  # no new service deployment
    again = lambda: ecs.stop_service_deployment(serviceDeploymentArn=arn)  # noqa: E731
    assert error_code(again) == "ConflictException"
    missing = lambda: ecs.stop_service_deployment(serviceDeploymentArn=arn + "x")  # noqa: E731
    assert error_code(missing) == "ServiceDeploymentNotFoundException"


def test_a_newer_deployment_stops_an_unfinished_older_one(clock: ManualClock) -> None:
    ecs = make_ecs(clock)
    first = deploy(ecs, "v2")
    clock.sleep(ROLLOUT / 2)
    second = deploy(ecs, "v3")
    assert status(ecs, first) == "STOPPED"
    assert status(ecs, second) == "PENDING"
    clock.sleep(ROLLOUT)
    assert (status(ecs, first), status(ecs, second)) == ("STOPPED", "SUCCESSFUL")
    third = deploy(ecs, "v4")
    assert (status(ecs, second), status(ecs, third)) == ("SUCCESSFUL", "PENDING")


# -- limits ----------------------------------------------------------------------------------
def test_describe_takes_at_most_20_arns_and_reports_unknown_ones(clock: ManualClock) -> None:
    ecs = make_ecs(clock)
    arn = deploy(ecs, "v2")
    unknown = [f"{arn[:-3]}x{i:02d}" for i in range(19)]
    found = ecs.describe_service_deployments(serviceDeploymentArns=[arn, *unknown])
    assert [d["serviceDeploymentArn"] for d in found["serviceDeployments"]] == [arn]
    assert found["failures"] == [{"arn": a, "reason": "MISSING"} for a in unknown]
    too_many = [arn, *unknown, arn + "y"]
    for call in (
        lambda: ecs.describe_service_deployments(serviceDeploymentArns=too_many),
        lambda: ecs.describe_service_revisions(serviceRevisionArns=too_many),
    ):
        assert error_code(call) == "InvalidParameterException"


@pytest.mark.parametrize(
    ("op", "burst", "call"),
    [
        (
            "DescribeServiceDeployments",
            50,
            lambda ecs: ecs.describe_service_deployments(serviceDeploymentArns=["a"]),
        ),
        ("ListServiceDeployments", 50, lambda ecs: ecs.list_service_deployments("s", "c")),
        (
            "DescribeServiceRevisions",
            50,
            lambda ecs: ecs.describe_service_revisions(serviceRevisionArns=["a"]),
        ),
        ("ListTasks", 50, lambda ecs: ecs.list_tasks(cluster="c", desiredStatus="STOPPED")),
        ("DescribeTasks", 50, lambda ecs: ecs.describe_tasks(cluster="c", tasks=["a"])),
        ("StopServiceDeployment", 10, lambda ecs: ecs.stop_service_deployment("nope")),
    ],
)
def test_the_new_calls_are_throttled_past_their_burst(
    clock: ManualClock, op: str, burst: int, call: Callable[[FakeEcs], object]
) -> None:
    ecs = make_ecs(clock)
    codes = []
    for _ in range(burst + 1):
        try:
            call(ecs)
            codes.append("ok")
        except ClientError as error:
            codes.append(error.response["Error"]["Code"])
    assert codes[-1] == "ThrottlingException"
    assert "ThrottlingException" not in codes[:-1]
    throttled = ecs.ledger.by_op(throttled=True)
    assert throttled == {op: 1}


# -- response shapes -------------------------------------------------------------------------
SCALARS: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "long": (int,),
    "boolean": (bool,),
    "double": (int, float),
    "float": (int, float),
    "timestamp": (datetime,),
    "blob": (bytes,),
}


def mismatches(value: Any, shape: Shape, path: str = "") -> list[str]:
    """Where `value` strays from botocore's `shape`: unknown keys, wrong types, bad enums."""
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            return [f"{path}: not a structure"]
        members = shape.members  # type: ignore[attr-defined]
        out = [f"{path}.{k}: not in {shape.name}" for k in value if k not in members]
        for k, v in value.items():
            if k in members:
                out += mismatches(v, members[k], f"{path}.{k}")
        return out
    if kind == "list":
        if not isinstance(value, list):
            return [f"{path}: not a list"]
        member = shape.member  # type: ignore[attr-defined]
        return [e for i, v in enumerate(value) for e in mismatches(v, member, f"{path}[{i}]")]
    if kind == "map":
        if not isinstance(value, dict):
            return [f"{path}: not a map"]
        values = shape.value  # type: ignore[attr-defined]
        return [e for k, v in value.items() for e in mismatches(v, values, f"{path}[{k}]")]
    types = SCALARS[kind]
    if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
        return [f"{path}: {type(value).__name__} is not {kind}"]
    enum = shape.enum if kind == "string" else []  # type: ignore[attr-defined]
    return [f"{path}: {value!r} not in {shape.name}"] if enum and value not in enum else []


def test_the_shape_check_catches_a_stray_key_and_a_wrong_type() -> None:
    shape = MODEL.operation_model("StopServiceDeployment").output_shape
    assert shape is not None
    assert mismatches({"serviceDeploymentArn": "a"}, shape) == []
    assert len(mismatches({"serviceDeploymentArn": 1, "extra": True}, shape)) == 2


def test_every_response_uses_only_botocore_shapes(clock: ManualClock) -> None:
    ecs = make_ecs(clock, rollback=True)
    responses: list[tuple[str, dict[str, Any]]] = []

    def record(op: str, response: dict[str, Any]) -> dict[str, Any]:
        responses.append((op, response))
        return response

    given = {"family": "c-s", "containerDefinitions": [{"name": "app", "image": f"{REPO}:v2"}]}
    registered = record("RegisterTaskDefinition", ecs.register_task_definition(**given))
    arn = registered["taskDefinition"]["taskDefinitionArn"]
    record("DescribeTaskDefinition", ecs.describe_task_definition(arn, include=["TAGS"]))
    first = record("UpdateService", ecs.update_service("c", "s", arn))
    deployments = [first["service"]["currentServiceDeployment"]]
    clock.sleep(ROLLOUT / 2)
    record("StopServiceDeployment", ecs.stop_service_deployment(deployments[0]))
    failing = given | {"containerDefinitions": [{"name": "app", "image": f"{REPO}:v3-fail"}]}
    arn = ecs.register_task_definition(**failing)["taskDefinition"]["taskDefinitionArn"]
    deployments.append(ecs.update_service("c", "s", arn)["service"]["currentServiceDeployment"])
    for step in (0.0, 1.0, ROLLOUT / 2, ROLLOUT, ROLLOUT):  # through every status
        clock.sleep(step)
        record("DescribeServices", ecs.describe_services("c", ["s", "missing"]))
        found = record(
            "DescribeServiceDeployments",
            ecs.describe_service_deployments(serviceDeploymentArns=[*deployments, "arn:x"]),
        )
        revisions = [d["targetServiceRevision"]["arn"] for d in found["serviceDeployments"]]
        record(
            "DescribeServiceRevisions",
            ecs.describe_service_revisions(serviceRevisionArns=[*revisions, "arn:x"]),
        )
        record("ListServiceDeployments", ecs.list_service_deployments("s", "c", maxResults=2))
        tasks = record("ListTasks", ecs.list_tasks(cluster="c", desiredStatus="STOPPED"))
        if tasks["taskArns"]:
            record("DescribeTasks", ecs.describe_tasks(tasks=tasks["taskArns"], cluster="c"))
    listed = [r for op, r in responses if op == "ListServiceDeployments"]
    seen = {d["status"] for r in listed for d in r["serviceDeployments"]}
    assert {"PENDING", "IN_PROGRESS", "ROLLBACK_IN_PROGRESS", "ROLLBACK_SUCCESSFUL"} <= seen
    assert "DescribeTasks" in {op for op, _ in responses}
    for op, response in responses:
        shape = MODEL.operation_model(op).output_shape
        assert shape is not None
        assert mismatches(response, shape, op) == []


def test_after_a_rollback_the_next_deployment_starts_from_the_rolled_back_revision(
    clock: ManualClock,
) -> None:
    ecs = make_ecs(clock)
    first = deploy(ecs, "v2")
    ecs.stop_service_deployment(serviceDeploymentArn=first)
    second = deploy(ecs, "v3")
    source = described(ecs, first)["sourceServiceRevisions"][0]["arn"]
    assert described(ecs, second)["sourceServiceRevisions"][0]["arn"] == source
