"""PAUSE lifecycle hooks of one simulated service deployment. No moto.

A `HookBoard` opens the hooks a stage has (AWAITING_ACTION, with an expiry on the
simulator's clock) and resolves them (SUCCEEDED, FAILED, TIMED_OUT). `active` is what
ECS reports in `lifecycleHookDetails`: only the hooks active now. botocore 1.44's
model: "The details of a deployment lifecycle hook that is active during a service
deployment" (DeploymentLifecycleHookDetail), and the ECS guide's "Lifecycle hook
details": "a lifecycleHookDetails array with the following fields for each active
hook". So a worker can never learn from this list which hooks came before, nor their
order: it must tell hooks apart by `hookId` and the deployment's `lifecycleStage`.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from deployworker.local.effects import UnknownHook
from deployworker.local.stages import hook_timeout, pause_hooks


class HookBoard:
    """The hooks of one deployment: their details and the deadlines of the waiting ones."""

    def __init__(self, minute_seconds: float) -> None:
        self._minute = minute_seconds
        self.details: list[dict[str, Any]] = []
        self._deadlines: dict[str, float] = {}  # waiting hookId -> monotonic expiry

    @property
    def active(self) -> list[dict[str, Any]]:
        """The details of the hooks waiting now (a PAUSE hook is active while it waits)."""
        return [h for h in self.details if h["hookId"] in self._deadlines]

    @property
    def waiting(self) -> list[str]:
        """Ids of the hooks still AWAITING_ACTION."""
        return list(self._deadlines)

    def open(
        self, config: Mapping[str, Any], hook_stage: str | None, mono: float, wall: datetime
    ) -> bool:
        """Open the PAUSE hooks `config` has at `hook_stage`; True if any opened."""
        hooks = pause_hooks(config, hook_stage)
        for hook in hooks:
            minutes, action = hook_timeout(hook)
            seconds = minutes * self._minute
            # Shaped like the ECS guide's example (`ecs-pause-e7tK9G_WRJqNF_EOMjz...`).
            hook_id = f"ecs-pause-{secrets.token_urlsafe(32)}"
            self._deadlines[hook_id] = mono + seconds
            self.details.append(
                {
                    "hookId": hook_id,
                    "targetType": "PAUSE",
                    "status": "AWAITING_ACTION",
                    "expiresAt": wall + timedelta(seconds=seconds),
                    "timeoutAction": action,
                }
            )
        return bool(hooks)

    def expired(self, mono: float) -> list[dict[str, Any]]:
        """Mark the hooks past their expiry TIMED_OUT; returns their details."""
        due = [hook_id for hook_id, deadline in self._deadlines.items() if mono >= deadline]
        return [self.resolve(hook_id, "TIMED_OUT") for hook_id in due]

    def resolve(self, hook_id: str, status: str) -> dict[str, Any]:
        """End a waiting hook with `status`; UnknownHook if it is not waiting."""
        if self._deadlines.pop(hook_id, None) is None:
            raise UnknownHook(hook_id)
        detail = next(h for h in self.details if h["hookId"] == hook_id)
        detail["status"] = status
        return detail

    def drop(self) -> None:
        """The deployment ended: hooks still waiting can no longer be answered."""
        for hook_id in self.waiting:
            self.resolve(hook_id, "FAILED")
