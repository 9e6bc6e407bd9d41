"""Mutable tags: the same tag string is a `noop` only when its digest is proven unchanged.

With ECS's software version consistency, a service's tasks run the digest their tag
resolved to when their deployment started. After `repo:staging` is pushed again, a
deploy of the same string changes no task definition, yet the service still runs the
old bytes. So each tag's current digest in ECR is compared with the `imageDigest`
that the service's running tasks report; only when every one agrees is the deploy a
`noop`. Otherwise the worker forces a new deployment of the current revision, which
resolves the tags again (outcome `deployed`, "tag re-resolved"). A digest reference
proves itself. Anything that cannot be read (another registry, no running task, no
ECR permission) proves nothing. `unproven` is the decision, pure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from deployworker.aws.ecr import Ecr
from deployworker.aws.ecs import Ecs
from deployworker.deploy.apply import Current
from deployworker.deploy.pin import ecr_repository
from deployworker.errors import PermanentAwsError
from deployworker.intake.imageref import parse_image

REASON = "tag re-resolved"


def unproven(
    images: Mapping[str, str],
    registry: Mapping[str, str | None],
    running: Mapping[str, Sequence[str | None]],
) -> dict[str, str]:
    """Container to why its bytes may have changed; empty when the noop is proven (pure).

    `images` are the image strings (the same ones the service runs), `registry` the
    digest each tag points at now (None: unknown), `running` the `imageDigest` each
    running task of the current revision reports for the container (None: none).
    """
    why: dict[str, str] = {}
    for name, text in images.items():
        if parse_image(text).digest is not None:
            continue
        now, seen = registry.get(name), list(running.get(name) or [])
        if now is None:
            why[name] = "the tag's current digest cannot be read"
        elif not seen:
            why[name] = "no running task reports the digest it runs"
        elif any(digest != now for digest in seen):
            ran = ", ".join(sorted({digest or "no digest" for digest in seen}))
            why[name] = f"the tag points at {now}, running tasks report {ran}"
    return why


def _registry(ecr: Ecr, text: str, region: str | None) -> str | None:
    ref = parse_image(text)
    location = ecr_repository(ref)
    if ref.tag is None or location is None or (region and location[1] != region):
        return None
    try:
        return ecr.digest(location[0], location[2], ref.tag)
    except PermanentAwsError:  # missing, or no permission: the digest is unknown
        return None


def check(
    ecs: Ecs, ecr: Ecr, current: Current, images: Mapping[str, str], region: str | None
) -> dict[str, str]:
    """`unproven` for a deploy that names the images the service already runs: reads
    ECR and the service's running tasks only when some image is a tag."""
    tags = {n: i for n, i in images.items() if parse_image(i).digest is None}
    if not tags:
        return {}
    cluster = str(current.service["clusterArn"]).rsplit("/", 1)[-1]
    running: dict[str, list[str | None]] = {}
    for task in ecs.running_tasks(cluster, str(current.service["serviceName"])):
        if task.get("taskDefinitionArn") != current.arn:
            continue  # a task of an older revision proves nothing about this one
        for container in task.get("containers") or []:
            running.setdefault(str(container.get("name")), []).append(container.get("imageDigest"))
    registry = {n: _registry(ecr, i, region) for n, i in tags.items()}
    return unproven(tags, registry, running)
