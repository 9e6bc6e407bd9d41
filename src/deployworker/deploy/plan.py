"""Stage 3, plan: the RegisterTaskDefinition input for a deploy, or nothing (noop).

Pure. The input is projected from DescribeTaskDefinition's output through
botocore's *input shape* for RegisterTaskDefinition, recursively, so read-only
fields AWS adds later (`deleteRequestedAt`, `registeredBy`, ...) can never leak
into a registration. Only the named containers' `image` changes; tags are kept
and the deployworker tags are replaced.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from botocore.model import Shape

from deployworker.errors import invalid

TAG_PREFIX = "deployworker:"
# The idempotency key: `deploy_key(cluster, service, deploy_id)`. Redelivery and
# `status` match on it; the deploy-id tag beside it is for people to read.
DEPLOY_KEY_TAG = "deployworker:deploy-key"
DEPLOY_ID_TAG = "deployworker:deploy-id"
PREVIOUS_TAG = "deployworker:previous"
# The MAC over the two above (`deploy.trust`): kept whenever they are.
MAC_TAG = "deployworker:mac"
MAX_TAGS = 50
AWS_PREFIX = "aws:"
_TAG_VALUE_UNSAFE = re.compile(r"[^\w .:/=+\-@]", re.UNICODE)


@dataclass(frozen=True, slots=True)
class Plan:
    """What to register; `changes` maps container name to (old image, new image)."""

    register_input: dict[str, Any]
    changes: dict[str, tuple[str, str]] = field(default_factory=dict)


def deploy_key(cluster: str, service: str, deploy_id: str) -> str:
    """The key of one deploy: (cluster name, service name, deploy_id), hashed.

    SHA-256 over an unambiguous encoding (a JSON array), so distinct triples never share
    a key (`b#1` and `b?1` stay apart, as do two services deploying one `build-42`), and
    the value is always a legal ECS tag value whatever the deploy_id holds.
    """
    text = json.dumps([cluster, service, deploy_id], separators=(",", ":"), ensure_ascii=False)
    return "v1:" + hashlib.sha256(text.encode()).hexdigest()


def tag_value(text: str) -> str:
    """Make `text` a legal ECS tag value: allowed characters only, at most 256."""
    return _TAG_VALUE_UNSAFE.sub("_", text)[:256]


def project(value: Any, shape: Shape) -> Any:
    """Keep only the parts of `value` that `shape` accepts as input, recursively."""
    kind = shape.type_name
    if kind == "structure" and isinstance(value, Mapping):
        members = shape.members  # type: ignore[attr-defined]
        return {k: project(v, members[k]) for k, v in value.items() if k in members}
    if kind == "list" and isinstance(value, Sequence) and not isinstance(value, str):
        return [project(item, shape.member) for item in value]  # type: ignore[attr-defined]
    if kind == "map" and isinstance(value, Mapping):
        return {k: project(v, shape.value) for k, v in value.items()}  # type: ignore[attr-defined]
    return value


def tag_map(tags: Sequence[Mapping[str, str]]) -> dict[str, str]:
    """An ECS tag list (`[{"key": ..., "value": ...}]`) as a dict."""
    return {t["key"]: t["value"] for t in tags}


def current_images(task_definition: Mapping[str, Any]) -> dict[str, str]:
    """Container name to image, as the task definition runs them now."""
    return {c["name"]: c.get("image", "") for c in task_definition.get("containerDefinitions", [])}


def merge_tags(
    existing: Sequence[Mapping[str, str]], ours: Mapping[str, str]
) -> list[dict[str, str]]:
    """Existing tags minus any earlier deployworker tags, plus ours (sanitised).

    `aws:` tags are AWS's own: RegisterTaskDefinition refuses them and they do not
    count toward the 50, so they are neither copied nor counted.

    Raises `Rejection` when the user's own tags leave no room for the deploy-key tag.
    """
    kept = [
        {"key": t["key"], "value": t["value"]}
        for t in existing
        if not t["key"].startswith(TAG_PREFIX) and not t["key"].lower().startswith(AWS_PREFIX)
    ]
    added = [{"key": k, "value": tag_value(v)} for k, v in ours.items() if v]
    # Over ECS's limit, drop our optional metadata before ever dropping a user's tag;
    # the deploy-key tag is what makes redelivery safe, so it is never dropped.
    for essential in (
        (DEPLOY_KEY_TAG, DEPLOY_ID_TAG, PREVIOUS_TAG, MAC_TAG),
        (DEPLOY_KEY_TAG, PREVIOUS_TAG, MAC_TAG),
        (DEPLOY_KEY_TAG, MAC_TAG),
    ):
        if len(kept) + len(added) <= MAX_TAGS:
            break
        added = [t for t in added if t["key"] in essential]
    if len(kept) + len(added) > MAX_TAGS:
        raise invalid(
            f"the task definition has {len(kept)} tags; deployworker needs one of ECS's "
            f"{MAX_TAGS} for its deploy-key tag"
        )
    return kept + added


def plan_deploy(
    task_definition: Mapping[str, Any],
    tags: Sequence[Mapping[str, str]],
    images: Mapping[str, str],
    deploy_tags: Mapping[str, str],
    input_shape: Shape,
) -> Plan | None:
    """Plan a new revision that runs `images` (container name to image).

    Returns None when every named container already runs its image (the `noop`
    outcome). Raises `Rejection` when a named container is not in the task definition.
    """
    running = current_images(task_definition)
    missing = sorted(set(images) - set(running))
    if missing:
        raise invalid(
            f"container(s) {', '.join(missing)} not in task definition "
            f"{task_definition.get('family')}:{task_definition.get('revision')} "
            f"(it has {', '.join(sorted(running))})"
        )
    changes = {n: (running[n], img) for n, img in images.items() if running[n] != img}
    if not changes:
        return None
    register_input: dict[str, Any] = project(task_definition, input_shape)
    register_input["containerDefinitions"] = [
        {**c, "image": images[c["name"]]} if c["name"] in changes else c
        for c in register_input["containerDefinitions"]
    ]
    merged = merge_tags(tags, deploy_tags)
    if merged:
        register_input["tags"] = merged
    else:
        register_input.pop("tags", None)
    return Plan(register_input, changes)
