"""Pure parsing of container image references (`registry/repo:tag@sha256:digest`).

The grammar follows the distribution reference grammar, restricted to what a
deploy should accept: lower-case repository paths, a tag, a sha256 digest, or both.
A reference must carry a tag or a digest, because "latest by omission" is not a
deploy anyone can reason about.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*(?::[0-9]{{1,5}})?"
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REPOSITORY = rf"(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
_TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
_DIGEST = r"sha256:[a-f0-9]{64}"

_REFERENCE = re.compile(
    rf"^(?P<repository>{_REPOSITORY})(?::(?P<tag>{_TAG}))?(?:@(?P<digest>{_DIGEST}))?$",
    re.ASCII,
)
_REPOSITORY_ONLY = re.compile(rf"^{_REPOSITORY}$", re.ASCII)

MAX_REFERENCE_LENGTH = 512


@dataclass(frozen=True, slots=True)
class ImageRef:
    """A parsed image reference; `repository` includes the registry host."""

    repository: str
    tag: str | None
    digest: str | None

    def __str__(self) -> str:
        text = self.repository
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


def parse_image(text: str) -> ImageRef:
    """Parse `text` into an `ImageRef`.

    Raises `ValueError` with a human-readable reason when the reference is malformed
    or has neither a tag nor a digest.
    """
    if not text:
        raise ValueError("image reference is empty")
    if len(text) > MAX_REFERENCE_LENGTH:
        raise ValueError(f"image reference is longer than {MAX_REFERENCE_LENGTH} characters")
    match = _REFERENCE.fullmatch(text)
    if match is None:
        raise ValueError(f"malformed image reference {text!r}")
    tag, digest = match.group("tag"), match.group("digest")
    if tag is None and digest is None:
        raise ValueError(f"image reference {text!r} has neither a tag nor a digest")
    return ImageRef(match.group("repository"), tag, digest)


def is_repository(text: str) -> bool:
    """True when `text` is a bare repository name (no tag, no digest)."""
    return len(text) <= MAX_REFERENCE_LENGTH and _REPOSITORY_ONLY.fullmatch(text) is not None
