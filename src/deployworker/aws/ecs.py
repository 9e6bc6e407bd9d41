"""ECS adapter: the calls a deploy needs, each retried and classified by `Caller`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Any

from botocore.model import Shape

from deployworker.aws._retry import Caller
from deployworker.aws.clients import shared_session
from deployworker.errors import NotFoundError, PermanentAwsError

MAX_DESCRIBE_SERVICES = 10
MAX_DESCRIBE_SERVICE_DEPLOYMENTS = 20
MAX_DESCRIBE_TASKS = 100
UNDESCRIBABLE = "Unable to describe task definition"


@cache
def input_shape(operation: str) -> Shape:
    """botocore's input shape for an ECS operation (loaded once, from the SDK's model)."""
    shape = shared_session().get_service_model("ecs").operation_model(operation).input_shape
    assert shape is not None
    return shape


def register_input_shape() -> Shape:
    """botocore's input shape for RegisterTaskDefinition."""
    return input_shape("RegisterTaskDefinition")


class Ecs:
    """ECS calls used by the pipeline. Holds no state besides the client."""

    def __init__(self, client: Any, caller: Caller) -> None:
        self._client = client
        self._caller = caller

    def describe_services(
        self, cluster: str, services: Sequence[str]
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Describe up to 10 services of one cluster; returns (services, failures)."""
        if len(services) > MAX_DESCRIBE_SERVICES:
            raise ValueError("DescribeServices takes at most 10 services")
        response = self._caller.call(
            "DescribeServices",
            lambda: self._client.describe_services(cluster=cluster, services=list(services)),
        )
        return list(response.get("services", [])), list(response.get("failures", []))

    def describe_service(self, cluster: str, service: str) -> dict[str, Any]:
        """Describe one ACTIVE service; raises `NotFoundError` when missing or inactive."""
        found, failures = self.describe_services(cluster, [service])
        active = [s for s in found if s.get("status") == "ACTIVE"]
        if not active:
            reason = failures[0].get("reason", "MISSING") if failures else "INACTIVE"
            raise NotFoundError("DescribeServices", reason, f"service {cluster}/{service}")
        return active[0]

    def describe_task_definition(
        self, task_definition: str
    ) -> tuple[dict[str, Any], list[dict[str, str]]]:
        """The task definition and its tags.

        Raises `NotFoundError` for a revision that does not exist or was deleted: ECS
        says so with the generic ClientException, "Unable to describe task definition".
        """
        try:
            response = self._caller.call(
                "DescribeTaskDefinition",
                lambda: self._client.describe_task_definition(
                    taskDefinition=task_definition, include=["TAGS"]
                ),
            )
        except PermanentAwsError as exc:
            if exc.code == "ClientException" and UNDESCRIBABLE in exc.message:
                raise NotFoundError(exc.operation, exc.code, exc.message) from None
            raise
        return dict(response["taskDefinition"]), list(response.get("tags") or [])

    def register_task_definition(self, register_input: dict[str, Any]) -> str:
        """Register a revision; returns its ARN."""
        response = self._caller.call(
            "RegisterTaskDefinition",
            lambda: self._client.register_task_definition(**register_input),
        )
        return str(response["taskDefinition"]["taskDefinitionArn"])

    def update_service(
        self, cluster: str, service: str, task_definition: str | None, force: bool = False
    ) -> dict[str, Any]:
        """Point the service at `task_definition` (None: keep it), changing nothing else;
        `force` starts a new deployment even when nothing changed. Returns the service."""
        kwargs: dict[str, Any] = {"cluster": cluster, "service": service}
        if task_definition is not None:
            kwargs["taskDefinition"] = task_definition
        if force:
            kwargs["forceNewDeployment"] = True
        response = self._caller.call("UpdateService", lambda: self._client.update_service(**kwargs))
        return dict(response["service"])

    def describe_service_deployments(
        self, arns: Sequence[str]
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Describe up to 20 service deployments, of any cluster; returns (found, failures)."""
        if len(arns) > MAX_DESCRIBE_SERVICE_DEPLOYMENTS:
            raise ValueError("DescribeServiceDeployments takes at most 20 ARNs")
        response = self._caller.call(
            "DescribeServiceDeployments",
            lambda: self._client.describe_service_deployments(serviceDeploymentArns=list(arns)),
        )
        return list(response.get("serviceDeployments") or []), list(response.get("failures") or [])

    def list_service_deployments(
        self, cluster: str, service: str, after: datetime | None = None, token: str | None = None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page (100) of the service's deployment briefs created at or after `after`,
        and the next page's token. ECS documents no order: see `rollout.locate`."""
        kwargs: dict[str, Any] = {"cluster": cluster, "service": service, "maxResults": 100}
        kwargs.update({"createdAt": {"after": after}} if after else {})
        kwargs.update({"nextToken": token} if token else {})
        response = self._caller.call(
            "ListServiceDeployments", lambda: self._client.list_service_deployments(**kwargs)
        )
        return list(response.get("serviceDeployments") or []), response.get("nextToken")

    def describe_service_revisions(self, arns: Sequence[str]) -> list[dict[str, Any]]:
        """Describe up to 20 service revisions (each names its task definition)."""
        if not arns:
            return []
        response = self._caller.call(
            "DescribeServiceRevisions",
            lambda: self._client.describe_service_revisions(serviceRevisionArns=list(arns)[:20]),
        )
        return list(response.get("serviceRevisions") or [])

    def stop_service_deployment(self, arn: str) -> None:
        """StopServiceDeployment(ROLLBACK): ECS's own rollback of an unfinished deployment.

        Raises `PermanentAwsError` with code ConflictException when it has finished.
        """
        self._caller.call(
            "StopServiceDeployment",
            lambda: self._client.stop_service_deployment(
                serviceDeploymentArn=arn, stopType="ROLLBACK"
            ),
        )

    def continue_service_deployment(self, arn: str, hook_id: str, action: str) -> None:
        """ContinueServiceDeployment: answer the PAUSE hook `hook_id` with CONTINUE or
        ROLLBACK. Raises `PermanentAwsError` when the hook no longer awaits an action."""
        kwargs = {"serviceDeploymentArn": arn, "hookId": hook_id, "action": action}
        call = self._client.continue_service_deployment
        self._caller.call("ContinueServiceDeployment", lambda: call(**kwargs))

    def stopped_tasks(self, cluster: str, family: str, limit: int = 3) -> list[dict[str, Any]]:
        """Up to `limit` recently stopped tasks of a task-definition family."""
        listed = self._caller.call(
            "ListTasks",
            lambda: self._client.list_tasks(
                cluster=cluster, family=family, desiredStatus="STOPPED", maxResults=limit
            ),
        )
        arns = list(listed.get("taskArns") or [])[:limit]
        if not arns:
            return []
        response = self._caller.call(
            "DescribeTasks", lambda: self._client.describe_tasks(cluster=cluster, tasks=arns)
        )
        return list(response.get("tasks") or [])

    def run_task(self, **kwargs: Any) -> dict[str, Any]:
        """RunTask one task; returns it. Raises `PermanentAwsError` on a placement failure.

        Give `clientToken`: every retry here sends the same input, so ECS starts one task;
        without it botocore makes up a new token for each attempt."""
        response = self._caller.call("RunTask", lambda: self._client.run_task(count=1, **kwargs))
        failures = response.get("failures") or []
        tasks = response.get("tasks") or []
        if not tasks:
            reason = failures[0].get("reason", "no task started") if failures else "no task started"
            raise PermanentAwsError("RunTask", "TaskNotStarted", str(reason))
        return dict(tasks[0])

    def tag_resource(self, arn: str, tags: dict[str, str]) -> None:
        """Add tags to a resource (a task definition revision)."""
        self._caller.call(
            "TagResource",
            lambda: self._client.tag_resource(
                resourceArn=arn, tags=[{"key": k, "value": v} for k, v in tags.items()]
            ),
        )

    def list_tags_for_resource(self, arn: str) -> dict[str, str]:
        """A resource's tags (a task definition revision's votes, among others)."""
        response = self._caller.call(
            "ListTagsForResource", lambda: self._client.list_tags_for_resource(resourceArn=arn)
        )
        return {str(t["key"]): str(t["value"]) for t in response.get("tags") or []}

    def tasks_started_by(self, cluster: str, started_by: str) -> list[str]:
        """ARNs of running and stopped tasks started with this `startedBy`."""
        arns: list[str] = []
        for status in ("RUNNING", "STOPPED"):
            response = self._caller.call(
                "ListTasks",
                lambda status=status: self._client.list_tasks(  # type: ignore[misc]
                    cluster=cluster, startedBy=started_by, desiredStatus=status
                ),
            )
            arns.extend(response.get("taskArns") or [])
        return arns

    def running_tasks(self, cluster: str, service: str) -> list[dict[str, Any]]:
        """The service's RUNNING tasks, described (first 100)."""
        listed = self._caller.call(
            "ListTasks",
            lambda: self._client.list_tasks(
                cluster=cluster, serviceName=service, desiredStatus="RUNNING"
            ),
        )
        arns = list(listed.get("taskArns") or [])[:MAX_DESCRIBE_TASKS]
        if not arns:
            return []
        response = self._caller.call(
            "DescribeTasks", lambda: self._client.describe_tasks(cluster=cluster, tasks=arns)
        )
        return list(response.get("tasks") or [])

    def describe_task(self, cluster: str, task_arn: str) -> dict[str, Any]:
        """One task, as DescribeTasks returns it."""
        response = self._caller.call(
            "DescribeTasks", lambda: self._client.describe_tasks(cluster=cluster, tasks=[task_arn])
        )
        tasks = response.get("tasks") or []
        if not tasks:
            raise NotFoundError("DescribeTasks", "MISSING", task_arn)
        return dict(tasks[0])

    def stop_task(self, cluster: str, task_arn: str, reason: str) -> None:
        """Stop a task (a migration past its timeout)."""
        self._caller.call(
            "StopTask",
            lambda: self._client.stop_task(cluster=cluster, task=task_arn, reason=reason[:255]),
        )
