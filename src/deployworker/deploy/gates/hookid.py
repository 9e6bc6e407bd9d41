"""Which PAUSE hook waits, by its identity: `hookId` and the deployment's stage (pure).

What AWS tells: botocore 1.44's `DeploymentLifecycleHookDetail` is "a deployment
lifecycle hook that is active during a service deployment" and carries `hookId`,
`targetType`, `targetArn`, `status`, `expiresAt` and `timeoutAction`, but no stage;
`lifecycleHookDetails` lists the *active* hooks only, so neither a hook's position in
it nor the hooks before it say anything. The stage comes from the deployment's own
`lifecycleStage` (`ServiceDeploymentLifecycleStage`: RECONCILE_SERVICE, PRE_SCALE_UP,
SCALE_UP, POST_SCALE_UP, TEST_TRAFFIC_SHIFT, POST_TEST_TRAFFIC_SHIFT,
PRODUCTION_TRAFFIC_SHIFT, POST_PRODUCTION_TRAFFIC_SHIFT, BAKE_TIME, CLEAN_UP), which has
no PRE_PRODUCTION_TRAFFIC_SHIFT: that hook stage waits while the deployment still
reports POST_TEST_TRAFFIC_SHIFT (before the first traffic step) or
PRODUCTION_TRAFFIC_SHIFT (before each later LINEAR or CANARY step).

So one lifecycle stage, POST_TEST_TRAFFIC_SHIFT, is ambiguous when a service has PAUSE
hooks at both POST_TEST_TRAFFIC_SHIFT and PRE_PRODUCTION_TRAFFIC_SHIFT: the first hook
id seen there is POST_TEST_TRAFFIC_SHIFT's, any other one PRE_PRODUCTION_TRAFFIC_SHIFT's.
Which hook id was taken for which stage is the deploy's own record: kept in memory, and
tagged on the deploy's revision (`deployworker:hooks`) before a gate acts on the hook,
so a redelivered message attributes the next hook the same way the first copy would
have, and an analysis-only gate never continues the hook that waits for an approval.

What stays unknowable: a hook at POST_TEST_TRAFFIC_SHIFT that came and went while no
copy of the worker ran (a person continued it, or it timed out with CONTINUE) leaves
no trace in ECS's answers; the next hook is then taken for the first stage's.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from deployworker.deploy.gates.fit import PAUSE_ORDER, candidates, hook_seconds
from deployworker.rollout.assess import Pause

HOOKS_TAG = "deployworker:hooks"
_DIGEST = 12  # hex characters of a hook id's SHA-256 kept in the record


def hook_key(hook_id: str) -> str:
    """A hook id as the record keeps it (a short digest: ECS's ids run to 50+ characters)."""
    return hashlib.sha256(hook_id.encode()).hexdigest()[:_DIGEST]


def attribute(
    lifecycle_stage: str,
    hook_id: str,
    configuration: Mapping[str, Any] | None,
    seen: Mapping[str, str],
) -> tuple[str | None, bool]:
    """(the hook stage of the PAUSE hook `hook_id`, waiting while the deployment reports
    `lifecycle_stage`; whether the record must keep this attribution). `seen` maps
    `hook_key`s to the stages already attributed for this deployment."""
    known = seen.get(hook_key(hook_id))
    if known is not None:
        return known, False
    possible = [
        s for s in candidates(lifecycle_stage) if hook_seconds(configuration, s) is not None
    ]
    if len(possible) < 2:
        return (possible[0] if possible else None), False
    # POST_TEST_TRAFFIC_SHIFT, then PRE_PRODUCTION_TRAFFIC_SHIFT: once any hook of either
    # was seen, a new id is the later stage's (it repeats before every traffic step).
    first, later = possible[0], possible[-1]
    return (later if set(seen.values()) & {first, later} else first), True


def encode(seen: Mapping[str, str], reserve: int = 0) -> dict[str, str]:
    """The record as one tag: `<stage index>=<hook key>` words, oldest first, as many
    as fit in 256 characters less `reserve` (what a seal takes: `deploy.tagseal`)."""
    words = [f"{PAUSE_ORDER.index(stage)}={key}" for key, stage in seen.items()]
    return {HOOKS_TAG: " ".join(words[-((256 - reserve) // (_DIGEST + 3)) :])}


def decode(tags: Mapping[str, str]) -> dict[str, str]:
    """The record a revision's tags hold (words that do not parse are skipped)."""
    found: dict[str, str] = {}
    for word in tags.get(HOOKS_TAG, "").split():
        index, _, key = word.partition("=")
        if index.isdigit() and int(index) < len(PAUSE_ORDER) and len(key) == _DIGEST:
            found[key] = PAUSE_ORDER[int(index)]
    return found


def began(pause: Pause, configuration: Mapping[str, Any] | None, stage: str | None) -> float | None:
    """When `pause` began to wait, as late as ECS's answer shows it: its `expiresAt` less
    its hook's timeout, or the deployment's `updatedAt` when later (None when neither
    is known). The same for every copy of the message, so a gate's window, and the
    votes it counts, survive a redelivery; a later bound only ever drops votes."""
    timeout = hook_seconds(configuration, stage) if stage else None
    found = []
    if pause.expires_at is not None and timeout is not None:
        found.append(float(pause.expires_at.timestamp()) - timeout)
    if pause.updated_at is not None:
        found.append(float(pause.updated_at.timestamp()))
    return max(found, default=None)
