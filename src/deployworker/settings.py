"""Runtime configuration, read from `DEPLOYWORKER_*` environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from deployworker.aws._ratelimit import DEFAULT_ECS_BUDGETS, Budget


class Settings(BaseSettings):
    """Everything the worker can be told; defaults suit a real AWS deployment."""

    model_config = SettingsConfigDict(env_prefix="DEPLOYWORKER_", extra="ignore")

    queue_url: str | None = Field(default=None, description="SQS FIFO work queue URL")
    dlq_url: str | None = Field(
        default=None, description="dead-letter queue URL; default: the queue's redrive policy"
    )
    region: str | None = Field(default=None, description="AWS region; default: the SDK's")
    account_id: str | None = Field(
        default=None,
        description="the account ARNs in messages must name; default: STS GetCallerIdentity's",
    )
    endpoint_url: str | None = Field(default=None, description="AWS endpoint override")
    events_topic_arn: str | None = Field(
        default=None, description="SNS topic for deploy events (ChatOps, CI); off when unset"
    )
    events_format: Literal["json", "chatbot"] = Field(
        default="json",
        description="events as deployworker's JSON, or as AWS Chatbot custom notifications",
    )
    deploy_topic_arn: str | None = Field(
        default=None,
        description="SNS FIFO topic deploys and votes are published to (the command in "
        "approval_requested names it instead of the work queue)",
    )
    ledger_table: str | None = Field(
        default=None,
        description="DynamoDB table of the deploy ledger (name or ARN); off when unset",
    )
    ledger_ttl_days: int = Field(default=90, ge=1, le=3650, description="ledger items' lifetime")
    events_queue_url: str | None = Field(
        default=None,
        description="SQS queue of ECS's EventBridge events: wakes the watcher; off when unset",
    )
    ecs_events_topic_arn: str | None = Field(
        default=None,
        description="SNS topic of ECS's EventBridge events: each replica reads them from a "
        "queue of its own it makes and subscribes at start (instead of events_queue_url)",
    )
    ecs_events_prefix: str = Field(
        default="deployworker-ecs-events",
        pattern=r"^[A-Za-z0-9_-]{1,50}$",
        description="name prefix of the replicas' own events queues",
    )
    events_safety_net_seconds: float = Field(
        default=30.0, gt=0, description="watch rounds' interval while the events queue is set"
    )
    events_wait_seconds: int = Field(default=20, ge=1, le=20)
    events_gather_seconds: float = Field(
        default=0.5, ge=0, le=10, description="events' wake-ups this close share one describe"
    )
    signing_key: SecretStr | None = Field(
        default=None, description="require HMAC-SHA256 signed messages with this key"
    )
    signing_key_secret_arn: str | None = Field(
        default=None, description="read the signing key from AWS Secrets Manager instead"
    )
    signing_key_previous: SecretStr | None = Field(
        default=None, description="a second key that also verifies, while the key rotates"
    )
    signing_max_age_seconds: float = Field(
        default=300,
        gt=0,
        le=3600,
        description="most seconds between a signature and SQS receiving the message",
    )
    tag_key: SecretStr | None = Field(
        default=None,
        description="the worker's own key for the MAC on its deployworker:* tags (never CI's)",
    )
    tag_key_secret_arn: str | None = Field(
        default=None, description="read the tag key from AWS Secrets Manager instead"
    )
    approval_proof_max_age_seconds: float = Field(
        default=300, gt=0, le=900, description="oldest caller proof an approval may carry"
    )
    allowlist_path: Path = Path("config/allowlist.yaml")
    allowlist_yaml: str | None = Field(
        default=None, description="the allowlist itself, instead of a file (no hot reload)"
    )
    allowlist_reload_seconds: float = Field(default=5.0, gt=0)

    max_in_flight: int = Field(
        default=1000, ge=1, le=10_000, description="deploys (message groups) held at once"
    )
    deploy_threads: int = Field(
        default=16, ge=1, le=256, description="threads for the active part of deploys"
    )
    resume_threads: int = Field(
        default=8, ge=1, le=256, description="threads that finish deploys after their verdicts"
    )
    receivers: int = Field(
        default=4, ge=1, le=32, description="concurrent receives while the queue has a backlog"
    )
    poll_wait_seconds: int = Field(default=20, ge=0, le=20)
    visibility_timeout: int = Field(default=60, ge=5, le=43_200)
    heartbeat_seconds: float | None = Field(
        default=None, gt=0, description="default: a third of visibility_timeout"
    )
    retry_backoff_seconds: int = Field(
        default=30, ge=0, le=43_200, description="visibility of a message whose AWS calls failed"
    )

    supersede: bool = Field(
        default=True, description="deploy only the newest of several waiting deploys of a service"
    )
    deploy_timeout_seconds: int = Field(default=900, ge=1)
    watch_interval_seconds: float = Field(default=5.0, gt=0)
    shutdown_grace_seconds: float = Field(default=10.0, ge=0)

    aws_attempts: int = Field(default=6, ge=1, le=20)
    aws_retry_max_seconds: float = Field(default=60.0, gt=0)

    non_ecr_pinning: Literal["reject", "keep"] = Field(
        default="reject",
        description="pin_digest and an image outside this account's ECR: reject, or keep the tag",
    )

    # Client-side ECS budgets (calls per second, burst); AWS's account limits are shared.
    register_rate: float = Field(default=0.98, gt=0)
    register_burst: float = Field(default=19, ge=1)
    update_rate: float = Field(default=4.0, gt=0)
    describe_rate: float = Field(default=5.0, gt=0)
    # The watcher's DescribeServiceDeployments (20 deployments a call); its cadence
    # stretches so that a round stays inside this.
    describe_deployments_rate: float = Field(default=5.0, gt=0)

    # Other accounts: how many replicas share each account's budget, and the sessions
    # the worker assumes the allowlist's roles with.
    replicas: int = Field(default=1, ge=1, description="replicas sharing each account's budget")
    assume_role_seconds: int = Field(
        default=3600,
        ge=900,
        le=43200,
        description="assumed-role session length; over 3600 is refused at start (role chaining)",
    )
    credentials_refresh_seconds: float = Field(
        default=900.0, gt=0, description="refresh assumed-role credentials this long before expiry"
    )
    session_name: str | None = Field(
        default=None, description="assumed-role session name; default: deployworker-<host>-<pid>"
    )
    # Gate analysis: Prometheus's HTTP API, with an optional bearer token or basic auth
    # (from here or, as JSON, from Secrets Manager). CloudWatch needs no setting.
    prometheus_url: str | None = Field(
        default=None, description="Prometheus base URL for gate analysis; off when unset"
    )
    prometheus_bearer_token: SecretStr | None = None
    prometheus_username: str | None = None
    prometheus_password: SecretStr | None = None
    prometheus_auth_secret_arn: str | None = Field(
        default=None, description="read Prometheus credentials from AWS Secrets Manager instead"
    )
    prometheus_timeout_seconds: float = Field(default=10.0, gt=0, le=120)

    metrics_host: str = "127.0.0.1"
    metrics_port: int = Field(default=9102, ge=0, le=65535)
    health_poll_window_seconds: float = Field(default=120.0, gt=0)
    board_enabled: bool = Field(default=True, description="serve the deploy board at /board")
    board_cache_seconds: float = Field(default=3.0, ge=0.5, le=300, description="board's cache")

    log_level: Literal["debug", "info", "warning", "error", "critical"] = Field(
        default="info", description="least severe log level written"
    )
    log_format: Literal["auto", "console", "json"] = Field(
        default="auto",
        description="console (readable, coloured), json (one object a line), or auto: "
        "console when stderr is a terminal",
    )

    # Local mode only.
    local_port: int = Field(default=4566, ge=0, le=65535)
    local_converge_seconds: float = Field(default=3.0, ge=0)
    local_fail_pattern: str = Field(default=r":.*fail", description="images whose rollout fails")
    local_hang_pattern: str = Field(default=r":.*hang", description="images that never converge")
    local_minute_seconds: float = Field(
        default=1.0, gt=0, description="real seconds one simulated minute (bakes, hooks) takes"
    )

    @field_validator("log_level", "log_format", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    def ecs_budgets(self) -> dict[str, Budget]:
        """Token-bucket budgets per ECS operation."""
        budgets = dict(DEFAULT_ECS_BUDGETS)
        budgets["RegisterTaskDefinition"] = Budget(self.register_rate, self.register_burst)
        budgets["UpdateService"] = Budget(self.update_rate, max(1.0, 2 * self.update_rate))
        budgets["DescribeServices"] = Budget(self.describe_rate, max(1.0, 2 * self.describe_rate))
        rate = self.describe_deployments_rate
        budgets["DescribeServiceDeployments"] = Budget(rate, max(1.0, 2 * rate))
        return budgets

    @property
    def watch_round_seconds(self) -> float:
        """Seconds between the watcher's rounds: with ECS's events to wake it, the
        rounds are only a safety net for a lost event."""
        if self.events_on:
            return self.events_safety_net_seconds
        return self.watch_interval_seconds

    @property
    def events_on(self) -> bool:
        """ECS's events wake the watcher: from a shared queue, or a topic fanned out."""
        return bool(self.events_queue_url or self.ecs_events_topic_arn)

    @property
    def heartbeat_interval(self) -> float:
        """Seconds between visibility extensions: well inside one visibility window."""
        return self.heartbeat_seconds or self.visibility_timeout / 3
