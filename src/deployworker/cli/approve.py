"""`deployworker approve|reject`: vote on a deploy waiting at a gate.

The vote carries a caller proof: an STS GetCallerIdentity request signed with the
voter's own credentials (an assumed-role session of an approver role), bound to this
vote by a signed header. The worker executes it against its own STS endpoint to learn
who voted; nothing the voter types names them. The message goes to the service's
approvals group, `<cluster>/<service>/approvals`, which is never queued behind the
deploy.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from dataclasses import dataclass
from typing import Any

import botocore.session

from deployworker.aws._retry import Caller, RetryPolicy
from deployworker.aws.callerproof import sign_proof
from deployworker.aws.clients import make_client
from deployworker.aws.sns import Sns
from deployworker.aws.sqs import Sqs
from deployworker.errors import AwsError, ConfigError, Rejection
from deployworker.intake.approval import approval_group, binding, parse_approval
from deployworker.intake.parse import Unwrapped
from deployworker.local import DEFAULT_REGION, use_fake_credentials
from deployworker.settings import Settings

LOCAL_TOPIC_ARN = "arn:aws:sns:{region}:123456789012:deployworker-deploys.fifo"


@dataclass(frozen=True)
class SentVote:
    """What was sent, and where."""

    message_id: str
    group_id: str
    body: str


def vote_body(
    action: str,
    cluster: str,
    service: str,
    deploy_id: str,
    comment: str,
    credentials: Any,
    region: str | None,
    endpoint_url: str | None,
) -> str:
    """The approval message, its proof signed with `credentials` (botocore's) for the
    STS endpoint of `region` (or `endpoint_url`). Raises `Rejection` as the worker would."""
    sts = make_client("sts", region, endpoint_url)
    if sts.meta.region_name == "aws-global":  # no region given or configured anywhere
        raise ValueError("no region: give --region, the worker's region (its STS verifies)")
    proof = sign_proof(
        credentials.get_frozen_credentials(),
        str(sts.meta.region_name),
        str(sts.meta.endpoint_url),
        binding(action, cluster, service, deploy_id, comment),
    )
    document = {
        "action": action,
        "cluster": cluster,
        "service": service,
        "deploy_id": deploy_id,
        "comment": comment,
        "proof": proof,
    }
    body = json.dumps(document, separators=(",", ":"), sort_keys=True)
    parse_approval(Unwrapped(body, {}, False))
    return body


def send_vote(
    body: str,
    cluster: str,
    service: str,
    *,
    topic_arn: str | None,
    queue_url: str | None,
    region: str | None,
    endpoint_url: str | None,
) -> SentVote:
    """Send a vote to the deploy topic or queue, in the service's approvals group."""
    group_id = approval_group(cluster, service)
    # Each vote is its own message: the body holds the proof's signing time.
    dedup_id = hashlib.sha256(body.encode()).hexdigest()
    policy = RetryPolicy(attempts=4, max_seconds=20)
    if topic_arn:
        sns = Sns(make_client("sns", region, endpoint_url), Caller("sns", policy))
        message_id = sns.publish(topic_arn, body, group_id, dedup_id)
    elif queue_url:
        sqs = Sqs(make_client("sqs", region, endpoint_url), Caller("sqs", policy))
        message_id = sqs.send(queue_url, body, group_id, dedup_id)
    else:
        raise ValueError("give a topic ARN or a queue URL")
    return SentVote(message_id, group_id, body)


def cmd_vote(args: argparse.Namespace) -> int:
    """Sign and send one approve or reject."""
    settings = Settings()
    region, endpoint = args.region or settings.region, args.endpoint_url or settings.endpoint_url
    topic, queue = args.topic_arn, args.queue_url
    if args.local:
        use_fake_credentials()
        region = region or DEFAULT_REGION
        endpoint = endpoint or f"http://127.0.0.1:{settings.local_port}"
        topic = topic or (None if queue else LOCAL_TOPIC_ARN.format(region=region))
    # A session of its own: the credentials as the environment holds them now.
    credentials = botocore.session.Session().get_credentials()
    if credentials is None:
        raise ConfigError("no AWS credentials: a vote is signed with the approver's own")
    try:
        body = vote_body(
            args.vote,
            args.cluster,
            args.service,
            args.deploy_id,
            args.comment,
            credentials,
            region,
            endpoint,
        )
        sent = send_vote(
            body,
            args.cluster,
            args.service,
            topic_arn=topic,
            queue_url=queue,
            region=region,
            endpoint_url=endpoint,
        )
    except Rejection as rejection:
        print(f"error: invalid approval: {rejection.reason}", file=sys.stderr)
        return 2
    except (AwsError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps({"message_id": sent.message_id, "group_id": sent.group_id}), flush=True)
    return 0


def add_approval_commands(sub: Any) -> None:
    """Register `approve` and `reject` on the top-level subparsers."""
    for vote in ("approve", "reject"):
        command = sub.add_parser(
            vote,
            help=f"{vote} a deploy waiting at a gate (signed with your AWS credentials)",
            description=(
                f"Send a signed {vote} for a deploy. Run it with the credentials of an "
                "assumed-role session of an approver role; the session name is recorded "
                "as the person."
            ),
        )
        command.add_argument("--cluster", required=True)
        command.add_argument("--service", required=True)
        command.add_argument("--deploy-id", required=True)
        command.add_argument("--comment", default="")
        target = command.add_mutually_exclusive_group()
        target.add_argument("--topic-arn", help="SNS FIFO topic ARN")
        target.add_argument("--queue-url", help="SQS FIFO queue URL")
        command.add_argument("--region")
        command.add_argument("--endpoint-url")
        command.add_argument("--local", action="store_true", help="target `deployworker local`")
        command.set_defaults(func=cmd_vote, vote=vote)
