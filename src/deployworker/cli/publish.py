"""`deployworker publish`: the CI one-liner that sends a deploy message.

The message is validated with the worker's own model before it is sent, so a
typo fails the CI job at once instead of landing in the DLQ later. It goes out in its
service's canonical message group, `<cluster>/<service>` (the worker rejects any
other), with a deduplication id unique to that group and deploy_id.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

from deployworker.aws._retry import Caller, RetryPolicy
from deployworker.aws.clients import make_client
from deployworker.aws.sns import Sns
from deployworker.aws.sqs import Sqs
from deployworker.intake.accounts import ACCOUNT_ID, Account, Target, account_of
from deployworker.intake.admit import canonical_group
from deployworker.intake.message import DeployRequest
from deployworker.intake.parse import parse_message
from deployworker.intake.signing import SIGNATURE_ATTRIBUTE, queue_arn, sign


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


def home_of(topic_arn: str | None, queue_url: str | None, region: str | None) -> Target | None:
    """The worker's account and region, read off its topic ARN or queue URL (the queue
    lives with the worker); None when they cannot be told."""
    if topic_arn:
        parts = topic_arn.split(":")
        return Target(parts[4], parts[3]) if len(parts) >= 6 else None
    path = (queue_url or "").split("://", 1)[-1].split("/")
    host = path[0].split(".")
    region = region or (host[1] if len(host) > 2 and host[0] == "sqs" else None)
    account = path[1] if len(path) > 2 and ACCOUNT_ID.fullmatch(path[1]) else None
    return Target(account, region) if account and region else None


def target_of(
    request: DeployRequest, home: Target, accounts: dict[str, Account] | None = None
) -> Target:
    """The (account, region) the request names: its ARNs, else its `account` (an id, or
    an alias looked up in the allowlist's `accounts`) and `region`, else home's."""
    refs = [r for r in (request.service_ref, request.cluster_ref) if r.account]
    account = refs[0].account if refs else request.account
    region = refs[0].region if refs else request.region
    if account and not ACCOUNT_ID.fullmatch(account):
        listed = account_of(accounts or {}, account)
        if listed is None:
            raise ValueError(
                f"account {account!r} is an alias: give its 12-digit id, or set "
                "DEPLOYWORKER_ALLOWLIST_PATH to the allowlist that lists it"
            )
        account = listed.account_id
    return Target(account or home.account, region or home.region)


def group_id_for(
    request: DeployRequest,
    home: Target | None = None,
    accounts: dict[str, Account] | None = None,
) -> str:
    """`<cluster>/<service>` at home, `<account_id>/<region>/<cluster>/<service>` in
    another account or region: one group per service keeps its deploys in order."""
    if home is None:
        if request.account or request.region or request.service_ref.account:
            raise ValueError("cannot tell the worker's account from the queue URL or topic ARN")
        return canonical_group(request)
    return canonical_group(request, None, target_of(request, home, accounts), home)


def ledger_key(
    request: DeployRequest,
    topic_arn: str | None,
    queue_url: str | None,
    region: str | None,
    accounts: dict[str, Account] | None = None,
) -> str:
    """The deploy ledger's key of the request's service: its message group, by name."""
    home = home_of(topic_arn, queue_url, region)
    if home is None:
        return canonical_group(request)
    return canonical_group(request, None, target_of(request, home, accounts), home)


def dedup_id_for(group_id: str, deploy_id: str) -> str:
    """SHA-256 (hex) of `<group>\n<deploy_id>`: one deploy_id used for several services
    (`build-42` for web and worker) is several messages, not duplicates, even where
    deduplication spans more than one group. `sha256sum` computes the same in shell."""
    return hashlib.sha256(f"{group_id}\n{deploy_id}".encode()).hexdigest()


def signed(
    body: str,
    key: bytes | None,
    group: str,
    topic_arn: str | None,
    queue_url: str | None,
    region: str | None,
) -> dict[str, str] | None:
    """The signature attribute for `body`, sent now in `group` to the topic (else the
    queue); None without a key. The worker checks all three (`intake.signing`)."""
    if key is None:
        return None
    destination = topic_arn or queue_arn(queue_url or "", region)
    return {SIGNATURE_ATTRIBUTE: sign(body, key, int(time.time()), group, destination)}


def publish(
    fields: dict[str, Any],
    *,
    topic_arn: str | None,
    queue_url: str | None,
    region: str | None,
    endpoint_url: str | None,
    signing_key: bytes | None = None,
    accounts: dict[str, Account] | None = None,
    group_id: str | None = None,
) -> Published:
    """Send one deploy message to an SNS FIFO topic or an SQS FIFO queue, signed when
    a key is given; `group_id` replaces the service's own group (a release member's)."""
    request, body = build_body(fields)
    if request.deploy_id is None:  # named in the body, so the worker keys the deploy by it
        # Fresh for each run: a rerun deploys again (a deploy_id sent again returns its
        # recorded outcome instead).
        generated = time.strftime("%Y%m%dT%H%M%SZ-", time.gmtime()) + secrets.token_hex(6)
        request, body = build_body({**fields, "deploy_id": generated})
    deploy_id = str(request.deploy_id)
    # A member of a release is sent in its release's group (`publish --release`).
    group_id = group_id or group_id_for(request, home_of(topic_arn, queue_url, region), accounts)
    dedup_id = dedup_id_for(group_id, deploy_id)
    attributes = signed(body, signing_key, group_id, topic_arn, queue_url, region)
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
