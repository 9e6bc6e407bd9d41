"""The vocabulary between a simulated service deployment and the moto side. No moto.

A `ServiceDeployment` never touches moto's service; it returns `Effect`s, which the
backend patch applies to the service: its task definition, the legacy `deployments`
array, stopped tasks and service events. The two exceptions are the API errors a
deployment can raise, which the response handlers turn into ECS's error codes.
"""

from __future__ import annotations

from dataclasses import dataclass

# Effect kinds.
FAILED = "failed"  # the target's tasks exited: leave stopped tasks and events behind
ROLLBACK = "rollback"  # put the service back on the source revision
ROLLED_BACK = "rolled_back"  # the source revision runs again
STOPPED = "stopped"  # the deployment ended without reaching its target, nor rolling back
SUCCEEDED = "succeeded"  # the target revision runs

FAILED_TASKS = 2  # tasks of the failing revision that start and exit before the breaker trips
BREAKER_REASON = "ECS deployment circuit breaker: tasks failed to start."


class DeploymentConflict(Exception):
    """The deployment cannot do that in its state (ECS's ConflictException)."""


class UnknownHook(Exception):
    """No hook with that id is waiting (ECS's InvalidParameterException)."""


@dataclass(frozen=True)
class Effect:
    """Something the moto side must do to the service."""

    kind: str
    reason: str = ""


@dataclass(frozen=True)
class Identity:
    """A deployment's ARNs: its own, its service's, its cluster's and its revisions'."""

    arn: str
    service_arn: str
    cluster_arn: str
    target: str
    sources: tuple[str, ...]
