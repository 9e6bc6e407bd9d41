"""Stage 1, parse: a raw SQS body becomes a validated `DeployRequest`, or a `Rejection`.

Pure: no I/O. Handles the SNS notification envelope (when raw delivery is off),
rejects unknown fields by name, and validates names, ARNs and image references
before anything downstream sees them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from deployworker.errors import invalid
from deployworker.imageref import ImageRef, parse_image

MAX_BODY_BYTES = 256 * 1024
MAX_NESTING = 8

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


class DeployRequest(BaseModel):
    """Deploy message, version 1 (see the product brief for the contract)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    version: Literal[1] = 1
    cluster: str = Field(min_length=1, max_length=2048)
    service: str = Field(min_length=1, max_length=2048)
    container: str | None = None
    image: str | None = None
    images: dict[str, str] | None = None
    deploy_id: str | None = None
    source: Source | None = None
    action: Literal["deploy", "rollback"] = "deploy"

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

    @field_validator("deploy_id")
    @classmethod
    def _check_deploy_id(cls, value: str | None) -> str | None:
        if value is not None and not _DEPLOY_ID.fullmatch(value):
            raise ValueError(
                "deploy_id must be 1-128 characters of letters, digits and ._:/@+=- "
                "and start with a letter or digit"
            )
        return value

    @model_validator(mode="after")
    def _check_targets(self) -> DeployRequest:
        single = self.container is not None or self.image is not None
        if self.action == "rollback":
            if single or self.images is not None:
                raise ValueError("a rollback names no container, image or images")
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


def _depth(value: Any, limit: int) -> int:
    """Nesting depth of a decoded JSON value, stopping early past `limit`."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    deepest = 0
    while stack:
        node, level = stack.pop()
        deepest = max(deepest, level)
        if deepest > limit:
            return deepest
        if isinstance(node, dict):
            stack.extend((child, level + 1) for child in node.values())
        elif isinstance(node, list):
            stack.extend((child, level + 1) for child in node)
    return deepest


def _decode(text: str, what: str) -> Any:
    try:
        value = json.loads(text)
    except RecursionError:
        raise invalid(f"{what} is nested too deeply") from None
    except json.JSONDecodeError as exc:
        raise invalid(
            f"{what} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    if _depth(value, MAX_NESTING) > MAX_NESTING:
        raise invalid(f"{what} is nested deeper than {MAX_NESTING} levels")
    return value


def _is_envelope(document: Any) -> bool:
    return isinstance(document, dict) and "Type" in document and "TopicArn" in document


@dataclass(frozen=True)
class Unwrapped:
    """The deploy message text, the SNS message attributes that came with it, and
    whether it arrived in an SNS envelope."""

    text: str
    attributes: dict[str, str]
    enveloped: bool


def unwrap(body: str) -> Unwrapped:
    """Take the deploy message out of an SNS notification envelope, if it is in one.

    Raises `Rejection` for an oversized body or a broken envelope.
    """
    if len(body.encode("utf-8", errors="replace")) > MAX_BODY_BYTES:
        raise invalid(f"message body is larger than {MAX_BODY_BYTES} bytes")
    if '"TopicArn"' not in body:  # cheap test first: most bodies are raw
        return Unwrapped(body, {}, False)
    document = _decode(body, "message body")
    if not _is_envelope(document):
        return Unwrapped(body, {}, False)
    message = document.get("Message")
    if document.get("Type") != "Notification" or not isinstance(message, str):
        raise invalid("SNS envelope has no string 'Message' (or its Type is not 'Notification')")
    raw_attributes = document.get("MessageAttributes")
    attributes = {
        str(name): str(value.get("Value", ""))
        for name, value in (raw_attributes if isinstance(raw_attributes, dict) else {}).items()
        if isinstance(value, dict)
    }
    return Unwrapped(message, attributes, True)


def _describe(error: ValidationError) -> str:
    parts = []
    for item in error.errors(include_url=False, include_input=False):
        where = ".".join(str(p) for p in item["loc"]) or "message"
        if item["type"] == "extra_forbidden":
            parts.append(f"unknown field {where!r}")
        else:
            message = item["msg"].removeprefix("Value error, ")
            parts.append(f"{where}: {message}")
    return "; ".join(parts)


def parse_message(body: str) -> DeployRequest:
    """Parse an SQS message body (raw or SNS-wrapped) into a `DeployRequest`.

    Raises `Rejection` (kind `invalid`) naming every problem found; raises nothing else.
    """
    return parse_request(unwrap(body))


def parse_request(unwrapped: Unwrapped) -> DeployRequest:
    """Parse an unwrapped deploy message. Raises `Rejection` (kind `invalid`) only."""
    what = "SNS envelope's Message" if unwrapped.enveloped else "message body"
    document = _decode(unwrapped.text, what)
    if not isinstance(document, dict):
        raise invalid(f"message body must be a JSON object, not {type(document).__name__}")
    try:
        return DeployRequest.model_validate(document)
    except ValidationError as exc:
        raise invalid(_describe(exc)) from None
    except (ValueError, TypeError, RecursionError) as exc:
        raise invalid(f"message could not be validated: {exc}") from None
