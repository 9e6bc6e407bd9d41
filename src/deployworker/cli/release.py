"""`publish --release` and `status --release`: releases from CI.

A release message goes out in its release's group, `release/<name>`, the only group
the worker accepts for it (and for single-service messages of its members).
`status --release` reads each member's state from AWS: where each service, schedule
and rule target points now, and how far the release recorded itself on its revisions.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deployworker.aws._retry import Caller, RetryPolicy
from deployworker.aws.clients import make_client
from deployworker.aws.ecs import Ecs
from deployworker.aws.eventrules import EventRules
from deployworker.aws.scheduler import Scheduler
from deployworker.aws.sns import Sns
from deployworker.aws.sqs import Sqs
from deployworker.cli import exits
from deployworker.cli.publish import dedup_id_for, signed
from deployworker.deploy.release.members import Members
from deployworker.deploy.release.register import Registrar
from deployworker.deploy.release.slots import family_images, recorded_state, release_key
from deployworker.errors import AwsError, Rejection
from deployworker.intake.allowlist import AllowlistError, load_allowlist
from deployworker.intake.parse import Unwrapped
from deployworker.intake.release_message import parse_release
from deployworker.intake.releases import GROUP_PREFIX, Release
from deployworker.settings import Settings

# Exit codes as `status` uses them for a service.
EXIT = {"deployed": 0, "failed": 1, "rolled_back": 2, "pending": 3, "in_progress": 4}
FINAL = frozenset({"deployed", "failed", "rolled_back"})


def publish_release(
    fields: dict[str, Any],
    *,
    topic_arn: str | None,
    queue_url: str | None,
    region: str | None,
    endpoint_url: str | None,
    signing_key: bytes | None = None,
) -> tuple[str, str, str]:
    """Validate and send a release message; returns (message id, deploy_id, group).
    Raises `Rejection` exactly as the worker would."""
    document = {k: v for k, v in fields.items() if v is not None}
    if "deploy_id" not in document:
        text = json.dumps(document, sort_keys=True)
        document["deploy_id"] = hashlib.sha256(text.encode()).hexdigest()[:32]
    body = json.dumps(document, separators=(",", ":"), sort_keys=True)
    request = parse_release(Unwrapped(body, {}, False))
    group = GROUP_PREFIX + request.release
    deploy_id = str(request.deploy_id)
    dedup = dedup_id_for(group, deploy_id)
    attributes = signed(body, signing_key, group, topic_arn, queue_url, region)
    policy = RetryPolicy(attempts=4, max_seconds=20)
    if topic_arn:
        sns = Sns(make_client("sns", region, endpoint_url), Caller("sns", policy))
        return sns.publish(topic_arn, body, group, dedup, attributes), deploy_id, group
    if queue_url:
        sqs = Sqs(make_client("sqs", region, endpoint_url), Caller("sqs", policy))
        return sqs.send(queue_url, body, group, dedup, attributes), deploy_id, group
    raise ValueError("give a topic ARN or a queue URL")


def cmd_publish_release(
    args: argparse.Namespace,
    settings: Settings,
    topic: str | None,
    queue: str | None,
    region: str | None,
    endpoint: str | None,
    source: dict[str, str | None],
) -> int:
    """`publish --release NAME`: one release message, in the group `release/NAME`."""
    fields = {
        "release": args.release,
        "image": args.image,
        "images": dict(p.split("=", 1) for p in args.set) if args.set else None,
        "deploy_id": args.deploy_id,
        "action": args.action,
        "source": {k: v for k, v in source.items() if v} or None,
    }
    key = settings.signing_key.get_secret_value().encode() if settings.signing_key else None
    try:
        message_id, deploy_id, group = publish_release(
            fields,
            topic_arn=topic,
            queue_url=queue,
            region=region,
            endpoint_url=endpoint,
            signing_key=key,
        )
    except Rejection as rejection:
        print(f"error: invalid release message: {rejection.reason}", file=sys.stderr)
        return exits.USAGE
    except AwsError as exc:
        return exits.fail(str(exc), exits.of_aws(exc))
    except ValueError as exc:
        return exits.fail(str(exc), exits.USAGE)
    print(json.dumps({"message_id": message_id, "deploy_id": deploy_id, "group_id": group}))
    return 0


@dataclass(frozen=True)
class ReleaseStatus:
    """A release's state and each member's (slot id to where it points)."""

    state: str
    members: dict[str, str]


def release_status(
    release: Release,
    deploy_id: str,
    region: str | None,
    endpoint: str | None,
    tag_key: bytes | None = None,
) -> ReleaseStatus:
    """Read a release's state from AWS: its revisions, their state tag, and where
    every member points now. Anyone who may TagResource can write the state tag, so it
    counts only when it agrees with the members (`deployed`: every one on the new
    revision; `rolled_back`: none) and, given the worker's tag key
    (DEPLOYWORKER_TAG_KEY), only when its MAC holds; otherwise the release is
    `in_progress`."""
    policy = RetryPolicy(attempts=4)
    members = Members(
        Ecs(make_client("ecs", region, endpoint), Caller("ecs", policy)),
        Scheduler(make_client("scheduler", region, endpoint), Caller("scheduler", policy)),
        EventRules(make_client("events", region, endpoint), Caller("events", policy)),
    )
    slots = members.read(release)
    families = family_images(slots, {m.name: {"*": "*"} for m in release.members})
    key = release_key(release, deploy_id)
    revisions = Registrar(members.ecs, tag_key).revisions(
        slots, families, key, deploy_id, release.name, None, register=False
    )
    if not revisions:
        return ReleaseStatus("pending", {s.id: "previous" for s in slots})
    ours = {r.arn for r in revisions.values()}
    states = {s.id: "new revision" if s.current in ours else "previous" for s in slots}
    found = (recorded_state(tag_key, r.arn, key, r.tags) for r in revisions.values())
    recorded = next((f[0] for f in found if f is not None), "")
    on_new = [states[s.id] == "new revision" for s in slots if s.family in revisions]
    agrees = {"deployed": all(on_new), "rolled_back": not any(on_new), "failed": True}
    state = recorded if recorded in FINAL and agrees[recorded] else "in_progress"
    return ReleaseStatus(state, states)


def cmd_release_status(args: argparse.Namespace, region: str | None, endpoint: str | None) -> int:
    """`status --release NAME --deploy-id D [--wait]`: each member's state; the exit
    code as for a service (0 deployed, 1 failed, 2 rolled back, 3 pending, 4 running)."""
    path: Path | None = args.allowlist
    if path is None or args.deploy_id is None:
        print(
            "error: status --release needs --allowlist (or DEPLOYWORKER_ALLOWLIST_PATH) "
            "and --deploy-id",
            file=sys.stderr,
        )
        return exits.USAGE
    try:
        release = load_allowlist(path.read_text(encoding="utf-8")).release(args.release)
    except (OSError, AllowlistError) as exc:
        print(f"error: {path}: {exc}", file=sys.stderr)
        return exits.CONFIG
    if release is None:
        print(f"error: release {args.release} is not in {path}", file=sys.stderr)
        return exits.USAGE
    deadline = time.monotonic() + args.timeout
    last: ReleaseStatus | None = None
    secret = os.environ.get("DEPLOYWORKER_TAG_KEY")  # the worker's, where the caller has it
    tag_key = secret.encode() if secret else None
    try:
        while True:
            status = release_status(release, args.deploy_id, region, endpoint, tag_key)
            if status != last:
                for member, where in status.members.items():
                    print(f"release {release.name} {args.deploy_id}: {member}: {where}", flush=True)
                print(f"release {release.name} {args.deploy_id}: {status.state}", flush=True)
                last = status
            if not args.wait or status.state in FINAL or time.monotonic() >= deadline:
                return EXIT[status.state]
            time.sleep(args.interval)
    except AwsError as exc:
        return exits.fail(str(exc), exits.of_aws(exc))
    except Rejection as exc:
        return exits.fail(str(exc), exits.USAGE)
