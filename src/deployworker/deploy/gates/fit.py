"""Whether an entry's gates fit the service's deploymentConfiguration (pure).

A gate at a lifecycle stage needs a PAUSE hook there, or ECS never stops to be
judged; and ECS's own hook timeout applies underneath the gate, so a gate that can
wait longer than its hook is cut short by the hook's timeout action.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from deployworker.intake.budget import duration_text
from deployworker.intake.gates import CONVERGED, Gate
from deployworker.rollout.deadline import HOOK_TIMEOUT_MINUTES, pause_hooks

# Where PAUSE hooks can wait, in the order a deployment reaches them (ECS allows no
# PAUSE hook at TEST_TRAFFIC_SHIFT or PRODUCTION_TRAFFIC_SHIFT).
PAUSE_ORDER = (
    "RECONCILE_SERVICE",
    "PRE_SCALE_UP",
    "POST_SCALE_UP",
    "POST_TEST_TRAFFIC_SHIFT",
    "PRE_PRODUCTION_TRAFFIC_SHIFT",
    "POST_PRODUCTION_TRAFFIC_SHIFT",
)


def candidates(lifecycle_stage: str) -> tuple[str, ...]:
    """The hook stages a PAUSE hook waiting at `lifecycle_stage` can belong to.

    A hook's detail does not name its stage, and PRE_PRODUCTION_TRAFFIC_SHIFT is no
    lifecycle stage: its hooks wait while the deployment still reports the stage
    before (POST_TEST_TRAFFIC_SHIFT, or PRODUCTION_TRAFFIC_SHIFT before each later
    step of a LINEAR or CANARY shift)."""
    if lifecycle_stage == "POST_TEST_TRAFFIC_SHIFT":
        return ("POST_TEST_TRAFFIC_SHIFT", "PRE_PRODUCTION_TRAFFIC_SHIFT")
    if lifecycle_stage == "PRODUCTION_TRAFFIC_SHIFT":
        return ("PRE_PRODUCTION_TRAFFIC_SHIFT",)
    return (lifecycle_stage,) if lifecycle_stage in PAUSE_ORDER else ()


def gate_at(gates: tuple[Gate, ...], stage: str) -> Gate | None:
    """The gate at `stage` (a lifecycle stage or `converged`), if any."""
    return next((g for g in gates if g.at == stage), None)


def owns_every_pause(gates: tuple[Gate, ...], configuration: Mapping[str, Any] | None) -> bool:
    """Whether every PAUSE hook of the service waits at a stage the entry gates: then the
    worker answers all of them, and may continue its own rollback's hooks at once. A
    hook at an ungated stage is someone else's (a person's, another tool's)."""
    stages = {
        s for hook in pause_hooks(configuration or {}) for s in hook.get("lifecycleStages") or []
    }
    return bool(stages) and all(gate_at(gates, stage) is not None for stage in stages)


def hook_seconds(configuration: Mapping[str, Any] | None, stage: str) -> float | None:
    """The timeout of the PAUSE hook at `stage` (ECS's default 24 h when unset), or
    None when no PAUSE hook sits there."""
    found: float | None = None
    for hook in pause_hooks(configuration or {}):
        if stage in (hook.get("lifecycleStages") or []):
            minutes = (hook.get("timeoutConfiguration") or {}).get("timeoutInMinutes")
            seconds = float(HOOK_TIMEOUT_MINUTES if minutes is None else minutes) * 60
            found = seconds if found is None else min(found, seconds)
    return found


def problems(gates: tuple[Gate, ...], configuration: Mapping[str, Any] | None) -> list[str]:
    """What does not fit, one sentence each: gates at a stage without a PAUSE hook,
    and gates that can wait longer than their hook's timeout."""
    found: list[str] = []
    for gate in gates:
        if gate.at == CONVERGED:
            continue
        timeout = hook_seconds(configuration, gate.at)
        if timeout is None:
            found.append(
                f"gate at {gate.at}: the service has no PAUSE lifecycle hook at "
                f"{gate.at}, so ECS never waits there and the gate never runs"
            )
        elif gate.seconds > timeout:
            found.append(
                f"gate at {gate.at} may wait {duration_text(gate.seconds)}, longer than "
                f"its PAUSE hook's {duration_text(timeout)} timeout: ECS applies the "
                "hook's timeout action first"
            )
    return found
