"""A simulated service deployment as ECS's API shapes render it. Pure: no moto.

`deployment` gives botocore's `ServiceDeployment`, `brief` its `ServiceDeploymentBrief`.
Both are fresh dicts (deep copies) so that moto serialises them after the lock is
released without racing the simulator thread. Members that ECS leaves out while they
have no value (finishedAt, rollback, traffic weights of a ROLLING deployment) are left
out here too.
"""

from __future__ import annotations

import copy
from typing import Any

from deployworker.local.servicedeploy import ServiceDeployment


def _present(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None and v != ""}


def _target(sd: ServiceDeployment) -> dict[str, Any]:
    requested = 0 if sd.rollback is not None else sd.desired
    running = min(sd.target_running, requested)
    return _present(
        {
            "arn": sd.ident.target,
            "requestedTaskCount": requested,
            "runningTaskCount": running,
            "pendingTaskCount": requested - running,
            "requestedProductionTrafficWeight": sd.production,
            "requestedTestTrafficWeight": sd.test,
        }
    )


def _sources(sd: ServiceDeployment) -> list[dict[str, Any]]:
    # The first source is the revision the service ran (and rolls back to); later ones
    # are targets of deployments this one stopped, which get no traffic nor tasks.
    drained = sd.status == "SUCCESSFUL"
    summaries = []
    for n, arn in enumerate(sd.ident.sources):
        tasks = sd.desired if n == 0 and not drained else 0
        production = None if sd.production is None else (100.0 - sd.production if n == 0 else 0.0)
        test = None if sd.test is None else (100.0 - sd.test if n == 0 else 0.0)
        summaries.append(
            _present(
                {
                    "arn": arn,
                    "requestedTaskCount": tasks,
                    "runningTaskCount": tasks,
                    "pendingTaskCount": 0,
                    "requestedProductionTrafficWeight": production,
                    "requestedTestTrafficWeight": test,
                }
            )
        )
    return summaries


def deployment(sd: ServiceDeployment) -> dict[str, Any]:
    """botocore's ServiceDeployment."""
    return _present(
        {
            "serviceDeploymentArn": sd.ident.arn,
            "serviceArn": sd.ident.service_arn,
            "clusterArn": sd.ident.cluster_arn,
            "createdAt": sd.created_at,
            "startedAt": sd.started_at,
            "finishedAt": sd.finished_at,
            "stoppedAt": sd.stopped_at,
            "updatedAt": sd.updated_at,
            "sourceServiceRevisions": _sources(sd),
            "targetServiceRevision": _target(sd),
            "status": sd.status,
            "statusReason": sd.reason,
            "lifecycleStage": sd.stage,
            "lifecycleHookDetails": copy.deepcopy(sd.hooks.active),
            "deploymentConfiguration": copy.deepcopy(sd.config),
            "rollback": copy.deepcopy(sd.rollback),
            "deploymentCircuitBreaker": dict(sd.breaker),
            "alarms": copy.deepcopy(sd.alarms),
        }
    )


def brief(sd: ServiceDeployment) -> dict[str, Any]:
    """botocore's ServiceDeploymentBrief."""
    return _present(
        {
            "serviceDeploymentArn": sd.ident.arn,
            "serviceArn": sd.ident.service_arn,
            "clusterArn": sd.ident.cluster_arn,
            "startedAt": sd.started_at,
            "createdAt": sd.created_at,
            "finishedAt": sd.finished_at,
            "targetServiceRevisionArn": sd.ident.target,
            "status": sd.status,
            "statusReason": sd.reason,
        }
    )
