"""prod/web for the gate tests: a plain service, and a CANARY that pauses at a hook."""

from __future__ import annotations

from typing import Any

from conftest import REPO
from deployworker.local.seed import container_definition

HOOK_STAGE = "POST_TEST_TRAFFIC_SHIFT"


def web_service(ecs: Any, configuration: dict[str, Any] | None = None) -> str:
    """Cluster prod and service web (on prod-web, image :1.0) with this
    deploymentConfiguration; returns its task definition."""
    ecs.create_cluster(clusterName="prod")
    arn: str = ecs.register_task_definition(
        family="prod-web", containerDefinitions=[container_definition("app", f"{REPO}:1.0")]
    )["taskDefinition"]["taskDefinitionArn"]
    extra = {"deploymentConfiguration": configuration} if configuration else {}
    ecs.create_service(
        cluster="prod", serviceName="web", taskDefinition=arn, desiredCount=2, **extra
    )
    return arn


def pause_hook(
    stage: str = HOOK_STAGE, minutes: int = 10, action: str = "ROLLBACK"
) -> dict[str, Any]:
    """A PAUSE lifecycle hook at `stage`; ECS takes `action` after `minutes`."""
    timeout = {"timeoutInMinutes": minutes, "action": action}
    return {"targetType": "PAUSE", "lifecycleStages": [stage], "timeoutConfiguration": timeout}


def canary(hooks: list[dict[str, Any]]) -> dict[str, Any]:
    """A 1 % CANARY with no bake times, pausing at `hooks`."""
    return {
        "strategy": "CANARY",
        "bakeTimeInMinutes": 0,
        "canaryConfiguration": {"canaryPercent": 1.0, "canaryBakeTimeInMinutes": 0},
        "lifecycleHooks": hooks,
    }


def canary_with_pause(ecs: Any, minutes: int = 10, action: str = "ROLLBACK") -> str:
    """prod/web as a CANARY that pauses at POST_TEST_TRAFFIC_SHIFT."""
    return web_service(ecs, canary([pause_hook(HOOK_STAGE, minutes, action)]))
