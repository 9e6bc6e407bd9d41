"""The approval message: a vote for (or against) a deploy waiting at a gate (pure).

`{"action": "approve" | "reject", "cluster", "service", "deploy_id", "comment", "proof"}`,
sent in the group `<cluster>/<service>/approvals`: a FIFO group of its own, so a vote
is never queued behind the deploy it is for. `proof` is a signed STS GetCallerIdentity
request (`aws.callerproof`); `binding` is what its signed header must say, so a proof
made for one vote cannot be replayed for another deploy, service or action. Unknown
fields are rejected by name, as for deploys.
"""

from __future__ import annotations

import hashlib
import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from deployworker.errors import invalid, not_allowed

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


def approval_group(cluster: str, service: str) -> str:
    """The one MessageGroupId for votes on a service: `<cluster>/<service>/approvals`."""
    return f"{cluster}/{service}{APPROVALS_SUFFIX}"


def check_approval_group(request: ApprovalRequest, group_id: str) -> None:
    """Refuse a vote sent in another group than its service's approvals group.
    Raises `Rejection` naming the expected group."""
    expected = approval_group(request.cluster, request.service)
    if group_id != expected:
        raise not_allowed(
            f"MessageGroupId {group_id!r} is not the approvals group of "
            f"{request.cluster}/{request.service}: send votes with MessageGroupId {expected!r}"
        )


def binding(action: str, cluster: str, service: str, deploy_id: str, comment: str) -> str:
    """What the proof's signed `X-Deployworker-Approval` header must hold for this vote:
    `v1:` and the SHA-256 of the vote's fields, JSON-encoded so no two votes share it."""
    text = json.dumps([action, cluster, service, deploy_id, comment], ensure_ascii=False)
    return "v1:" + hashlib.sha256(text.encode()).hexdigest()


def binding_of(request: ApprovalRequest) -> str:
    """`binding` for a parsed vote."""
    r = request
    return binding(r.action, r.cluster, r.service, r.deploy_id, r.comment)


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
