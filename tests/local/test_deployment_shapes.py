"""The simulator's ECS responses against botocore's model, key by key.

boto3 drops keys its model does not know when it parses a response, so the raw JSON
body is captured before parsing (botocore's `before-parse` event) and walked against
the operation's output shape: every key a member, every enum value valid, every type
right. The new operations' handlers must also read only the request parameters
botocore defines for them, and all of them.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import botocore.session

from conftest import REPO, World
from deployworker.local import handlers
from deployworker.local.simulator import Rules

MODEL = botocore.session.get_session().get_service_model("ecs")
CHECKED = {
    "CreateService",
    "UpdateService",
    "DescribeServices",
    "DescribeServiceDeployments",
    "ListServiceDeployments",
    "DescribeServiceRevisions",
    "StopServiceDeployment",
    "ContinueServiceDeployment",
}
NEW = {
    "describe_service_deployments": "DescribeServiceDeployments",
    "list_service_deployments": "ListServiceDeployments",
    "describe_service_revisions": "DescribeServiceRevisions",
    "stop_service_deployment": "StopServiceDeployment",
    "continue_service_deployment": "ContinueServiceDeployment",
}


def violations(value: Any, shape: Any, path: str) -> list[str]:
    # `shape` is a botocore Shape; its subclasses (structure, list, map) type their members.
    """Where `value` (raw JSON) departs from `shape`."""
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            return [f"{path}: {type(value).__name__}, not an object"]
        found = []
        for key, item in value.items():
            member = shape.members.get(key)
            if member is None:
                found.append(f"{path}.{key}: not a member of {shape.name}")
            else:
                found += violations(item, member, f"{path}.{key}")
        return found
    if kind == "list":
        if not isinstance(value, list):
            return [f"{path}: not a list"]
        return [
            v
            for n, item in enumerate(value)
            for v in violations(item, shape.member, f"{path}[{n}]")
        ]
    if kind == "map":
        if not isinstance(value, dict):
            return [f"{path}: not a map"]
        return [
            v for k, item in value.items() for v in violations(item, shape.value, f"{path}[{k}]")
        ]
    if kind == "string":
        if not isinstance(value, str):
            return [f"{path}: not a string"]
        enum = shape.enum
        return [f"{path}: {value!r} not in {shape.name}"] if enum and value not in enum else []
    if kind in ("integer", "long"):
        return (
            []
            if isinstance(value, int) and not isinstance(value, bool)
            else [f"{path}: not an integer"]
        )
    if kind in ("double", "float"):
        return (
            []
            if isinstance(value, (int, float)) and not isinstance(value, bool)
            else [f"{path}: not a number"]
        )
    if kind == "boolean":
        return [] if isinstance(value, bool) else [f"{path}: not a boolean"]
    if kind == "timestamp":  # JSON 1.1 sends epoch seconds
        return (
            []
            if isinstance(value, (int, float)) and not isinstance(value, bool)
            else [f"{path}: not a timestamp"]
        )
    return [f"{path}: unexpected shape type {kind}"]


def keys(value: Any) -> set[str]:
    """Every key anywhere in a JSON value."""
    if isinstance(value, dict):
        return set(value) | {k for item in value.values() for k in keys(item)}
    if isinstance(value, list):
        return {k for item in value for k in keys(item)}
    return set()


def wait(world: World, arn: str, predicate: Any) -> dict[str, Any]:
    """Wait for `predicate`, continuing every PAUSE hook on the way."""

    def answered(deployment: dict[str, Any]) -> bool:
        for detail in deployment.get("lifecycleHookDetails", []):
            if detail["status"] == "AWAITING_ACTION":
                world.ecs.continue_service_deployment(
                    serviceDeploymentArn=arn, hookId=detail["hookId"], action="CONTINUE"
                )
        return bool(predicate(deployment))

    return world.wait_deployment(arn, answered)


def test_every_response_matches_botocore_output_shapes(world: World) -> None:
    captured: list[tuple[str, Any]] = []

    def capture(response_dict: dict[str, Any], operation_model: Any, **_: Any) -> None:
        if response_dict["status_code"] == 200:
            captured.append((operation_model.name, json.loads(response_dict["body"] or b"{}")))

    world.ecs.meta.events.register("before-parse.ecs", capture)
    world.simulator.rules = Rules(converge_seconds=0.5, minute_seconds=0.05)
    hooks = [
        {
            "targetType": "PAUSE",
            "lifecycleStages": ["POST_SCALE_UP"],
            "timeoutConfiguration": {"timeoutInMinutes": 600, "action": "CONTINUE"},
        }
    ]
    world.service(
        deploymentConfiguration={
            "strategy": "LINEAR",
            "bakeTimeInMinutes": 1,
            "linearConfiguration": {"stepPercent": 50.0, "stepBakeTimeInMinutes": 1},
            "canaryConfiguration": {"canaryPercent": 5.0, "canaryBakeTimeInMinutes": 1},
            "lifecycleHooks": hooks,
            "deploymentCircuitBreaker": {"enable": True, "rollback": True},
            "alarms": {"alarmNames": ["web-5xx"], "enable": True, "rollback": True},
            "maximumPercent": 200,
            "minimumHealthyPercent": 100,
        },
        deploymentController={"type": "ECS"},
    )
    ecs = world.ecs
    # A hook waits, is continued, and the deployment shifts traffic to the end.
    arn = ecs.update_service(
        cluster="prod", service="web", taskDefinition=world.register(f"{REPO}:2")
    )["service"]["currentServiceDeployment"]
    waiting = world.wait_deployment(
        arn,
        lambda d: any(h["status"] == "AWAITING_ACTION" for h in d.get("lifecycleHookDetails", [])),
    )
    ecs.continue_service_deployment(
        serviceDeploymentArn=arn,
        hookId=waiting["lifecycleHookDetails"][0]["hookId"],
        action="CONTINUE",
    )
    wait(world, arn, lambda d: d["status"] == "SUCCESSFUL")
    # The circuit breaker, an alarm, and a requested rollback.
    for image in (f"{REPO}:3-fail", f"{REPO}:4-alarm"):
        failing = ecs.update_service(
            cluster="prod", service="web", taskDefinition=world.register(image)
        )["service"]["currentServiceDeployment"]
        wait(world, failing, lambda d: d["status"] == "ROLLBACK_SUCCESSFUL")
    stopping = ecs.update_service(
        cluster="prod", service="web", taskDefinition=world.register(f"{REPO}:5-hang")
    )["service"]["currentServiceDeployment"]
    wait(world, stopping, lambda d: d.get("lifecycleStage") == "SCALE_UP")
    ecs.stop_service_deployment(serviceDeploymentArn=stopping, stopType="ROLLBACK")
    wait(world, stopping, lambda d: d["status"] == "ROLLBACK_SUCCESSFUL")
    listed = ecs.list_service_deployments(cluster="prod", service="web", maxResults=2)
    every = [
        d["serviceDeploymentArn"]
        for d in ecs.list_service_deployments(cluster="prod", service="web")["serviceDeployments"]
    ]
    described = ecs.describe_service_deployments(
        serviceDeploymentArns=[
            *every,
            "arn:aws:ecs:eu-west-1:123456789012:service-deployment/prod/web/missing",
        ]
    )
    revisions = [d["targetServiceRevision"]["arn"] for d in described["serviceDeployments"]]
    ecs.describe_service_revisions(serviceRevisionArns=[*revisions, "missing"])
    ecs.describe_services(cluster="prod", services=["web", "missing"])
    assert listed["nextToken"]

    assert {name for name, _ in captured} >= CHECKED
    problems = [
        problem
        for name, body in captured
        if name in CHECKED
        for problem in violations(body, MODEL.operation_model(name).output_shape, name)
    ]
    assert problems == []
    # The walk saw the members it is about, so it was not vacuous.
    seen = {k for name, body in captured if name in CHECKED for k in keys(body)}
    assert seen >= {
        "currentServiceDeployment",
        "deploymentConfiguration",
        "deploymentController",
        "events",
        "lifecycleHookDetails",
        "rollback",
        "triggeredAlarmNames",
        "requestedProductionTrafficWeight",
        "sourceServiceRevisions",
        "containerImages",
        "failures",
        "nextToken",
        "lifecycleStage",
        "deploymentCircuitBreaker",
        "expiresAt",
        "timeoutAction",
        "serviceDeploymentArn",
    }


def _read_parameters(function: ast.FunctionDef) -> set[str]:
    """The request parameters a handler reads (`self._get_param("x")`, `_arns(self, "x")`)."""
    found = set()
    for node in ast.walk(function):
        if not isinstance(node, ast.Call):
            continue
        name = (
            node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        )
        strings = [
            a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)
        ]
        if name in ("_get_param", "_arns") and strings:
            found.add(strings[0])
    return found


def request_members(operation: str) -> set[str]:
    """The request parameters botocore defines for `operation`."""
    shape = MODEL.operation_model(operation).input_shape
    assert shape is not None
    return set(shape.members)


def test_handlers_read_exactly_the_request_parameters_botocore_defines() -> None:
    assert set(NEW.values()) <= set(MODEL.operation_names)
    tree = ast.parse(Path(handlers.__file__).read_text())
    functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    for action, operation in NEW.items():
        defined = request_members(operation)
        assert _read_parameters(functions[handlers.HANDLERS[action].__name__]) == defined, operation
    assert _read_parameters(functions["_create_service"]) <= request_members("CreateService")
    # The errors the handlers raise are ones botocore lists for the operations.
    stop = {e.name for e in MODEL.operation_model("StopServiceDeployment").error_shapes}
    assert {
        "ConflictException",
        "ServiceDeploymentNotFoundException",
        "InvalidParameterException",
    } <= stop
    assert handlers.ConflictException.code in stop
    assert handlers.ServiceDeploymentNotFoundException.code in stop
    continued = {e.name for e in MODEL.operation_model("ContinueServiceDeployment").error_shapes}
    assert {"ServiceDeploymentNotFoundException", "InvalidParameterException"} <= continued


def test_the_walk_finds_unknown_keys_bad_enums_and_wrong_types() -> None:
    bad = {
        "status": "DONE",
        "bogus": 1,
        "createdAt": "yesterday",
        "targetServiceRevision": {"requestedTaskCount": 1.5},
        "lifecycleHookDetails": {},
    }
    assert violations(bad, MODEL.shape_for("ServiceDeployment"), "d") == [
        "d.status: 'DONE' not in ServiceDeploymentStatus",
        "d.bogus: not a member of ServiceDeployment",
        "d.createdAt: not a timestamp",
        "d.targetServiceRevision.requestedTaskCount: not an integer",
        "d.lifecycleHookDetails: not a list",
    ]
