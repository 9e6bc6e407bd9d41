"""Stage 2, allowlist: the opt-in list of what may be deployed where.

Pure: `load_allowlist` takes YAML text, `decide` takes a request. Anything not
listed is denied. Errors in the file name the line they come from, because the
platform team reads them in a pull-request check.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from deployworker.errors import not_allowed
from deployworker.intake.imageref import is_repository, parse_image
from deployworker.intake.message import DeployRequest

_DURATION = re.compile(r"^(?P<value>[0-9]+)(?P<unit>s|m|h)?$")
_UNITS = {"s": 1, "m": 60, "h": 3600, None: 1}
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,255}$")


def parse_duration(value: str | int) -> int:
    """Seconds in `value`: an integer, or a string like `90`, `90s`, `15m`, `1h`."""
    if isinstance(value, int) and not isinstance(value, bool):
        seconds = value
    else:
        match = _DURATION.fullmatch(str(value))
        if match is None:
            raise ValueError(f"{value!r} is not a duration such as 90s, 15m or 1h")
        seconds = int(match["value"]) * _UNITS[match["unit"]]
    if not 1 <= seconds <= 24 * 3600:
        raise ValueError("a timeout must be between 1 second and 24 hours")
    return seconds


class Migrate(BaseModel):
    """A task run once per deploy, from the new revision, before the service moves."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    container: str
    command: tuple[str, ...] = Field(min_length=1)
    timeout: int = 600

    @field_validator("container")
    @classmethod
    def _check_container(cls, value: str) -> str:
        if not _NAME.fullmatch(value):
            raise ValueError(f"{value!r} is not a valid container name")
        return value

    @field_validator("timeout", mode="before")
    @classmethod
    def _check_timeout(cls, value: Any) -> int:
        return parse_duration(value)


class Source(BaseModel):
    """A service whose running images may be promoted to this one."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cluster: str
    service: str


class Entry(BaseModel):
    """One opted-in service and what may change in it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cluster: str
    service: str
    containers: tuple[str, ...] = Field(min_length=1)
    images: tuple[str, ...] = Field(min_length=1)
    timeout: int | None = None
    rollback: bool = True
    migrate: Migrate | None = None
    pin_digest: bool = False
    promote_from: tuple[Source, ...] = ()

    @field_validator("cluster", "service")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if not _NAME.fullmatch(value):
            raise ValueError(f"{value!r} is not a valid ECS name (use the name, not an ARN)")
        return value

    @field_validator("containers")
    @classmethod
    def _check_containers(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for name in value:
            if not _NAME.fullmatch(name):
                raise ValueError(f"{name!r} is not a valid container name")
        return value

    @field_validator("images")
    @classmethod
    def _check_images(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for repository in value:
            if not is_repository(repository):
                raise ValueError(
                    f"{repository!r} is not a repository (give it without a tag or digest)"
                )
        return value

    @field_validator("timeout", mode="before")
    @classmethod
    def _check_timeout(cls, value: Any) -> int | None:
        return None if value is None else parse_duration(value)

    @model_validator(mode="after")
    def _migrate_container_is_listed(self) -> Entry:
        if self.migrate is not None and self.migrate.container not in self.containers:
            raise ValueError(f"migrate.container {self.migrate.container!r} is not in containers")
        return self


class Allowlist(BaseModel):
    """The whole file, version 1."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int
    services: tuple[Entry, ...] = ()
    # Looked up once per deploy: a dict, not a scan of a thousand entries.
    _index: dict[tuple[str, str], Entry] = PrivateAttr(default_factory=dict)

    @field_validator("version")
    @classmethod
    def _check_version(cls, value: int) -> int:
        if value != 1:
            raise ValueError(f"unsupported allowlist version {value}; this worker reads version 1")
        return value

    @model_validator(mode="after")
    def _unique(self) -> Allowlist:
        seen: set[tuple[str, str]] = set()
        for entry in self.services:
            key = (entry.cluster, entry.service)
            if key in seen:
                raise ValueError(f"{entry.cluster}/{entry.service} is listed more than once")
            seen.add(key)
            self._index[key] = entry
        return self

    def entry(self, cluster: str, service: str) -> Entry | None:
        """The entry for a cluster and service name, if any."""
        return self._index.get((cluster, service))


class AllowlistError(ValueError):
    """An invalid allowlist file; `line` is 1-based, or None when unknown."""

    def __init__(self, line: int | None, reason: str) -> None:
        super().__init__(f"line {line}: {reason}" if line else reason)
        self.line = line
        self.reason = reason


def _line_of(node: yaml.Node | None, loc: tuple[int | str, ...]) -> int | None:
    """Follow a pydantic error location through the YAML node tree to a line number."""
    line = node.start_mark.line + 1 if node is not None else None
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if k.value == key), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int):
            node = node.value[key] if key < len(node.value) else None
        else:
            break
        if node is None:
            break
        line = node.start_mark.line + 1
    return line


def load_allowlist(text: str) -> Allowlist:
    """Parse and validate allowlist YAML.

    Raises `AllowlistError` carrying the line and the reason of the first problem.
    """
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        raise AllowlistError(mark.line + 1 if mark else None, f"YAML: {exc.problem}") from None
    except yaml.YAMLError as exc:
        raise AllowlistError(None, f"YAML: {exc}") from None
    if not isinstance(data, dict):
        raise AllowlistError(1, "the allowlist must be a mapping with 'version' and 'services'")
    try:
        return Allowlist.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        loc = tuple(first["loc"])
        where = ".".join(str(p) for p in loc)
        message = first["msg"].removeprefix("Value error, ")
        if first["type"] == "extra_forbidden":
            message = "unknown field"
        reason = f"{where}: {message}" if where else message
        raise AllowlistError(_line_of(node, loc), reason) from None


@dataclass(frozen=True, slots=True)
class Decision:
    """An allowed request and the entry that allowed it."""

    request: DeployRequest
    entry: Entry


def decide(allowlist: Allowlist, request: DeployRequest) -> Decision:
    """Allow `request` only if its cluster, service, every container and every image
    repository are listed. Raises `Rejection` (kind `not_allowed`) saying which part failed.
    """
    cluster, service = request.cluster_ref.name, request.service_ref.name
    entry = allowlist.entry(cluster, service)
    if entry is None:
        raise not_allowed(f"service {cluster}/{service} is not in the allowlist")
    source = request.promote_from
    if source is not None and not any(
        s.cluster == source.cluster and s.service == source.service for s in entry.promote_from
    ):
        raise not_allowed(
            f"{cluster}/{service} does not list {source.cluster}/{source.service} in promote_from"
        )
    check_images(entry, {name: str(ref) for name, ref in request.targets.items()})
    return Decision(request, entry)


def check_images(entry: Entry, images: dict[str, str]) -> None:
    """Every container must be listed and every image's repository allowed, exactly.

    Raises `Rejection` (kind `not_allowed`). Used for the images a message names and
    for images found elsewhere (a promotion's source, a rollback target).
    """
    cluster, service = entry.cluster, entry.service
    for container, text in images.items():
        try:
            image = parse_image(text)
        except ValueError as exc:
            reason = f"image of container {container!r} cannot be checked: {exc}"
            raise not_allowed(reason) from None
        if container not in entry.containers:
            raise not_allowed(
                f"container {container!r} of {cluster}/{service} is not allowlisted "
                f"(allowed: {', '.join(entry.containers)})"
            )
        # Exact repository equality: a prefix match would let `.../web-evil` pass for `.../web`.
        if image.repository not in entry.images:
            raise not_allowed(
                f"image repository {image.repository!r} is not allowlisted for {cluster}/{service}"
            )


def check_scope(request: DeployRequest, region: str | None, account: str | None) -> None:
    """Deny ARNs that point outside the worker's own region or account.

    Names carry no region, so the allowlist alone cannot tell `prod` in another
    region from ours; an ARN can, and must agree. Unknown region or account skips
    that half of the check.
    """
    for ref in (request.cluster_ref, request.service_ref):
        if region and ref.region and ref.region != region:
            raise not_allowed(f"{ref.raw!r} is in region {ref.region}, this worker serves {region}")
        if account and ref.account and ref.account != account:
            raise not_allowed(f"{ref.raw!r} is in account {ref.account}, not {account}")
