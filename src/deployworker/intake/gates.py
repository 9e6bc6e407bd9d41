"""The allowlist's `gates`: where a deploy stops to be judged, and by what (pure).

A gate sits at a lifecycle stage where the service has a PAUSE hook, or at
`converged` (a verification after the rollout, for every strategy). It holds metric
analysis (Argo Rollouts' model: `count` measurements `interval` apart, each inside
[min, max], at most `failure_limit` failures) and an optional human approval. The
models only describe; judging and measuring live in `rollout/`.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema

from deployworker.intake import approvers
from deployworker.intake.approvers import ApproverKind
from deployworker.intake.fields import DurationSchema, from_file, parse_duration

CONVERGED = "converged"
GateStage = Literal[
    "RECONCILE_SERVICE",
    "PRE_SCALE_UP",
    "POST_SCALE_UP",
    "POST_TEST_TRAFFIC_SHIFT",
    "PRE_PRODUCTION_TRAFFIC_SHIFT",
    "POST_PRODUCTION_TRAFFIC_SHIFT",
    "converged",
]
# botocore 1.44, DeploymentLifecycleHook.lifecycleStages: "PAUSE hooks cannot be
# configured at TEST_TRAFFIC_SHIFT or PRODUCTION_TRAFFIC_SHIFT stages. These stages are
# only valid for AWS_LAMBDA hooks." A gate there would never run: ECS refuses the hook.
NO_PAUSE_STAGES = ("TEST_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT")
# ECS's `DeploymentLifecycleHookStage` (botocore 1.44) where a PAUSE hook can wait.
HOOK_STAGES: tuple[str, ...] = tuple(s for s in get_args(GateStage) if s != CONVERGED)
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/[\w+=,.@/-]{1,512}$")
# GetMetricData periods: 1, 5, 10, 30 (high resolution) or a multiple of 60 seconds.
_HIGH_RESOLUTION = (1, 5, 10, 30)


class CloudWatchMetric(BaseModel):
    """One CloudWatch metric statistic, read with GetMetricData."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    namespace: str = Field(min_length=1)
    metric: str = Field(min_length=1)
    dimensions: dict[str, str] = Field(default_factory=dict)
    stat: str = "Average"
    period: int = 60

    @field_validator("period")
    @classmethod
    def _check_period(cls, value: int) -> int:
        if value not in _HIGH_RESOLUTION and (value < 60 or value % 60):
            raise ValueError(f"period {value}: use 1, 5, 10, 30 or a multiple of 60 seconds")
        return value


class Metric(BaseModel):
    """One analysis metric: exactly one provider, and a range for numeric providers."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    prometheus: str | None = Field(default=None, min_length=1)
    cloudwatch: CloudWatchMetric | None = None
    cloudwatch_alarms: tuple[str, ...] | None = Field(default=None, min_length=1)
    min: float | None = None
    max: float | None = None
    interval: Annotated[int, DurationSchema] = 30
    count: int = Field(default=1, ge=1, le=1000)
    failure_limit: int = Field(default=0, ge=0)

    @field_validator("interval", mode="before")
    @classmethod
    def _check_interval(cls, value: Any, info: ValidationInfo) -> int:
        return parse_duration(value, "interval", most=3600, bare=not from_file(info))

    @model_validator(mode="after")
    def _one_provider_and_a_range(self) -> Metric:
        providers = [
            p for p in ("prometheus", "cloudwatch", "cloudwatch_alarms") if getattr(self, p)
        ]
        if len(providers) != 1:
            found = ", ".join(providers) or "none"
            raise ValueError(
                f"metric {self.name!r} needs exactly one of prometheus, cloudwatch, "
                f"cloudwatch_alarms (found {found})"
            )
        ranged = self.min is not None or self.max is not None
        if self.cloudwatch_alarms is not None and ranged:
            raise ValueError(f"metric {self.name!r}: cloudwatch_alarms takes no min or max")
        if self.cloudwatch_alarms is None and not ranged:
            raise ValueError(f"metric {self.name!r} needs min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"metric {self.name!r}: min {self.min} is above max {self.max}")
        if self.failure_limit >= self.count:
            raise ValueError(
                f"metric {self.name!r}: failure_limit {self.failure_limit} tolerates every one "
                f"of its {self.count} measurements, so it could never fail"
            )
        return self

    @property
    def seconds(self) -> int:
        """How long its measurements take: the first at once, then one per interval."""
        return (self.count - 1) * self.interval


class Approval(BaseModel):
    """A human approval: `required` distinct people from the listed roles, each person
    as AWS vouches for it (`approvers`: kind `sso` or `role`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    approvers: Annotated[tuple[str, ...], WithJsonSchema(approvers.ENTRIES_SCHEMA)]
    kinds: SkipJsonSchema[tuple[ApproverKind, ...]] = ()  # each approver's, from its entry
    required: int = Field(default=1, ge=1)
    timeout: Annotated[int, DurationSchema] = 3600

    @model_validator(mode="before")
    @classmethod
    def _entries(cls, data: Any) -> Any:
        if isinstance(data, dict) and "approvers" in data:
            if "kinds" in data:
                raise ValueError("give each approver's kind in its entry: {role: ..., kind: ...}")
            arns, kinds = approvers.split(data["approvers"])
            return {**data, "approvers": arns, "kinds": kinds}
        return data

    @model_validator(mode="after")
    def _people(self) -> Approval:
        found = approvers.problems(self.approvers, self.kinds, self.required)
        if found:
            raise ValueError("; ".join(found))
        return self

    def kind_of(self, arn: str) -> ApproverKind:
        """The kind of the listed approver `arn`."""
        return dict(zip(self.approvers, self.kinds, strict=True)).get(arn, "role")

    @field_validator("approvers")
    @classmethod
    def _check_approvers(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("an approval needs at least one approver (an IAM role ARN)")
        for arn in value:
            if not _ROLE_ARN.fullmatch(arn):
                raise ValueError(f"approver {arn!r} is not an IAM role ARN")
        return value

    @field_validator("timeout", mode="before")
    @classmethod
    def _check_timeout(cls, value: Any, info: ValidationInfo) -> int:
        return parse_duration(value, "approval.timeout", bare=not from_file(info))


class Gate(BaseModel):
    """One gate: where it sits, its analysis, its approval, and what ends it early."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    at: GateStage
    analysis: tuple[Metric, ...] = ()
    approval: Approval | None = None
    on_timeout: Literal["rollback", "continue"] = "rollback"
    on_inconclusive: Literal["approval", "rollback", "continue"] = "approval"

    @field_validator("at", mode="before")
    @classmethod
    def _check_at(cls, value: Any) -> Any:
        if value in NO_PAUSE_STAGES:
            raise ValueError(
                f"a gate cannot sit at {value}: ECS refuses PAUSE hooks there (only AWS_LAMBDA "
                "hooks may run at TEST_TRAFFIC_SHIFT or PRODUCTION_TRAFFIC_SHIFT); use "
                "POST_TEST_TRAFFIC_SHIFT or PRE_PRODUCTION_TRAFFIC_SHIFT, which runs before "
                "every traffic step"
            )
        return value

    @model_validator(mode="after")
    def _judges_something(self) -> Gate:
        if not self.analysis and self.approval is None:
            raise ValueError(f"gate at {self.at} has neither analysis nor approval")
        names = [m.name for m in self.analysis]
        if len(names) != len(set(names)):
            raise ValueError(f"gate at {self.at}: metric names must be unique")
        return self

    @property
    def seconds(self) -> int:
        """The longest this gate can hold the deploy: its analysis, then its approval."""
        analysis = max((m.seconds for m in self.analysis), default=0)
        return analysis + (self.approval.timeout if self.approval is not None else 0)


def gates_seconds(gates: tuple[Gate, ...]) -> int:
    """The longest a deploy's gates can hold it, all of them taken in turn."""
    return sum(g.seconds for g in gates)


def check_unique(gates: tuple[Gate, ...]) -> None:
    """Raises ValueError when two gates sit at one stage."""
    stages = [g.at for g in gates]
    for stage in sorted(set(stages)):
        if stages.count(stage) > 1:
            raise ValueError(f"two gates sit at {stage}; merge them into one")
