"""Digest pinning: an ECR tag becomes `repo:tag@sha256:...` in the task definition, so
rollbacks and redeploys run exactly the bytes that ran before, even after the tag moves."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Literal

from deployworker.aws.ecr import Ecr
from deployworker.errors import NotFoundError, invalid, not_allowed
from deployworker.intake.imageref import ImageRef, parse_image

_ECR = re.compile(
    r"(?P<account>[0-9]{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?"
    r"/(?P<name>.+)"
)
NonEcr = Literal["reject", "keep"]


def ecr_repository(ref: ImageRef) -> tuple[str, str, str] | None:
    """(account, region, repository name) when `ref` is in ECR, else None (pure)."""
    match = _ECR.fullmatch(ref.repository)
    return (match["account"], match["region"], match["name"]) if match else None


def pin_images(
    images: Mapping[str, str],
    ecr: Ecr,
    region: str | None,
    account: str | None,
    non_ecr: NonEcr,
) -> dict[str, str]:
    """Each image with its tag resolved to the digest it points at now.

    References that already carry a digest are kept. A tag outside ECR in this region
    (and account, when known) is rejected or kept as `non_ecr` says. Raises
    `Rejection` when a tag cannot be resolved.
    """
    pinned: dict[str, str] = {}
    for container, text in images.items():
        ref = parse_image(text)
        location = ecr_repository(ref)
        if ref.digest is not None:
            pinned[container] = text
            continue
        ours = location is not None and (region is None or location[1] == region)
        ours = ours and (account is None or (location is not None and location[0] == account))
        if location is None or not ours:
            if non_ecr == "keep":
                pinned[container] = text
                continue
            raise not_allowed(
                f"cannot pin {text!r}: not an ECR repository of this worker's account and region"
            )
        registry, _, name = location
        try:
            digest = ecr.digest(registry, name, str(ref.tag))
        except NotFoundError as exc:
            raise invalid(
                f"tag {ref.tag!r} of {ref.repository} cannot be resolved: {exc}"
            ) from None
        pinned[container] = str(ImageRef(ref.repository, ref.tag, digest))
    return pinned


def unpinned(text: str) -> str:
    """`repo:tag@digest` → `repo:tag`, so the tag can be resolved again (redeploy)."""
    ref = parse_image(text)
    return str(ImageRef(ref.repository, ref.tag, None)) if ref.tag else text
