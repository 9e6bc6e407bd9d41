"""Target accounts and regions: the allowlist's `accounts:` and which (account, region)
a message deploys to (pure).

A worker runs in its home account and region and may assume a role into other
accounts. A message names its target by ARN (account and region are in it) or by its
`account` (alias or id) and `region` fields; without either, the target is home. An
account outside the allowlist's `accounts:` is never a target: there is no role to
assume, and reducing its ARN to a bare name would deploy the same-named service at home.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Protocol

from pydantic import AfterValidator, BaseModel, ConfigDict, model_validator

from deployworker.errors import not_allowed

ACCOUNT_ID = re.compile(r"^[0-9]{12}$", re.ASCII)
ALIAS = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$", re.ASCII)
REGION = re.compile(r"^[a-z]{2}(?:-[a-z]+)+-[0-9]{1,2}$", re.ASCII)


def _account_ref(value: str | None) -> str | None:
    if value is not None and not (ACCOUNT_ID.fullmatch(value) or ALIAS.fullmatch(value)):
        raise ValueError(f"account {value!r} is neither a 12-digit account id nor an alias")
    return value


def _region_name(value: str | None) -> str | None:
    if value is not None and not REGION.fullmatch(value):
        raise ValueError(f"region {value!r} is not an AWS region name")
    return value


# A message's or entry's target fields: an alias or id from `accounts:`, and a region.
AccountRef = Annotated[str | None, AfterValidator(_account_ref)]
RegionName = Annotated[str | None, AfterValidator(_region_name)]
# STS AssumeRole's ExternalId (botocore's model): min 2, max 1224, pattern
# `[\w+=,.@:\/-]*` (\w as ASCII letters, digits and _). STS answers anything else
# with a ValidationError at the first AssumeRole; the allowlist refuses it at load.
EXTERNAL_ID = re.compile(r"^[\w+=,.@:/-]{2,1224}$", re.ASCII)
_ROLE = re.compile(r"^arn:aws(?:-[a-z]+)*:iam::(?P<account>[0-9]{12}):role/[\w+=,.@/-]{1,512}$")


class Account(BaseModel):
    """A target account: its id, the role the worker assumes there, the optional
    external id that role's trust policy asks for."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    account_id: str
    role_arn: str
    external_id: str | None = None

    @model_validator(mode="after")
    def _check(self) -> Account:
        if not ACCOUNT_ID.fullmatch(self.account_id):
            raise ValueError(f"account_id {self.account_id!r} is not a 12-digit account id")
        match = _ROLE.fullmatch(self.role_arn)
        if match is None:
            raise ValueError(f"role_arn {self.role_arn!r} is not an IAM role ARN")
        if match["account"] != self.account_id:
            raise ValueError(
                f"role_arn {self.role_arn!r} is in account {match['account']}, "
                f"not {self.account_id}"
            )
        if self.external_id is not None and not EXTERNAL_ID.fullmatch(self.external_id):
            raise ValueError(
                "external_id must be 2 to 1224 characters of letters, digits and _+=,.@:/- "
                "(STS AssumeRole's ExternalId)"
            )
        return self


def check_accounts(accounts: dict[str, Account]) -> dict[str, Account]:
    """Aliases are names, and one account is listed once. Raises `ValueError`."""
    seen: dict[str, str] = {}
    for alias, account in accounts.items():
        if not ALIAS.fullmatch(alias) or ACCOUNT_ID.fullmatch(alias):
            raise ValueError(f"account alias {alias!r} must be a name starting with a letter")
        if account.account_id in seen:
            raise ValueError(
                f"account {account.account_id} is listed as both {seen[account.account_id]!r} "
                f"and {alias!r}"
            )
        seen[account.account_id] = alias
    return accounts


def account_of(accounts: dict[str, Account], name: str) -> Account | None:
    """The account an alias or an account id names, if it is listed."""
    if name in accounts:
        return accounts[name]
    return next((a for a in accounts.values() if a.account_id == name), None)


@dataclass(frozen=True, slots=True)
class Target:
    """Where a deploy goes: an account id and a region, both always known."""

    account: str
    region: str

    def key(self, home: Target) -> tuple[str | None, str | None]:
        """The allowlist's key for this target: None where it is home's."""
        return (
            None if self.account == home.account else self.account,
            None if self.region == home.region else self.region,
        )

    def group(self, home: Target, cluster: str, service: str) -> str:
        """The canonical MessageGroupId: `<cluster>/<service>` at home, else
        `<account_id>/<region>/<cluster>/<service>`."""
        if self == home:
            return f"{cluster}/{service}"
        return f"{self.account}/{self.region}/{cluster}/{service}"

    def __str__(self) -> str:
        return f"{self.account}/{self.region}"


class _Named(Protocol):
    """A cluster or service as a message names it: by name, or by ARN (with both)."""

    @property
    def account(self) -> str | None: ...

    @property
    def region(self) -> str | None: ...


class Targeted(Protocol):
    """What `resolve_target` reads of a message (`intake.message.DeployRequest` is one):
    described here, so this module never imports the message's and no cycle forms."""

    @property
    def cluster_ref(self) -> _Named: ...

    @property
    def service_ref(self) -> _Named: ...

    @property
    def account(self) -> str | None: ...

    @property
    def region(self) -> str | None: ...


def _from_arns(request: Targeted) -> tuple[str | None, str | None]:
    """(account, region) the request's ARNs name; refuses two ARNs that disagree."""
    account = region = None
    for ref in (request.cluster_ref, request.service_ref):
        if ref.account is None:
            continue
        if account is not None and (ref.account, ref.region) != (account, region):
            raise not_allowed("the cluster and service ARNs name different accounts or regions")
        account, region = ref.account, ref.region
    return account, region


def resolve_target(request: Targeted, accounts: dict[str, Account], home: Target) -> Target | None:
    """The target a request names, or None when it names only names (home, or a
    foreign ARN the caller must refuse with `allowlist.check_scope`'s reason).

    Raises `Rejection` (not_allowed) for an `account` field outside `accounts:`, and for
    fields and ARNs that disagree.
    """
    arn_account, arn_region = _from_arns(request)
    field_account = None
    if request.account is not None:
        listed = account_of(accounts, request.account)
        if listed is not None:
            field_account = listed.account_id
        elif request.account == home.account:
            field_account = home.account
        else:
            known = ", ".join(sorted(accounts)) or "none"
            raise not_allowed(
                f"account {request.account!r} has no entry in the allowlist's accounts "
                f"(listed: {known})"
            )
    if arn_account is not None and field_account not in (None, arn_account):
        raise not_allowed(f"account {request.account!r} is not the account of the ARNs")
    if arn_region is not None and request.region not in (None, arn_region):
        raise not_allowed(f"region {request.region!r} is not the region of the ARNs")
    foreign = arn_account is not None and arn_account != home.account
    if foreign and account_of(accounts, str(arn_account)) is None:
        return None  # check_scope names the foreign account
    account = arn_account or field_account or home.account
    region = arn_region or request.region or home.region
    return Target(account, region)
