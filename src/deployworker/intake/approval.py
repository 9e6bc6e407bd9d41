"""The approval message: a vote for (or against) a deploy waiting at a gate (pure).

`{"action": "approve" | "reject", "cluster", "service", "deploy_id", "comment", "proof"}`,
sent in the group `<cluster>/<service>/approvals`: a FIFO group of its own, so a vote
is never queued behind the deploy it is for. A vote for a deploy in another account or
region names it with `account` (alias or id) and `region`, as deploys do, and goes in
the group `<account_id>/<region>/<cluster>/<service>/approvals`. `proof` is a signed
STS GetCallerIdentity request (`aws.callerproof`); `binding` is what its signed header
must say, so a proof made for one vote cannot be replayed for another deploy, service,
target or action. Unknown fields are rejected by name, as for deploys.
"""

from __future__ import annotations

import hashlib
import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from deployworker.errors import invalid, not_allowed
from deployworker.intake.accounts import Account, AccountRef, RegionName, Target, account_of

# The same alphabets as the deploy message's (names, deploy ids): one vocabulary.
from deployworker.intake.message import _DEPLOY_ID, _NAME
from deployworker.intake.parse import Unwrapped, _decode, _describe

APPROVALS_SUFFIX = "/approvals"
MAX_COMMENT = 1024
MAX_PROOF_HEADER = 4096  # a session token is about 1 kB; headers past this are not ours


class Proof(BaseModel):
    """A signed GetCallerIdentity POST: its headers and body, and no URL."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    headers: dict[str, str] = Field(max_length=16)
    body: str = Field(max_length=256)

    @field_validator("headers")
    @classmethod
    def _check_headers(cls, value: dict[str, str]) -> dict[str, str]:
        for name, text in value.items():
            if len(name) > 64 or len(text) > MAX_PROOF_HEADER:
                raise ValueError(f"proof header {name[:64]!r} is too long")
            if any(c in name + text for c in "\r\n\0"):
                raise ValueError(f"proof header {name[:64]!r} holds a line break or NUL")
        return value


class ApprovalRequest(BaseModel):
    """One vote: who is asserted by `proof`, never by a field the sender types."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    action: Literal["approve", "reject"]
    cluster: str
    service: str
    deploy_id: str
    comment: str = Field(default="", max_length=MAX_COMMENT)
    proof: Proof
    account: AccountRef = None  # alias or id of the deploy's account; None: home
    region: RegionName = None  # the deploy's region; None: home
    # Where the vote was sent (the deploy topic's ARN or the work queue's URL): its proof
    # binds it, so a proof made for one deployworker is useless at another.
    audience: str | None = Field(default=None, min_length=1, max_length=1024)

    @field_validator("cluster", "service")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if not _NAME.fullmatch(value):
            raise ValueError(f"{value!r} is not a valid ECS name (an approval names, not ARNs)")
        return value

    @field_validator("deploy_id")
    @classmethod
    def _check_deploy_id(cls, value: str) -> str:
        if not _DEPLOY_ID.fullmatch(value):
            raise ValueError(
                "deploy_id must be 1-128 characters of letters, digits and ._:/@+=- "
                "and start with a letter or digit"
            )
        return value


def is_approval_group(group_id: str) -> bool:
    """Whether a message's group is an approvals group (`.../approvals`)."""
    return group_id.endswith(APPROVALS_SUFFIX)


def approval_group(cluster: str, service: str, target: Target | None = None) -> str:
    """The one MessageGroupId for votes on a service: `<cluster>/<service>/approvals` at
    home (`target` None), else `<account_id>/<region>/<cluster>/<service>/approvals`."""
    where = f"{target.account}/{target.region}/" if target is not None else ""
    return f"{where}{cluster}/{service}{APPROVALS_SUFFIX}"


def approval_target(
    request: ApprovalRequest, accounts: dict[str, Account], home: Target | None
) -> Target | None:
    """The (account, region) of the deploy a vote is for; None for home. Raises
    `Rejection` for an account outside the allowlist's `accounts:`, as for deploys."""
    if request.account is None and request.region is None:
        return None
    if home is None:
        raise not_allowed("the vote names a target, and this worker's is unknown")
    account = home.account
    if request.account is not None:
        listed = account_of(accounts, request.account)
        if listed is None and request.account != home.account:
            known = ", ".join(sorted(accounts)) or "none"
            raise not_allowed(
                f"account {request.account!r} has no entry in the allowlist's accounts "
                f"(listed: {known})"
            )
        account = listed.account_id if listed is not None else home.account
    target = Target(account, request.region or home.region)
    return None if target == home else target


def check_approval_group(
    request: ApprovalRequest, group_id: str, target: Target | None = None
) -> None:
    """Refuse a vote sent in another group than its service's approvals group (in
    `target`, None: home). Raises `Rejection` naming the expected group."""
    expected = approval_group(request.cluster, request.service, target)
    if group_id != expected:
        raise not_allowed(
            f"MessageGroupId {group_id!r} is not the approvals group of "
            f"{request.cluster}/{request.service}: send votes with MessageGroupId {expected!r}"
        )


def binding(
    action: str,
    cluster: str,
    service: str,
    deploy_id: str,
    comment: str,
    account: str | None = None,
    region: str | None = None,
    audience: str | None = None,
) -> str:
    """What the proof's signed `X-Deployworker-Approval` header must hold for this vote:
    `v1:` and the SHA-256 of the vote's fields, JSON-encoded so no two votes share it.
    A vote naming a target binds it too, and its audience (where it was sent)."""
    fields: list[str | None] = [action, cluster, service, deploy_id, comment]
    if account is not None or region is not None:
        fields += [account, region]
    if audience is not None:
        fields += ["audience", audience]
    text = json.dumps(fields, ensure_ascii=False)
    return "v1:" + hashlib.sha256(text.encode()).hexdigest()


def binding_of(request: ApprovalRequest) -> str:
    """`binding` for a parsed vote."""
    r = request
    return binding(
        r.action, r.cluster, r.service, r.deploy_id, r.comment, r.account, r.region, r.audience
    )


def check_audience(request: ApprovalRequest, audiences: tuple[str, ...]) -> None:
    """Refuse a vote whose proof was made for another deployworker (or for none): its
    `audience` must be where this worker reads votes from (its deploy topic or its work
    queue). Raises `Rejection`. No `audiences` (a worker without either): no check."""
    if not audiences or request.audience in audiences:
        return
    named = f"names the audience {request.audience!r}" if request.audience else "names no audience"
    raise not_allowed(
        f"the vote's proof {named}; this worker reads votes sent to {' or '.join(audiences)}: "
        "vote with the command approval_requested shows"
    )


def parse_approval(unwrapped: Unwrapped) -> ApprovalRequest:
    """Validate an unwrapped approval message. Raises `Rejection` (kind `invalid`) only."""
    what = "SNS envelope's Message" if unwrapped.enveloped else "message body"
    document = _decode(unwrapped.text, what)
    if not isinstance(document, dict):
        raise invalid(f"approval must be a JSON object, not {type(document).__name__}")
    try:
        return ApprovalRequest.model_validate(document)
    except ValidationError as exc:
        raise invalid(_describe(exc)) from None
    except (ValueError, TypeError, RecursionError) as exc:
        raise invalid(f"approval could not be validated: {exc}") from None


PROOF_REMOVED = "(removed: a vote's signed proof never leaves the worker)"


def without_proof(body: str) -> str:
    """`body` with a vote's `proof` replaced, for the DLQ: a refused vote's proof may
    still be fresh, and whoever reads the DLQ must not be able to replay it (under SNS's
    envelope too). Anything that is not a vote with a proof comes back unchanged."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        return body
    if not isinstance(document, dict):
        return body
    if "proof" in document:
        return json.dumps({**document, "proof": PROOF_REMOVED}, separators=(",", ":"))
    inner = document.get("Message")
    if document.get("Type") == "Notification" and isinstance(inner, str):
        cleaned = without_proof(inner)
        if cleaned != inner:
            return json.dumps({**document, "Message": cleaned}, separators=(",", ":"))
    return body
