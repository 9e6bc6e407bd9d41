"""Lifecycle plans of simulated ECS service deployments, one per strategy. Pure: no moto.

A plan is the list of `Step`s a service deployment walks through: the lifecycle stage
it reports, how long the step lasts, the PAUSE hooks that fire on entering it and the
traffic weights the target revision is given meanwhile. ROLLING replaces tasks in
place (no traffic weights); BLUE_GREEN, LINEAR and CANARY start the new revision beside
the old one, shift test traffic, then production traffic (at once, in steps, or a canary
then the rest), and bake. Minutes are scaled by `Timing.minute_seconds`; stages without
a bake take a tenth of `Timing.converge_seconds` each, so a ROLLING rollout takes about
`converge_seconds`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

STRATEGIES = ("ROLLING", "BLUE_GREEN", "LINEAR", "CANARY")
ROLLING_STAGES = ("RECONCILE_SERVICE", "SCALE_UP", "CLEAN_UP")
TRAFFIC_STAGES = (
    "RECONCILE_SERVICE",
    "PRE_SCALE_UP",
    "SCALE_UP",
    "POST_SCALE_UP",
    "TEST_TRAFFIC_SHIFT",
    "POST_TEST_TRAFFIC_SHIFT",
    "PRODUCTION_TRAFFIC_SHIFT",
    "POST_PRODUCTION_TRAFFIC_SHIFT",
    "BAKE_TIME",
    "CLEAN_UP",
)
DEFAULT_STEP_PERCENT = 10.0
DEFAULT_STEP_BAKE_MINUTES = 6
DEFAULT_CANARY_PERCENT = 5.0
DEFAULT_CANARY_BAKE_MINUTES = 10
DEFAULT_BAKE_MINUTES = 0
DEFAULT_HOOK_TIMEOUT_MINUTES = 1440
DEFAULT_HOOK_ACTION = "ROLLBACK"
PRE_PRODUCTION = "PRE_PRODUCTION_TRAFFIC_SHIFT"
# botocore 1.44, DeploymentLifecycleHook.lifecycleStages: "PAUSE hooks cannot be
# configured at TEST_TRAFFIC_SHIFT or PRODUCTION_TRAFFIC_SHIFT stages. These stages are
# only valid for AWS_LAMBDA hooks."
NO_PAUSE_STAGES = ("TEST_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT")


@dataclass(frozen=True)
class Timing:
    """How long simulated things take, in real seconds."""

    converge_seconds: float
    minute_seconds: float

    @property
    def unit(self) -> float:
        """The time a stage without a bake takes."""
        return self.converge_seconds / 10


@dataclass(frozen=True)
class Step:
    """One stretch of a deployment with a constant stage and constant traffic weights."""

    stage: str | None  # None while the deployment is PENDING
    seconds: float
    hook_stage: str | None = None  # PAUSE hooks for this stage fire on entering the step
    production: float | None = None  # the target revision's requested production weight
    test: float | None = None  # ... and its requested test weight
    progress: bool = False  # the target's tasks start here: failing or hanging images stop here
    bake: bool = False  # alarms are watched here


def _number(config: Mapping[str, Any] | None, key: str, default: float) -> float:
    # An explicit 0 is a valid setting (no bake), so only a missing value takes the default.
    value = (config or {}).get(key)
    return float(default if value is None else value)


def _production_shift(strategy: str, config: Mapping[str, Any], timing: Timing) -> list[Step]:
    """The PRODUCTION_TRAFFIC_SHIFT steps: (weight, hold) pairs per strategy."""
    minute = timing.minute_seconds
    shifts: list[tuple[float, float]]
    if strategy == "LINEAR":
        linear = config.get("linearConfiguration")
        step = _number(linear, "stepPercent", DEFAULT_STEP_PERCENT)
        bake = _number(linear, "stepBakeTimeInMinutes", DEFAULT_STEP_BAKE_MINUTES) * minute
        weights: list[float] = []
        while not weights or weights[-1] < 100:
            weights.append(min(100.0, (weights[-1] if weights else 0.0) + max(step, 1.0)))
        # Each step bakes before the next one; nothing waits after the last (100 %).
        shifts = [(w, bake if w < 100 else timing.unit) for w in weights]
    elif strategy == "CANARY":
        canary = config.get("canaryConfiguration")
        percent = _number(canary, "canaryPercent", DEFAULT_CANARY_PERCENT)
        bake = _number(canary, "canaryBakeTimeInMinutes", DEFAULT_CANARY_BAKE_MINUTES) * minute
        shifts = [(percent, bake), (100.0, timing.unit)]
    else:
        shifts = [(100.0, timing.unit)]
    # botocore 1.44, DeploymentLifecycleHook.lifecycleStages: PRE_PRODUCTION_TRAFFIC_SHIFT
    # "Occurs before production traffic shift. For linear and canary deployments, this
    # stage is invoked before every traffic shift step." The first one waits in `plan`
    # (still at POST_TEST_TRAFFIC_SHIFT); each later step is preceded by its own pause,
    # reported at PRODUCTION_TRAFFIC_SHIFT with the previous step's weight.
    steps: list[Step] = []
    for index, (weight, seconds) in enumerate(shifts):
        if index:
            before = shifts[index - 1][0]
            steps.append(Step("PRODUCTION_TRAFFIC_SHIFT", 0.0, PRE_PRODUCTION, before, 100.0))
        steps.append(Step("PRODUCTION_TRAFFIC_SHIFT", seconds, None, weight, 100.0))
    return steps


def plan(config: Mapping[str, Any], timing: Timing) -> list[Step]:
    """The steps of a deployment under `config` (a deploymentConfiguration)."""
    strategy = str(config.get("strategy") or "ROLLING")
    unit = timing.unit
    if strategy not in STRATEGIES or strategy == "ROLLING":
        return [
            Step(None, unit),
            Step("RECONCILE_SERVICE", unit, "RECONCILE_SERVICE"),
            Step("SCALE_UP", 7 * unit, progress=True),
            Step("CLEAN_UP", unit),
        ]
    bake = _number(config, "bakeTimeInMinutes", DEFAULT_BAKE_MINUTES) * timing.minute_seconds
    return [
        Step(None, unit, None, 0.0, 0.0),
        Step("RECONCILE_SERVICE", unit, "RECONCILE_SERVICE", 0.0, 0.0),
        Step("PRE_SCALE_UP", unit, "PRE_SCALE_UP", 0.0, 0.0),
        Step("SCALE_UP", 2 * unit, None, 0.0, 0.0, progress=True),
        Step("POST_SCALE_UP", unit, "POST_SCALE_UP", 0.0, 0.0),
        Step("TEST_TRAFFIC_SHIFT", unit, None, 0.0, 100.0),
        Step("POST_TEST_TRAFFIC_SHIFT", unit, "POST_TEST_TRAFFIC_SHIFT", 0.0, 100.0),
        # PRE_PRODUCTION_TRAFFIC_SHIFT is a hook stage but no lifecycle stage: its hooks
        # wait while the deployment still reports the stage before it.
        Step("POST_TEST_TRAFFIC_SHIFT", 0.0, PRE_PRODUCTION, 0.0, 100.0),
        *_production_shift(strategy, config, timing),
        Step("POST_PRODUCTION_TRAFFIC_SHIFT", unit, "POST_PRODUCTION_TRAFFIC_SHIFT", 100.0, 100.0),
        Step("BAKE_TIME", bake, None, 100.0, 100.0, bake=True),
        Step("CLEAN_UP", unit, None, 100.0, 100.0),
    ]


def pause_hooks(config: Mapping[str, Any], hook_stage: str | None) -> list[Mapping[str, Any]]:
    """The PAUSE lifecycle hooks of `config` that fire at `hook_stage`."""
    if hook_stage is None:
        return []
    return [
        hook
        for hook in config.get("lifecycleHooks") or []
        if hook.get("targetType") == "PAUSE" and hook_stage in (hook.get("lifecycleStages") or [])
    ]


def hook_timeout(hook: Mapping[str, Any]) -> tuple[float, str]:
    """(minutes, action) after which a waiting hook resolves itself."""
    timeout = hook.get("timeoutConfiguration") or {}
    minutes = _number(timeout, "timeoutInMinutes", DEFAULT_HOOK_TIMEOUT_MINUTES)
    return minutes, str(timeout.get("action") or DEFAULT_HOOK_ACTION)


def refused_pause(config: Mapping[str, Any] | None) -> str | None:
    """Why ECS refuses `config`'s PAUSE hooks (one at a stage only Lambda hooks may
    use), as its InvalidParameterException says it; None when they are fine."""
    for hook in (config or {}).get("lifecycleHooks") or []:
        if hook.get("targetType") != "PAUSE":
            continue
        bad = [s for s in hook.get("lifecycleStages") or [] if s in NO_PAUSE_STAGES]
        if bad:
            return (
                f"PAUSE hooks cannot be configured at {' or '.join(bad)}: "
                "these stages are only valid for AWS_LAMBDA hooks."
            )
    return None
