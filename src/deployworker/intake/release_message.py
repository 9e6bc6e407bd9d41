"""The release message and its admission: everything checked before AWS (pure).

`{"release": "shop", "image": "...", "deploy_id": "..."}` ships one image to every
container the release's members list; `images: {container: image}` ships each image
to the members that list that container. `action: "rollback"` returns every member
to the revision it ran before the release `to_deploy_id` names, and `action:
"promote"` ships the images another release runs now (`from: {"release": ...}`).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from deployworker.errors import Rejection, invalid, not_allowed
from deployworker.intake.entries import Allowlist
from deployworker.intake.imageref import parse_image
from deployworker.intake.message import DeployRequest, Source
from deployworker.intake.parse import Unwrapped, decode
from deployworker.intake.release_checks import check_name
from deployworker.intake.releases import Release

ReleaseAction = Literal["deploy", "rollback", "promote"]


class ReleaseRef(BaseModel):
    """The release a promote takes its images from."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    release: str


class ReleaseRequest(BaseModel):
    """A release message, version 1."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, populate_by_name=True)

    version: Literal[1] = 1
    release: str
    image: str | None = None
    images: dict[str, str] | None = None
    deploy_id: str | None = None
    source: Source | None = None
    action: ReleaseAction = "deploy"
    to_deploy_id: str | None = None
    promote_from: ReleaseRef | None = Field(default=None, alias="from")

    @field_validator("release")
    @classmethod
    def _check_release(cls, value: str) -> str:
        return check_name(value, "release name")

    @field_validator("image")
    @classmethod
    def _check_image(cls, value: str | None) -> str | None:
        if value is not None:
            parse_image(value)
        return value

    @field_validator("images")
    @classmethod
    def _check_images(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        if value is not None and not value:
            raise ValueError("images must name at least one container")
        for container, image in (value or {}).items():
            check_name(container, "container name")
            parse_image(image)
        return value

    @field_validator("deploy_id", "to_deploy_id")
    @classmethod
    def _check_deploy_id(cls, value: str | None) -> str | None:
        if value is not None:
            # The single-service message's rules, so both kinds of id fit the same tags.
            DeployRequest.model_validate(
                {"cluster": "c", "service": "s", "action": "redeploy", "deploy_id": value}
            )
        return value

    @model_validator(mode="after")
    def _check_targets(self) -> ReleaseRequest:
        given = self.image is not None or self.images is not None
        if self.image is not None and self.images is not None:
            raise ValueError("use either image or images, not both")
        if (self.to_deploy_id is not None) != (self.action == "rollback"):
            raise ValueError("a rollback names the release it undoes in to_deploy_id, and only it")
        if (self.promote_from is not None) != (self.action == "promote"):
            raise ValueError("a promote names its source in 'from', and only a promote does")
        if self.action == "deploy" and not given:
            raise ValueError("a release deploy needs image or images")
        if self.action != "deploy" and given:
            raise ValueError(f"a release {self.action} names no image or images")
        return self


def is_release(unwrapped: Unwrapped) -> bool:
    """Whether the message is a release message (a JSON object with `release`)."""
    if '"release"' not in unwrapped.text:  # cheap test first: most messages are not
        return False
    try:
        document = decode(unwrapped.text, "message body")
    except Rejection:
        return False  # the pipeline parses it as a deploy, and refuses it with the reason
    return isinstance(document, dict) and "release" in document


def parse_release(unwrapped: Unwrapped) -> ReleaseRequest:
    """A validated release message. Raises `Rejection` (invalid) naming every problem."""
    what = "SNS envelope's Message" if unwrapped.enveloped else "message body"
    document = decode(unwrapped.text, what)
    if not isinstance(document, dict):
        raise invalid(f"release message must be a JSON object, not {type(document).__name__}")
    try:
        return ReleaseRequest.model_validate(document)
    except ValidationError as exc:
        parts = []
        for item in exc.errors(include_url=False, include_input=False):
            where = ".".join(str(p) for p in item["loc"]) or "message"
            text = item["msg"].removeprefix("Value error, ")
            parts.append(
                f"unknown field {where!r}"
                if item["type"] == "extra_forbidden"
                else f"{where}: {text}"
            )
        raise invalid("; ".join(parts)) from None
    except (ValueError, TypeError, RecursionError) as exc:
        raise invalid(f"release message could not be validated: {exc}") from None


def member_images(
    release: Release, request: ReleaseRequest, promoted: dict[str, str] | None = None
) -> dict[str, dict[str, str]]:
    """Member name to (container to image) for a deploy (or for a promote, from the
    `promoted` images); members with nothing to change are left out. Raises
    `Rejection` when the message names a container no member lists, or an image
    outside the release's repositories."""
    listed = {c for m in release.members for c in m.containers}
    # A promote takes what the source runs in the containers this release lists.
    only = {c: i for c, i in (promoted or {}).items() if c in listed}
    wanted: dict[str, str] = dict(request.images or only)
    unknown = sorted(set(wanted) - listed)
    if unknown:
        raise not_allowed(
            f"container(s) {', '.join(unknown)} are in no member of release {release.name}"
        )
    for container, text in ({"*": request.image} if request.image else wanted).items():
        repository = parse_image(str(text)).repository
        if repository not in release.images:
            raise not_allowed(
                f"image repository {repository!r} (container {container}) is not allowlisted "
                f"for release {release.name}"
            )
    result: dict[str, dict[str, str]] = {}
    for member in release.members:
        images = {
            c: (request.image or wanted[c])
            for c in member.containers
            if request.image or c in wanted
        }
        if images:
            result[member.name] = images
    return result


def admit_release(allowlist: Allowlist, request: ReleaseRequest, group_id: str) -> Release:
    """The allowlisted release a message names, sent in that release's group.
    Raises `Rejection`."""
    release = allowlist.release(request.release)
    if release is None:
        raise not_allowed(f"release {request.release} is not in the allowlist")
    source = request.promote_from
    if source is not None and source.release not in release.promote_from:
        raise not_allowed(f"release {release.name} does not list {source.release} in promote_from")
    if source is not None and allowlist.release(source.release) is None:
        raise not_allowed(f"release {source.release} is not in the allowlist")
    if group_id != release.group:
        raise not_allowed(
            f"MessageGroupId {group_id!r} is not the group of release {release.name}: its "
            f"messages must all be sent with MessageGroupId {release.group!r}"
        )
    return release


def as_dict(request: ReleaseRequest) -> dict[str, Any]:
    """The request as event and log fields."""
    return request.model_dump(exclude_none=True, by_alias=True)
