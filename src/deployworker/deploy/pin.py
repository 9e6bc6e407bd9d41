"""Digest pinning: an ECR tag becomes `repo:tag@sha256:...` in the task definition, so
rollbacks and redeploys run exactly the bytes that ran before, even after the tag moves.
Tags resolve in the deploy's own ECR, or in the entry's registry account's (`Registry`),
read through that account's role."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Literal

from deployworker.aws.ecr import Ecr
from deployworker.errors import NotFoundError, RetryableAwsError, invalid, not_allowed
from deployworker.intake.imageref import ImageRef, parse_image

_ECR = re.compile(
    r"(?P<account>[0-9]{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?"
    r"/(?P<name>.+)"
)
NonEcr = Literal["reject", "keep"]
# A registry account: its id, and ECR there in a region (through its role).
Registry = tuple[str, Callable[[str], Ecr]]


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
    registry: Registry | None = None,
) -> dict[str, str]:
    """Each image with its tag resolved to the digest it points at now.

    References that already carry a digest are kept. A tag in `registry`'s account
    resolves there, in the image's region. Any other tag outside ECR in this region
    (and account, when known) is rejected or kept as `non_ecr` says. Raises
    `Rejection` when a tag cannot be resolved, or the registry cannot be read.
    """
    pinned: dict[str, str] = {}
    for container, text in images.items():
        ref = parse_image(text)
        location = ecr_repository(ref)
        if ref.digest is not None:
            pinned[container] = text
            continue
        if registry is not None and location is not None and location[0] == registry[0]:
            pinned[container] = _in_registry(ref, text, location, registry[1])
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
        registry_id, _, name = location
        try:
            digest = ecr.digest(registry_id, name, str(ref.tag))
        except NotFoundError as exc:
            raise invalid(
                f"tag {ref.tag!r} of {ref.repository} cannot be resolved: {exc}"
            ) from None
        pinned[container] = str(ImageRef(ref.repository, ref.tag, digest))
    return pinned


def _in_registry(
    ref: ImageRef, text: str, location: tuple[str, str, str], ecr_in: Callable[[str], Ecr]
) -> str:
    """`ref` pinned through the registry account's ECR. Raises `Rejection` saying why
    the image could not be checked (its role, its permissions) or resolved."""
    account, region, name = location
    try:
        digest = ecr_in(region).digest(account, name, str(ref.tag))
    except NotFoundError as exc:
        raise invalid(f"tag {ref.tag!r} of {ref.repository} cannot be resolved: {exc}") from None
    except RetryableAwsError:
        raise  # throttled or unavailable: the message comes back
    except Exception as exc:  # the role cannot be assumed, or ECR refuses the read
        raise not_allowed(f"cannot check {text!r} in registry account {account}: {exc}") from None
    return str(ImageRef(ref.repository, ref.tag, digest))


def unpinned(text: str) -> str:
    """`repo:tag@digest` → `repo:tag`, so the tag can be resolved again (redeploy)."""
    ref = parse_image(text)
    return str(ImageRef(ref.repository, ref.tag, None)) if ref.tag else text
