"""`deployworker approve|reject`: vote on a deploy waiting at a gate.

The vote carries a caller proof: an STS GetCallerIdentity request signed with the
voter's own credentials (an assumed-role session of an approver role), bound to this
vote by a signed header. The worker executes it against its own STS endpoint to learn
who voted; nothing the voter types names them. The message goes to the service's
approvals group, `<cluster>/<service>/approvals`, which is never queued behind the
deploy; with `--target-account`/`--target-region` the vote names the deploy's target and
goes to `<account_id>/<region>/<cluster>/<service>/approvals`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from dataclasses import dataclass
from typing import Any

import botocore.session
from botocore.exceptions import NoCredentialsError

from deployworker.aws._retry import Caller, RetryPolicy
from deployworker.aws.callerproof import sign_proof
from deployworker.aws.clients import make_client
from deployworker.aws.sns import Sns
from deployworker.aws.sqs import Sqs
from deployworker.cli import exits
from deployworker.cli.config import CLIENT_SETTINGS, load_settings
from deployworker.cli.publish import home_of
from deployworker.cli.targets import accounts_for
from deployworker.errors import AwsError, Rejection
from deployworker.intake.accounts import ACCOUNT_ID, Target, account_of
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
    account: str | None = None,
    target_region: str | None = None,
    audience: str | None = None,
) -> str:
    """The approval message, its proof signed with `credentials` (botocore's) for the
    STS endpoint of `region` (or `endpoint_url`), naming the deploy's `account` and
    `target_region` when given, and its `audience` (the topic or queue it is sent to).
    Raises `Rejection` as the worker would."""
    sts = make_client("sts", region, endpoint_url)
    if sts.meta.region_name == "aws-global":  # no region given or configured anywhere
        raise ValueError("no region: give --region, the worker's region (its STS verifies)")
    proof = sign_proof(
        credentials.get_frozen_credentials(),
        str(sts.meta.region_name),
        str(sts.meta.endpoint_url),
        binding(action, cluster, service, deploy_id, comment, account, target_region, audience),
    )
    document = {
        "action": action,
        "cluster": cluster,
        "service": service,
        "deploy_id": deploy_id,
        "comment": comment,
        "proof": proof,
    }
    target = {"account": account, "region": target_region, "audience": audience}
    document.update({k: v for k, v in target.items() if v is not None})
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
    target: Target | None = None,
) -> SentVote:
    """Send a vote to the deploy topic or queue, in the service's approvals group (in
    `target`, None: home)."""
    group_id = approval_group(cluster, service, target)
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


def vote_target(
    settings: Settings, account: str | None, where: str | None, home: Target | None
) -> Target | None:
    """The target a vote names (None: home): an alias is resolved through the allowlist
    at `DEPLOYWORKER_ALLOWLIST_PATH`. Raises `ValueError` when it cannot be told."""
    if account is None and where is None:
        return None
    if home is None:
        raise ValueError("cannot tell the worker's account from the queue URL or topic ARN")
    account_id = account or home.account
    if not ACCOUNT_ID.fullmatch(account_id):
        listed = account_of(accounts_for(settings, account_id) or {}, account_id)
        if listed is None:
            raise ValueError(
                f"account {account_id!r} is an alias: give its 12-digit id, or set "
                "DEPLOYWORKER_ALLOWLIST_PATH to the allowlist that lists it"
            )
        account_id = listed.account_id
    target = Target(account_id, where or home.region)
    return None if target == home else target


def cmd_vote(args: argparse.Namespace) -> int:
    """Sign and send one approve or reject."""
    settings = load_settings(CLIENT_SETTINGS)
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
        # A vote is signed with the approver's own credentials (exit code 9).
        raise NoCredentialsError()
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
            args.target_account,
            args.target_region,
            audience=topic or queue,  # where it is sent: the worker it is for
        )
        home = home_of(topic, queue, region)
        target = vote_target(settings, args.target_account, args.target_region, home)
        sent = send_vote(
            body,
            args.cluster,
            args.service,
            topic_arn=topic,
            queue_url=queue,
            region=region,
            endpoint_url=endpoint,
            target=target,
        )
    except Rejection as rejection:
        print(f"error: invalid approval: {rejection.reason}", file=sys.stderr)
        return exits.USAGE
    except AwsError as exc:
        return exits.fail(str(exc), exits.of_aws(exc))
    except ValueError as exc:
        return exits.fail(str(exc), exits.USAGE)
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
        command.add_argument("--target-account", help="the deploy's account (alias or id)")
        command.add_argument("--target-region", help="the deploy's region; default: the worker's")
        command.add_argument("--region")
        command.add_argument("--endpoint-url")
        command.add_argument("--local", action="store_true", help="target `deployworker local`")
        command.set_defaults(func=cmd_vote, vote=vote)
