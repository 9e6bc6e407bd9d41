"""Image digests on moto's tasks, as ECS reports them.

ECS resolves each container's image to a digest when a task starts and reports it
as `containers[].imageDigest`; moto reports none. The patched RunTask fills it from
moto's own ECR when the image is a tag (or digest) of a repository there, so a
deploy of a mutable tag can be proven a noop, or not, in local mode and in tests.
Callers hold `store.LOCK` or own the tasks.
"""

from __future__ import annotations

import re
from typing import Any

from moto.ecr.models import ecr_backends

_ECR_IMAGE = re.compile(
    r"(?P<account>[0-9]{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com"
    r"/(?P<name>[^:@]+)(?::(?P<tag>[^@]+))?(?:@(?P<digest>sha256:[0-9a-f]{64}))?"
)


def digest_of(image: str) -> str | None:
    """The digest moto's ECR holds for an ECR image reference, or None."""
    match = _ECR_IMAGE.fullmatch(image or "")
    if match is None:
        return None
    if match["digest"]:
        return match["digest"]
    try:
        repository = ecr_backends[match["account"]][match["region"]].repositories.get(match["name"])
    except KeyError:
        return None
    if repository is None or not match["tag"]:
        return None
    for image_found in repository.images:
        if match["tag"] in (image_found.image_tags or []):
            return str(image_found.image_digest)
    return None


def fill(tasks: list[Any]) -> None:
    """Set each container's `imageDigest` where moto's ECR knows the image."""
    for task in tasks:
        for container in getattr(task, "containers", []) or []:
            digest = digest_of(getattr(container, "image", "") or "")
            if digest is not None:
                container.imageDigest = digest
