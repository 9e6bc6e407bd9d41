"""Who may approve, and how AWS vouches that two votes are two people (pure).

A vote's identity is what STS GetCallerIdentity answers for its caller proof: `Arn`
(`arn:aws:sts::<account>:assumed-role/<role>/<session>`), `UserId` (`<role id>:<session>`)
and `Account`. For an ordinary role the session name is whatever the caller passed to
AssumeRole, so it names nobody: one principal may vote as `alice` and again as `bob`.
What the worker can verify from that answer decides what an approver entry may be:

- `sso`: an IAM Identity Center permission-set role (`role/aws-reserved/sso.amazonaws.com/
  .../AWSReservedSSO_<set>_<id>`). Identity Center alone assumes it (its trust policy is
  AWS-managed and cannot be edited), with the user's sign-in name as the session name,
  so each session name is one person.
- `role`: a role only one person may assume (its trust policy names that person). The
  role is the person, whatever the session is called: one role, one vote.

Not offered: roles whose trust policy pins `sts:RoleSessionName` to `${aws:username}` or
requires `sts:SourceIdentity`. GetCallerIdentity returns neither the trust policy nor
the source identity, so the worker could not tell such a role from one without the
condition; it would count names it cannot verify.

An entry is a role ARN (kind `role`) or `{role: <arn>, kind: sso|role}`.
"""

from __future__ import annotations

import re
from typing import Any, Literal

ApproverKind = Literal["sso", "role"]
KINDS: tuple[ApproverKind, ...] = ("sso", "role")
# Identity Center's roles: path aws-reserved/sso.amazonaws.com/ (and a region, for
# instances outside us-east-1), name AWSReservedSSO_<permission set>_<16 hex>.
SSO_ROLE = re.compile(
    r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/aws-reserved/sso\.amazonaws\.com/"
    r"(?:[a-z0-9-]+/)?AWSReservedSSO_[\w+=,.@-]{1,48}$"
)


_ROLE_SCHEMA = {"type": "string", "pattern": "^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$"}
# What an `approvers` list may hold, for the allowlist's JSON Schema.
ENTRIES_SCHEMA: dict[str, Any] = {
    "type": "array",
    "minItems": 1,
    "items": {
        "anyOf": [
            {**_ROLE_SCHEMA, "description": "an approver role of kind role"},
            {
                "type": "object",
                "properties": {"role": _ROLE_SCHEMA, "kind": {"enum": list(KINDS)}},
                "required": ["role"],
            },
        ]
    },
    "description": "approver roles: an ARN (kind role: the role is one person) or "
    "{role, kind: sso|role} (sso: an IAM Identity Center permission set, one sign-in "
    "name is one person)",
}


def split(entries: Any) -> tuple[list[Any], list[Any]]:
    """(role ARNs, kinds) from the allowlist's `approvers` entries; the model checks them."""
    if not isinstance(entries, list | tuple):
        return entries, []
    arns: list[Any] = []
    kinds: list[Any] = []
    for entry in entries:
        if isinstance(entry, dict):
            unknown = sorted(set(entry) - {"role", "kind"})
            if unknown or "role" not in entry:
                raise ValueError(
                    f"approver {entry!r}: write a role ARN, or {{role: <arn>, kind: sso|role}}"
                )
            arns.append(entry["role"])
            kinds.append(entry.get("kind", "role"))
        else:
            arns.append(entry)
            kinds.append("role")
    return arns, kinds


def problems(arns: tuple[str, ...], kinds: tuple[str, ...], required: int) -> list[str]:
    """Why these approvers cannot give `required` distinct people AWS vouches for."""
    found = [
        f"approver {arn} is kind sso, but it is not an IAM Identity Center permission-set "
        "role (role/aws-reserved/sso.amazonaws.com/.../AWSReservedSSO_*): anyone who may "
        "assume it chooses its session names"
        for arn, kind in zip(arns, kinds, strict=True)
        if kind == "sso" and not SSO_ROLE.fullmatch(arn)
    ]
    roles = len({arn for arn, kind in zip(arns, kinds, strict=True) if kind == "role"})
    if "sso" not in kinds and required > roles:
        found.append(
            f"required {required} approvals, but the {roles} approver role(s) listed count "
            f"as {roles} person(s) (kind role: one role, one vote): one principal could "
            "only meet it by voting under several session names, which do not count. "
            "List one role per person, or an IAM Identity Center permission set (kind: sso)"
        )
    return found
