"""ECS's service-deployment API, added to moto's ECS response class.

moto dispatches an action to the method of `EC2ContainerServiceResponse` named by its
snake_case name and serialises the result with botocore's output shape. `install`
adds DescribeServiceDeployments, ListServiceDeployments, DescribeServiceRevisions,
StopServiceDeployment and ContinueServiceDeployment, and wraps CreateService, whose
moto handler drops `deploymentConfiguration`, to keep it and record the service's
first revision and deployment. Errors are the ones botocore lists for each operation.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, cast

from moto.core.responses import ActionResult
from moto.core.utils import utcnow
from moto.ecs.exceptions import ECSException, InvalidParameterException
from moto.ecs.responses import EC2ContainerServiceResponse

from deployworker.local import backend, shapes
from deployworker.local.effects import DeploymentConflict, UnknownHook
from deployworker.local.stages import refused_pause
from deployworker.local.store import LOCK, Tracked, store

MAX_ARNS = 20  # DescribeServiceDeployments and DescribeServiceRevisions take at most 20
DEFAULT_CONFIGURATION: dict[str, Any] = {
    "deploymentCircuitBreaker": {"enable": False, "rollback": False},
    "maximumPercent": 200,
    "minimumHealthyPercent": 100,
}


class ServiceDeploymentNotFoundException(ECSException):  # type: ignore[misc]  # moto is untyped
    """No service deployment has that ARN."""

    code = "ServiceDeploymentNotFoundException"


class ConflictException(ECSException):  # type: ignore[misc]  # moto is untyped
    """The service deployment has finished, so it cannot be stopped."""

    code = "ConflictException"


def _refuse_pause_stages(self: Any) -> None:
    """ECS refuses a PAUSE hook at a stage only Lambda hooks may use (`refused_pause`)."""
    reason = refused_pause(self._get_param("deploymentConfiguration"))
    if reason is not None:
        raise InvalidParameterException(reason)


def _update_service(self: Any) -> ActionResult:
    _refuse_pause_stages(self)
    return _ORIGINAL_UPDATE(self)


def _create_service(self: Any) -> ActionResult:
    _refuse_pause_stages(self)
    result = _ORIGINAL_CREATE(self)
    service = cast(dict[str, Any], result.result)["service"]
    with LOCK:
        configuration = copy.deepcopy(DEFAULT_CONFIGURATION)
        if backend.controller(service) == "ECS":
            configuration["strategy"] = "ROLLING"
        configuration.update(self._get_param("deploymentConfiguration") or {})
        service.deployment_configuration = configuration
        backend.on_create(self.ecs_backend, service)
    return result


def _arns(self: Any, name: str) -> list[str]:
    arns = [str(a) for a in self._get_param(name) or []]
    if len(arns) > MAX_ARNS:
        raise InvalidParameterException(f"{name} can have at most {MAX_ARNS} items.")
    return arns


def _describe_service_deployments(self: Any) -> ActionResult:
    arns = _arns(self, "serviceDeploymentArns")
    with LOCK:
        found = store(self.ecs_backend).deployments
        deployments = [shapes.deployment(found[a].deployment) for a in arns if a in found]
    failures = [{"arn": a, "reason": "MISSING"} for a in arns if a not in found]
    return ActionResult({"serviceDeployments": deployments, "failures": failures})


def _describe_service_revisions(self: Any) -> ActionResult:
    arns = _arns(self, "serviceRevisionArns")
    with LOCK:
        found = store(self.ecs_backend).revisions
        revisions = [copy.deepcopy(found[a]) for a in arns if a in found]
    failures = [{"arn": a, "reason": "MISSING"} for a in arns if a not in found]
    return ActionResult({"serviceRevisions": revisions, "failures": failures})


def _utc(value: datetime) -> datetime:
    # moto keeps naive UTC datetimes; a filter may arrive aware. Clients see milliseconds,
    # so a deployment's own createdAt must match it as a bound.
    value = value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def _list_service_deployments(self: Any) -> ActionResult:
    statuses = self._get_param("status") or []
    created = self._get_param("createdAt") or {}
    limit = int(self._get_param("maxResults") or 20)
    token = str(self._get_param("nextToken") or "0")
    if not 1 <= limit <= 100 or not token.isdigit():
        raise InvalidParameterException("maxResults must be 1-100 and nextToken one we gave.")
    after, before = created.get("after"), created.get("before")
    with LOCK:
        service = self.ecs_backend._get_service(
            self._get_param("cluster") or "default", self._get_param("service")
        )
        # Oldest first: ECS's API reference documents no order for ListServiceDeployments,
        # so local mode lists in the order least like "newest first", which a caller
        # reading one page and trusting its order would get wrong.
        picked = [
            shapes.brief(t.deployment)
            for t in reversed(store(self.ecs_backend).of_service(service.arn))
            if (not statuses or t.deployment.status in statuses)
            and (after is None or _utc(t.deployment.created_at) >= _utc(after))
            and (before is None or _utc(t.deployment.created_at) <= _utc(before))
        ]
    start = int(token)
    result: dict[str, Any] = {"serviceDeployments": picked[start : start + limit]}
    if start + limit < len(picked):
        result["nextToken"] = str(start + limit)
    return ActionResult(result)


def _tracked(self: Any, arn: str) -> Tracked:
    found = store(self.ecs_backend).deployments.get(arn)
    if found is None:
        raise ServiceDeploymentNotFoundException(f"Service deployment {arn} was not found.")
    return found


def _stop_service_deployment(self: Any) -> ActionResult:
    arn = str(self._get_param("serviceDeploymentArn"))
    if (self._get_param("stopType") or "ROLLBACK") != "ROLLBACK":
        raise InvalidParameterException("stopType must be ROLLBACK.")
    with LOCK:
        tracked = _tracked(self, arn)
        try:
            effects = tracked.deployment.request_rollback(backend.now(), utcnow())
        except DeploymentConflict as exc:
            raise ConflictException(str(exc)) from exc
        backend.apply(self.ecs_backend, store(self.ecs_backend), tracked, effects)
    return ActionResult({"serviceDeploymentArn": arn})


def _continue_service_deployment(self: Any) -> ActionResult:
    arn, hook_id = str(self._get_param("serviceDeploymentArn")), str(self._get_param("hookId"))
    action = str(self._get_param("action") or "CONTINUE")
    with LOCK:
        tracked = _tracked(self, arn)
        try:
            effects = tracked.deployment.continue_hook(hook_id, action, backend.now(), utcnow())
        except UnknownHook as exc:
            message = f"Lifecycle hook {hook_id} of {arn} is not awaiting action."
            raise InvalidParameterException(message) from exc
        backend.apply(self.ecs_backend, store(self.ecs_backend), tracked, effects)
    return ActionResult({"serviceDeploymentArn": arn})


_ORIGINAL_CREATE: Callable[[Any], ActionResult] = EC2ContainerServiceResponse.create_service
_ORIGINAL_UPDATE: Callable[[Any], ActionResult] = EC2ContainerServiceResponse.update_service
HANDLERS: dict[str, Callable[[Any], ActionResult]] = {
    "create_service": _create_service,
    "update_service": _update_service,
    "describe_service_deployments": _describe_service_deployments,
    "list_service_deployments": _list_service_deployments,
    "describe_service_revisions": _describe_service_revisions,
    "stop_service_deployment": _stop_service_deployment,
    "continue_service_deployment": _continue_service_deployment,
}


def install() -> None:
    """Add the handlers to moto's ECS response class."""
    for name, handler in HANDLERS.items():
        setattr(EC2ContainerServiceResponse, name, handler)


def uninstall() -> None:
    """Put moto's response class back as it was."""
    EC2ContainerServiceResponse.create_service = _ORIGINAL_CREATE
    EC2ContainerServiceResponse.update_service = _ORIGINAL_UPDATE
    for name in HANDLERS:
        if name not in ("create_service", "update_service") and name in vars(
            EC2ContainerServiceResponse
        ):
            delattr(EC2ContainerServiceResponse, name)
