"""How long a rollout may take, from the service's own deployment configuration (pure).

A LINEAR deployment with ECS's defaults shifts 10 % every 6 minutes and then bakes:
about an hour. A deadline shorter than what the strategy itself needs would roll
back healthy deploys, so the configured timeout is only ever raised to the
strategy's minimum, never used below it. Minutes here are real minutes: ECS's
settings are in minutes and mean them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

MINUTE = 60.0
# Scale-up, the traffic shifts themselves and clean-up, around the bakes.
WORK_MARGIN = 600.0
# Time around a PAUSE hook: the stage's own work before and after the wait.
HOOK_MARGIN = 300.0
# ECS's defaults (botocore 1.44's model documentation).
LINEAR_STEP_PERCENT = 10.0
LINEAR_STEP_BAKE_MINUTES = 6
CANARY_BAKE_MINUTES = 10
HOOK_TIMEOUT_MINUTES = 1440


@dataclass(frozen=True, slots=True)
class Minimum:
    """The least time a rollout of this configuration needs, and what it is made of."""

    seconds: float
    parts: dict[str, float] = field(default_factory=dict)


def _minutes(value: Any, default: float) -> float:
    return float(default if value is None else value)


def pause_hooks(configuration: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The configuration's lifecycle hooks that pause the deployment."""
    hooks = configuration.get("lifecycleHooks") or []
    return [h for h in hooks if h.get("targetType") == "PAUSE"]


def traffic_steps(configuration: Mapping[str, Any]) -> int:
    """How many production traffic steps the strategy takes: LINEAR's steps to 100 %,
    CANARY's two (the canary, then the rest), one otherwise."""
    strategy = str(configuration.get("strategy") or "ROLLING")
    if strategy == "LINEAR":
        linear = configuration.get("linearConfiguration") or {}
        step = _minutes(linear.get("stepPercent"), LINEAR_STEP_PERCENT)
        return math.ceil(100.0 / step - 1e-9) if step > 0 else 1
    return 2 if strategy == "CANARY" else 1


def pauses(configuration: Mapping[str, Any], stage: str) -> int:
    """How many times a PAUSE hook at `stage` waits in one deployment: once, except at
    PRE_PRODUCTION_TRAFFIC_SHIFT, which waits before every traffic step (botocore 1.44,
    DeploymentLifecycleHook.lifecycleStages: "For linear and canary deployments, this
    stage is invoked before every traffic shift step")."""
    return traffic_steps(configuration) if stage == "PRE_PRODUCTION_TRAFFIC_SHIFT" else 1


def minimum(configuration: Mapping[str, Any] | None) -> Minimum:
    """What `deploymentConfiguration` needs: bake time, linear steps times step bake,
    canary bake, and each PAUSE hook's timeout plus a margin, as many times as it can
    wait (`pauses`). ROLLING with no hooks needs nothing beyond the configured timeout."""
    config = configuration or {}
    strategy = str(config.get("strategy") or "ROLLING")
    parts: dict[str, float] = {}
    if strategy != "ROLLING":
        parts["bake_time"] = _minutes(config.get("bakeTimeInMinutes"), 0) * MINUTE
    if strategy == "LINEAR":
        linear = config.get("linearConfiguration") or {}
        bake = _minutes(linear.get("stepBakeTimeInMinutes"), LINEAR_STEP_BAKE_MINUTES)
        # No bake after the step that reaches 100 %.
        parts["linear_steps"] = max(0, traffic_steps(config) - 1) * bake * MINUTE
    if strategy == "CANARY":
        canary = config.get("canaryConfiguration") or {}
        bake = _minutes(canary.get("canaryBakeTimeInMinutes"), CANARY_BAKE_MINUTES)
        parts["canary_bake"] = bake * MINUTE
    for index, hook in enumerate(pause_hooks(config)):
        timeout = (hook.get("timeoutConfiguration") or {}).get("timeoutInMinutes")
        seconds = _minutes(timeout, HOOK_TIMEOUT_MINUTES) * MINUTE + HOOK_MARGIN
        for stage in hook.get("lifecycleStages") or [str(index)]:
            times = pauses(config, stage)
            key = f"pause_hook[{stage}]" + (f" x{times}" if times > 1 else "")
            parts[key] = parts.get(key, 0.0) + seconds * times
    if any(parts.values()):
        parts["margin"] = WORK_MARGIN
    return Minimum(sum(parts.values()), {k: v for k, v in parts.items() if v})


def effective_timeout(configured: float, configuration: Mapping[str, Any] | None) -> float:
    """The deadline a deploy gets: the configured timeout, raised to the minimum."""
    return max(configured, minimum(configuration).seconds)
