"""The deploy message, version 1, as pydantic models (pure).

Names, ARNs, image references and ids are validated here, before anything
downstream sees them; unknown fields are rejected by name.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from deployworker.intake.accounts import AccountRef, RegionName
from deployworker.intake.imageref import ImageRef, parse_image

# ECS names: letters, digits, hyphens and underscores, 1..255.
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,255}$", re.ASCII)
# arn:aws:ecs:eu-west-1:123456789012:cluster/prod and .../service/prod/web (new format)
# or .../service/web (old format).
_ARN = re.compile(
    r"^arn:aws(?:-[a-z]+)*:ecs:(?P<region>[a-z0-9-]{1,32}):(?P<account>[0-9]{12}):"
    r"(?P<kind>cluster|service)/(?P<path>[A-Za-z0-9_/-]{1,511})$",
    re.ASCII,
)
# Deploy ids become tag values and log fields: keep them to a safe, printable alphabet.
_DEPLOY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@+=-]{0,127}$", re.ASCII)


class ResourceName(BaseModel):
    """A cluster or service named directly or by ARN; `name` is what ECS matches on."""

    model_config = ConfigDict(frozen=True)

    raw: str
    name: str
    cluster_in_arn: str | None = None
    region: str | None = None
    account: str | None = None


def _resource(value: str, kind: Literal["cluster", "service"]) -> ResourceName:
    if _NAME.fullmatch(value):
        return ResourceName(raw=value, name=value)
    match = _ARN.fullmatch(value)
    if match is None or match.group("kind") != kind:
        raise ValueError(f"{value!r} is neither a valid {kind} name nor a {kind} ARN")
    parts = match.group("path").split("/")
    if kind == "cluster" and len(parts) == 1 and _NAME.fullmatch(parts[0]):
        return ResourceName(
            raw=value, name=parts[0], region=match["region"], account=match["account"]
        )
    if kind == "service" and len(parts) in (1, 2) and all(_NAME.fullmatch(p) for p in parts):
        return ResourceName(
            raw=value,
            name=parts[-1],
            cluster_in_arn=parts[0] if len(parts) == 2 else None,
            region=match["region"],
            account=match["account"],
        )
    raise ValueError(f"{value!r} is not a valid {kind} ARN")


class Source(BaseModel):
    """Where a deploy came from; recorded in logs and task-definition tags."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    commit: str | None = Field(default=None, min_length=1, max_length=128)
    url: str | None = Field(default=None, min_length=1, max_length=1024)
    actor: str | None = Field(default=None, min_length=1, max_length=128)


class ServiceRef(BaseModel):
    """A service named by cluster and service name (the source of a promotion)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    cluster: str
    service: str
    account: AccountRef = None  # another account (alias or id); default: the target's
    region: RegionName = None  # another region; default: the target's

    @field_validator("cluster", "service")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if not _NAME.fullmatch(value):
            raise ValueError(f"{value!r} is not a valid ECS name")
        return value


Action = Literal["deploy", "rollback", "redeploy", "promote"]


class DeployRequest(BaseModel):
    """Deploy message, version 1 (docs/message.md is the contract)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, populate_by_name=True)

    version: Literal[1] = 1
    cluster: str = Field(min_length=1, max_length=2048)
    service: str = Field(min_length=1, max_length=2048)
    container: str | None = None
    image: str | None = None
    images: dict[str, str] | None = None
    deploy_id: str | None = None
    source: Source | None = None
    action: Action = "deploy"
    to_deploy_id: str | None = None
    to_revision: int | None = Field(default=None, ge=1)
    promote_from: ServiceRef | None = Field(default=None, alias="from")
    # The target outside home, when the names are not ARNs (see `accounts.resolve_target`).
    account: AccountRef = None
    region: RegionName = None

    @field_validator("cluster")
    @classmethod
    def _check_cluster(cls, value: str) -> str:
        _resource(value, "cluster")
        return value

    @field_validator("service")
    @classmethod
    def _check_service(cls, value: str) -> str:
        _resource(value, "service")
        return value

    @field_validator("container")
    @classmethod
    def _check_container(cls, value: str | None) -> str | None:
        if value is not None and not _NAME.fullmatch(value):
            raise ValueError(f"container name {value!r} is not a valid ECS container name")
        return value

    @field_validator("image")
    @classmethod
    def _check_image(cls, value: str | None) -> str | None:
        if value is not None:
            parse_image(value)
        return value

    @field_validator("images")
    @classmethod
    def _check_images(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        if value is None:
            return None
        if not value:
            raise ValueError("images must name at least one container")
        for container, image in value.items():
            if not _NAME.fullmatch(container):
                raise ValueError(f"container name {container!r} is not a valid ECS container name")
            parse_image(image)
        return value

    @field_validator("deploy_id", "to_deploy_id")
    @classmethod
    def _check_deploy_id(cls, value: str | None) -> str | None:
        if value is not None and not _DEPLOY_ID.fullmatch(value):
            raise ValueError(
                "deploy_id must be 1-128 characters of letters, digits and ._:/@+=- "
                "and start with a letter or digit"
            )
        # AWS reserves the prefix in every case: ECS refuses tag values that start with it.
        if value is not None and value[:4].lower() == "aws:":
            raise ValueError(f"deploy_id {value!r} starts with 'aws:', which AWS reserves")
        return value

    @model_validator(mode="after")
    def _check_targets(self) -> DeployRequest:
        single = self.container is not None or self.image is not None
        if (self.to_deploy_id or self.to_revision) and self.action != "rollback":
            raise ValueError("to_deploy_id and to_revision belong to a rollback")
        if self.to_deploy_id and self.to_revision:
            raise ValueError("give to_deploy_id or to_revision, not both")
        if (self.promote_from is not None) != (self.action == "promote"):
            raise ValueError("a promote names its source in 'from', and only a promote does")
        if self.action != "deploy":
            if single or self.images is not None:
                raise ValueError(f"a {self.action} names no container, image or images")
            return self
        if single and self.images is not None:
            raise ValueError("use either container+image or images, not both")
        if single and (self.container is None or self.image is None):
            raise ValueError("container and image must be given together")
        if not single and self.images is None:
            raise ValueError("a deploy needs container+image or images")
        cluster_of_service = self.service_ref.cluster_in_arn
        if cluster_of_service is not None and cluster_of_service != self.cluster_ref.name:
            raise ValueError(
                f"service ARN belongs to cluster {cluster_of_service!r}, "
                f"not {self.cluster_ref.name!r}"
            )
        return self

    @property
    def cluster_ref(self) -> ResourceName:
        """The cluster, parsed."""
        return _resource(self.cluster, "cluster")

    @property
    def service_ref(self) -> ResourceName:
        """The service, parsed."""
        return _resource(self.service, "service")

    @property
    def targets(self) -> dict[str, ImageRef]:
        """Container name to new image; empty for a rollback."""
        if self.images is not None:
            return {name: parse_image(image) for name, image in self.images.items()}
        if self.container is not None and self.image is not None:
            return {self.container: parse_image(self.image)}
        return {}
