"""Which of its own tags the worker believes, and when a revision is the one it would
register (pure).

Anyone who may RegisterTaskDefinition or TagResource can write a `deployworker:*` tag,
so a tag is never proof by itself:

- The tags the worker acts on (`deploy-key` and `previous`, written at registration;
  `migrated`, written after a migration) carry a MAC: HMAC-SHA256, keyed by a secret
  only the worker holds (`DEPLOYWORKER_TAG_KEY` or its Secrets Manager secret), over the
  tag names and values, the family and a digest of the revision's content. A forged
  tag, or a real one copied onto another revision, does not verify, and is ignored.
- A revision found by its deploy key is reused only when it is, field for field, the
  revision the plan would register now (`differences`): a pre-staged revision with a
  predicted key and a sidecar or another environment is never rolled out.

- A release's state (`deployworker:release-state` and its reason, written on each of
  its revisions as it goes) carries a MAC over the state, the reason, the release's
  deploy key and the revision's ARN (`state_mac`): a state written by hand, or copied
  from another revision or release, does not verify, and the release resumes from
  where AWS says its members are.

Without a tag key the tags are read as they are (the worker logs that at start).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from typing import Any

from botocore.model import Shape

from deployworker.deploy.plan import DEPLOY_KEY_TAG, MAC_TAG, PREVIOUS_TAG, project, tag_value
from deployworker.deploy.tagseal import same

SEALED = (DEPLOY_KEY_TAG, PREVIOUS_TAG)  # sealed by MAC_TAG at registration
MIGRATED_TAG = "deployworker:migrated"
MIGRATED_MAC_TAG = "deployworker:migrated-mac"  # seals MIGRATED_TAG, written with it
PLACEHOLDER = "0" * 64  # holds the MAC's room among the tags until it is computed


def content(task_definition: Mapping[str, Any], shape: Shape) -> dict[str, Any]:
    """What a revision runs: its RegisterTaskDefinition input, without tags."""
    projected: dict[str, Any] = project(task_definition, shape)
    projected.pop("tags", None)
    return projected


def digest(register_input: Mapping[str, Any]) -> str:
    """SHA-256 of a revision's content (tags left out), canonically encoded."""
    body = {k: v for k, v in register_input.items() if k != "tags"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def seal(key: bytes, register_input: Mapping[str, Any], tags: Mapping[str, str]) -> str:
    """The MAC over `tags` (name and value, as ECS stores it) on this revision."""
    family = str(register_input.get("family", ""))
    named = [[name, tag_value(tags[name])] for name in sorted(tags)]
    text = json.dumps([family, digest(register_input), named], separators=(",", ":"))
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def _holds(
    key: bytes, register_input: Mapping[str, Any], tags: Mapping[str, str], mac: str
) -> bool:
    return same(seal(key, register_input, tags), mac)


def trusted(
    key: bytes | None, task_definition: Mapping[str, Any], tags: Mapping[str, str], shape: Shape
) -> dict[str, str]:
    """The sealed tags (deploy key, previous) of a revision when its MAC holds; none
    when it does not. Without a key, the tags as they are."""
    present = {name: tags[name] for name in SEALED if name in tags}
    if key is None:
        return present
    mac = tags.get(MAC_TAG)
    if not mac or not _holds(key, content(task_definition, shape), present, mac):
        return {}
    return present


def migrated(
    key: bytes | None, task_definition: Mapping[str, Any], tags: Mapping[str, str], shape: Shape
) -> str | None:
    """The migration task the revision records as done, when its MAC holds."""
    task = tags.get(MIGRATED_TAG)
    if task is None or key is None:
        return task
    mac = tags.get(MIGRATED_MAC_TAG, "")
    ok = _holds(key, content(task_definition, shape), {MIGRATED_TAG: task}, mac)
    return task if ok else None


def migrated_tags(
    key: bytes | None, task_definition: Mapping[str, Any], task_arn: str, shape: Shape
) -> dict[str, str]:
    """The tags that record a finished migration on a revision."""
    tags = {MIGRATED_TAG: task_arn}
    if key is not None:
        tags[MIGRATED_MAC_TAG] = seal(key, content(task_definition, shape), tags)
    return tags


def sealed(key: bytes | None, register_input: dict[str, Any]) -> dict[str, Any]:
    """`register_input` with its MAC tag filled in (or dropped, without a key)."""
    tags: Sequence[Mapping[str, str]] = register_input.get("tags") or []
    ours = {t["key"]: t["value"] for t in tags if t["key"] in SEALED}
    kept = [dict(t) for t in tags if t["key"] != MAC_TAG]
    if key is not None:
        kept.append({"key": MAC_TAG, "value": seal(key, register_input, ours)})
    out = {k: v for k, v in register_input.items() if k != "tags"}
    return {**out, "tags": kept} if kept else out


def state_mac(key: bytes, arn: str, release_key: str, state: str, reason: str) -> str:
    """The MAC over a release's recorded state on one of its revisions (`arn`), as ECS
    stores the state and reason tags."""
    text = json.dumps(["release-state", arn, release_key, state, reason], separators=(",", ":"))
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def state_holds(key: bytes, arn: str, release_key: str, state: str, reason: str, mac: str) -> bool:
    """Whether `mac` is the worker's seal on this state of this release on `arn`."""
    return same(state_mac(key, arn, release_key, state, reason), mac)


def differences(candidate: Mapping[str, Any], planned: Mapping[str, Any]) -> list[str]:
    """The fields in which a revision's content differs from the planned registration
    (both without tags): empty when the candidate is the revision the plan registers."""
    names = sorted((set(candidate) | set(planned)) - {"tags"})
    found = [n for n in names if n != "containerDefinitions" and candidate.get(n) != planned.get(n)]
    ours = {c.get("name"): c for c in planned.get("containerDefinitions", [])}
    theirs = {c.get("name"): c for c in candidate.get("containerDefinitions", [])}
    for name in sorted(set(ours) | set(theirs), key=str):
        if ours.get(name) != theirs.get(name):
            found.append(f"containerDefinitions[{name}]")
    if not found and candidate.get("containerDefinitions") != planned.get("containerDefinitions"):
        found.append("containerDefinitions (order)")
    return found
