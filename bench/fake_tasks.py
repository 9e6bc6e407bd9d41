"""The ECS fake's ListTasks and DescribeTasks, for the tasks a failing rollout stopped.

A mixin of `FakeEcs`. The fake runs no tasks: only the ones a failing rollout
loses before its circuit breaker trips are modelled, as a worker's evidence of
why it failed. They are kept by `DeploymentsApi`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bench.fake_deployments import ServiceDeployment, ServiceRevision
from bench.fake_deployments_api import name_of, paginate
from bench.fakeaws import _Fake, accounted, client_error


class TasksApi(_Fake):
    """Stopped tasks; the state is `DeploymentsApi`'s, on `FakeEcs`'s lock."""

    _service_revisions: dict[str, ServiceRevision]
    _failing: list[ServiceDeployment]
    _tasks: dict[str, tuple[ServiceDeployment, int]]

    def _stamp(self, t: float) -> datetime:
        raise NotImplementedError

    @accounted
    def list_tasks(
        self,
        cluster: str = "default",
        family: str | None = None,
        serviceName: str | None = None,
        startedBy: str | None = None,
        desiredStatus: str = "RUNNING",
        maxResults: int | None = None,
        nextToken: str | None = None,
    ) -> dict[str, Any]:
        """Stopped tasks only: the fake runs no tasks, so RUNNING lists none."""
        op = "ListTasks"
        self._enter(op)
        if not 1 <= (maxResults or 100) <= 100:
            raise client_error(op, "InvalidParameterException", "maxResults is 1 to 100.")
        now, found = self.clock.now(), []
        with self.lock:
            for sd in self._failing if desiredStatus == "STOPPED" else []:
                revision = self._service_revisions[sd.target]
                if (
                    name_of(cluster) == name_of(sd.cluster_arn)
                    and family in (None, name_of(revision.task_definition).rsplit(":", 1)[0])
                    and serviceName in (None, name_of(sd.service_arn))
                    and startedBy in (None, sd.legacy_id)
                ):
                    found += [
                        (t, task) for t, task in zip(sd.failure_times(now), sd.tasks, strict=False)
                    ]
        found.sort(reverse=True)  # the most recently stopped first
        page, token = paginate([task for _, task in found], nextToken, maxResults or 100, op)
        response: dict[str, Any] = {"taskArns": page}
        if token is not None:
            response["nextToken"] = token
        return response

    @accounted
    def describe_tasks(
        self, tasks: list[str], cluster: str = "default", include: list[str] | None = None
    ) -> dict[str, Any]:
        op = "DescribeTasks"
        self._enter(op, len(tasks))
        if not 1 <= len(tasks) <= 100:
            raise client_error(op, "InvalidParameterException", "Specify 1 to 100 tasks.")
        now, found, failures = self.clock.now(), [], []
        with self.lock:
            for arn in tasks:
                sd, i = self._tasks.get(arn, (None, 0))
                stopped = sd.failure_times(now) if sd is not None else []
                if sd is None or i >= len(stopped) or name_of(cluster) != name_of(sd.cluster_arn):
                    failures.append({"arn": arn, "reason": "MISSING"})
                else:
                    found.append(self._task(sd, arn, stopped[i]))
        return {"tasks": found, "failures": failures}

    def _task(self, sd: ServiceDeployment, arn: str, stopped: float) -> dict[str, Any]:
        revision = self._service_revisions[sd.target]
        reason = "Essential container in task exited"
        return {
            "taskArn": arn,
            "clusterArn": sd.cluster_arn,
            "taskDefinitionArn": revision.task_definition,
            "group": f"service:{name_of(sd.service_arn)}",
            "startedBy": sd.legacy_id,
            "launchType": "EC2",
            "lastStatus": "STOPPED",
            "desiredStatus": "STOPPED",
            "stopCode": "EssentialContainerExited",
            "stoppedReason": reason,
            "createdAt": self._stamp(max(sd.started, stopped - 10)),
            "stoppingAt": self._stamp(stopped),
            "stoppedAt": self._stamp(stopped),
            "containers": [
                {
                    "taskArn": arn,
                    "name": container,
                    "image": image,
                    "lastStatus": "STOPPED",
                    "exitCode": 1,
                }
                for container, image in revision.images
            ],
        }
