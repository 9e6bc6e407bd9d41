"""One simulated ECS service deployment: a state machine over a `stages` plan. No moto.

`ServiceDeployment.tick` walks the plan on the simulator's monotonic clock: PENDING,
then IN_PROGRESS through the plan's lifecycle stages, waiting at PAUSE hooks, to
SUCCESSFUL; a failing image trips the circuit breaker at SCALE_UP, an alarm image
trips the alarm during BAKE_TIME, and a hook's or the caller's ROLLBACK goes through
ROLLBACK_(REQUESTED, IN_PROGRESS, SUCCESSFUL) on the same deployment. Every call returns
the `Effect`s the moto side must apply to the service (task definition, the legacy
`deployments` array, evidence); this module never touches the service itself.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from deployworker.local.effects import (
    BREAKER_REASON,
    FAILED,
    FAILED_TASKS,
    ROLLBACK,
    ROLLED_BACK,
    STOPPED,
    SUCCEEDED,
    DeploymentConflict,
    Effect,
    Identity,
)
from deployworker.local.hooks import HookBoard
from deployworker.local.rules import ALARM, COMPLETE, FAIL, HANG
from deployworker.local.stages import Step, Timing

FINISHED = frozenset({"SUCCESSFUL", "STOPPED", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED"})
ROLLING_BACK = frozenset({"ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS"})


class ServiceDeployment:
    """A service deployment and its clock. Its attributes are read by `shapes`."""

    def __init__(
        self,
        ident: Identity,
        config: Mapping[str, Any],
        steps: list[Step],
        fate: str,
        desired: int,
        timing: Timing,
        now: datetime,
    ) -> None:
        self.ident, self.steps, self.fate, self.desired, self.timing = (
            ident,
            steps,
            fate,
            desired,
            timing,
        )
        self.config: dict[str, Any] = copy.deepcopy(dict(config))
        self.status, self.reason, self.stage = "PENDING", "", steps[0].stage if steps else None
        self.created_at = self.updated_at = now
        self.started_at: datetime | None = None
        self.finished_at: datetime | None = None
        self.stopped_at: datetime | None = None
        self.production = steps[0].production if steps else None
        self.test = steps[0].test if steps else None
        self.target_running = 0
        self.hooks = HookBoard(timing.minute_seconds)
        self.rollback: dict[str, Any] | None = None
        breaker = self.config.get("deploymentCircuitBreaker") or {}
        alarms = self.config.get("alarms") or {}
        self.breaker: dict[str, Any] = {
            "status": "MONITORING" if breaker.get("enable") else "DISABLED"
        }
        self.alarms: dict[str, Any] = {
            "status": "MONITORING" if alarms.get("enable") else "DISABLED",
            "alarmNames": list(alarms.get("alarmNames") or []),
        }
        self._index, self._entered, self._waited = 0, False, False
        self._clock: float | None = None  # when the current step's time started to run
        self._carry: float | None = None  # when the previous step's time ran out
        self._until = 0.0  # end of the current rollback phase

    @classmethod
    def completed(
        cls, ident: Identity, config: Mapping[str, Any], desired: int, now: datetime
    ) -> ServiceDeployment:
        """The deployment CreateService makes: already SUCCESSFUL."""
        done = cls(ident, config, [], COMPLETE, desired, Timing(0, 0), now)
        done.status, done.started_at, done.finished_at = "SUCCESSFUL", now, now
        done.target_running = desired
        if (config.get("strategy") or "ROLLING") != "ROLLING":
            done.production = done.test = 100.0
        done._monitoring_complete()
        return done

    @property
    def finished(self) -> bool:
        """True once the deployment can no longer change."""
        return self.status in FINISHED

    # -- the clock ------------------------------------------------------------------------
    def tick(self, mono: float, wall: datetime) -> list[Effect]:
        """Move along the plan to `mono`; returns what the service must do."""
        effects: list[Effect] = []
        if self.status == "ROLLBACK_REQUESTED" and mono >= self._until:
            self._set("ROLLBACK_IN_PROGRESS", wall)
            self._until = mono + self.timing.converge_seconds / 2
        elif self.status == "ROLLBACK_IN_PROGRESS" and mono >= self._until:
            self._set("ROLLBACK_SUCCESSFUL", wall)
            self.finished_at = wall
            effects.append(Effect(ROLLED_BACK, self.reason))
        while not self.finished and self.status not in ROLLING_BACK:
            if not self._step(mono, wall, effects):
                break
        return effects

    def _step(self, mono: float, wall: datetime, effects: list[Effect]) -> bool:
        """Advance within the current step; True when it ended and the next one is due."""
        step = self.steps[self._index]
        if not self._entered:
            self._enter(step, mono, wall)
        if self.hooks.waiting:
            for detail in self.hooks.expired(mono):
                self.updated_at = wall
                if detail["timeoutAction"] == "ROLLBACK" and self.status not in ROLLING_BACK:
                    reason = f"Lifecycle hook {detail['hookId']} timed out: rolled back."
                    effects.extend(self._roll_back(reason, mono, wall))
            if self.hooks.waiting or self.status in ROLLING_BACK:
                return False
        if self._clock is None:
            # After a hook the step starts when it was resolved; otherwise where the last ended.
            self._clock = mono if self._waited or self._carry is None else self._carry
        elapsed = mono - self._clock
        if step.progress and self.fate == HANG:
            return False
        if step.bake and self.fate == ALARM and elapsed >= step.seconds / 2:
            return self._alarm(mono, wall, effects)
        if elapsed < step.seconds:
            return False
        if step.progress:
            if self.fate == FAIL:
                return self._trip_breaker(mono, wall, effects)
            self.target_running = self.desired
            if self.fate == ALARM and not any(s.bake for s in self.steps):
                return self._alarm(mono, wall, effects)
        self._index, self._entered, self._carry = self._index + 1, False, self._clock + step.seconds
        self._clock = None
        if self._index == len(self.steps):
            self._set("SUCCESSFUL", wall)
            self.finished_at = wall
            self._monitoring_complete()
            effects.append(Effect(SUCCEEDED))
            return False
        return True

    def _enter(self, step: Step, mono: float, wall: datetime) -> None:
        self._entered = True
        self.stage, self.production, self.test = step.stage, step.production, step.test
        if step.stage is not None and self.started_at is None:
            self.started_at = wall
        self._set("PENDING" if step.stage is None else "IN_PROGRESS", wall)
        self._waited = self.hooks.open(self.config, step.hook_stage, mono, wall)

    def _trip_breaker(self, mono: float, wall: datetime, effects: list[Effect]) -> bool:
        self.breaker.update(status="TRIGGERED", failureCount=FAILED_TASKS, threshold=FAILED_TASKS)
        effects.append(Effect(FAILED, BREAKER_REASON))
        if (self.config.get("deploymentCircuitBreaker") or {}).get("rollback"):
            effects.extend(self._roll_back(BREAKER_REASON, mono, wall))
        else:
            effects.append(self._stop(BREAKER_REASON, wall))
        return False

    def _alarm(self, mono: float, wall: datetime, effects: list[Effect]) -> bool:
        config = self.config.get("alarms") or {}
        if not config.get("enable"):
            self.fate = COMPLETE  # no alarm is watched, so none can fire
            return True
        name = (config.get("alarmNames") or ["unnamed"])[0]
        self.alarms.update(status="TRIGGERED", triggeredAlarmNames=[name])
        reason = f"ECS deployment alarm: CloudWatch alarm {name} went into ALARM state."
        if config.get("rollback"):
            effects.extend(self._roll_back(reason, mono, wall))
        else:
            effects.append(self._stop(reason, wall))
        return False

    # -- calls from the API ---------------------------------------------------------------
    def continue_hook(self, hook_id: str, action: str, mono: float, wall: datetime) -> list[Effect]:
        """ContinueServiceDeployment: resolve a waiting hook with CONTINUE or ROLLBACK."""
        self.hooks.resolve(hook_id, "SUCCEEDED" if action == "CONTINUE" else "FAILED")
        self.updated_at = wall
        if action != "ROLLBACK":
            return []
        return self._roll_back(f"Lifecycle hook {hook_id} requested a rollback.", mono, wall)

    def request_rollback(self, mono: float, wall: datetime) -> list[Effect]:
        """StopServiceDeployment(ROLLBACK): roll this deployment back to its source."""
        if self.finished or self.status in ROLLING_BACK:
            raise DeploymentConflict(f"The service deployment is already {self.status}.")
        reason = "Rollback requested by StopServiceDeployment."
        return self._roll_back(reason, mono, wall, requested=True)

    def supersede(self, newer_arn: str, wall: datetime) -> None:
        """A newer deployment of the service started: this one stops where it is."""
        if not self.finished:
            self._stop(f"Stopped because a newer service deployment started: {newer_arn}", wall)

    # -- endings --------------------------------------------------------------------------
    def _roll_back(
        self, reason: str, mono: float, wall: datetime, requested: bool = False
    ) -> list[Effect]:
        source = self.ident.sources[0] if self.ident.sources else self.ident.target
        self.rollback = {"reason": reason, "startedAt": wall, "serviceRevisionArn": source}
        self._set("ROLLBACK_REQUESTED" if requested else "ROLLBACK_IN_PROGRESS", wall)
        self.reason = reason
        seconds = self.timing.unit if requested else self.timing.converge_seconds / 2
        self._until = mono + seconds
        self.hooks.drop()
        if self.production is not None:
            self.production = self.test = 0.0
        self.target_running = 0
        return [Effect(ROLLBACK, reason)]

    def _stop(self, reason: str, wall: datetime) -> Effect:
        self._set("STOPPED", wall)
        self.reason, self.stopped_at, self.finished_at = reason, wall, wall
        self.hooks.drop()
        return Effect(STOPPED, reason)

    def _monitoring_complete(self) -> None:
        for monitor in (self.breaker, self.alarms):
            if monitor["status"] == "MONITORING":
                monitor["status"] = "MONITORING_COMPLETE"

    def _set(self, status: str, wall: datetime) -> None:
        self.status, self.updated_at = status, wall
