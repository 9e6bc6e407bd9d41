"""`deployworker publish`: the CI one-liner that sends a deploy message.

The message is validated with the worker's own model before it is sent, so a
typo fails the CI job at once instead of landing in the DLQ later. It goes out in its
service's canonical message group, `<cluster>/<service>` (the worker rejects any
other), with a deduplication id unique to that group and deploy_id.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any

from deployworker.aws._retry import Caller, RetryPolicy
from deployworker.aws.clients import make_client
from deployworker.aws.sns import Sns
from deployworker.aws.sqs import Sqs
from deployworker.intake.admit import canonical_group
from deployworker.intake.message import DeployRequest
from deployworker.intake.parse import parse_message
from deployworker.intake.signing import SIGNATURE_ATTRIBUTE, sign


@dataclass(frozen=True)
class Published:
    """What was sent, and where."""

    message_id: str
    deploy_id: str
    group_id: str
    body: str
    request: DeployRequest


def build_body(fields: dict[str, Any]) -> tuple[DeployRequest, str]:
    """Validate message fields (None values dropped) and return (request, JSON body).

    Raises `Rejection` exactly as the worker would.
    """
    document = {k: v for k, v in fields.items() if v is not None}
    body = json.dumps(document, separators=(",", ":"), sort_keys=True)
    return parse_message(body), body


def group_id_for(request: DeployRequest) -> str:
    """`<cluster>/<service>`: one group per service keeps its deploys in order."""
    return canonical_group(request)


def dedup_id_for(group_id: str, deploy_id: str) -> str:
    """SHA-256 (hex) of `<group>\n<deploy_id>`: one deploy_id used for several services
    (`build-42` for web and worker) is several messages, not duplicates, even where
    deduplication spans more than one group. `sha256sum` computes the same in shell."""
    return hashlib.sha256(f"{group_id}\n{deploy_id}".encode()).hexdigest()


def publish(
    fields: dict[str, Any],
    *,
    topic_arn: str | None,
    queue_url: str | None,
    region: str | None,
    endpoint_url: str | None,
    signing_key: bytes | None = None,
    group_id: str | None = None,
) -> Published:
    """Send one deploy message to an SNS FIFO topic or an SQS FIFO queue, signed when
    a key is given; `group_id` replaces the service's own group (a release member's)."""
    request, body = build_body(fields)
    if request.deploy_id is None:  # named in the body, so the worker keys the deploy by it
        generated = hashlib.sha256(body.encode()).hexdigest()[:32]
        request, body = build_body({**fields, "deploy_id": generated})
    deploy_id = str(request.deploy_id)
    attributes = (
        {SIGNATURE_ATTRIBUTE: sign(body, signing_key, int(time.time()))} if signing_key else None
    )
    # A member of a release is sent in its release's group (`publish --release`).
    group_id = group_id or group_id_for(request)
    dedup_id = dedup_id_for(group_id, deploy_id)
    policy = RetryPolicy(attempts=4, max_seconds=20)
    if topic_arn:
        sns = Sns(make_client("sns", region, endpoint_url), Caller("sns", policy))
        message_id = sns.publish(topic_arn, body, group_id, dedup_id, attributes)
    elif queue_url:
        sqs = Sqs(make_client("sqs", region, endpoint_url), Caller("sqs", policy))
        message_id = sqs.send(queue_url, body, group_id, dedup_id, attributes)
    else:
        raise ValueError("give a topic ARN or a queue URL")
    return Published(message_id, deploy_id, group_id, body, request)
