"""PAUSE lifecycle hooks of one simulated service deployment. No moto.

A `HookBoard` opens the hooks a stage has (AWAITING_ACTION, with an expiry on the
simulator's clock), resolves them (SUCCEEDED, FAILED, TIMED_OUT) and keeps every
hook's detail, oldest first, as ECS reports them in `lifecycleHookDetails`.
"""

from __future__ import annotations

import uuid
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
            hook_id = str(uuid.uuid4())
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
