"""The allowlist's schema: what each entry may say, validated as it is loaded (pure).

The models are frozen and reject unknown fields, so a typo in the file is an error
with its line (see `allowlist.load_allowlist`), never a silently ignored setting.
"""

from __future__ import annotations

import re

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    field_validator,
    model_validator,
)

from deployworker.intake.accounts import Account, AccountRef, RegionName, account_of, check_accounts
from deployworker.intake.budget import over_budget
from deployworker.intake.fields import Duration, Located, OptionalDuration, Repositories
from deployworker.intake.gates import Gate, check_unique, gates_seconds
from deployworker.intake.releases import Release, index_releases

_NAME = re.compile(r"^[A-Za-z0-9_-]{1,255}$")


class Migrate(BaseModel):
    """A task run once per deploy, from the new revision, before the service moves."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    container: str
    command: tuple[str, ...] = Field(min_length=1)
    timeout: Duration = 600

    @field_validator("container")
    @classmethod
    def _check_container(cls, value: str) -> str:
        if not _NAME.fullmatch(value):
            raise ValueError(f"{value!r} is not a valid container name")
        return value


class Source(BaseModel):
    """A service whose running images may be promoted to this one."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cluster: str
    service: str
    account: AccountRef = None  # another account (alias or id from `accounts:`)
    region: RegionName = None  # another region


class Entry(BaseModel):
    """One opted-in service and what may change in it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cluster: str
    service: str
    containers: tuple[str, ...] = Field(min_length=1)
    images: Repositories
    timeout: OptionalDuration = None
    rollback: bool = True
    migrate: Migrate | None = None
    pin_digest: bool = False
    promote_from: tuple[Source, ...] = ()
    gates: tuple[Gate, ...] = ()
    account: AccountRef = None  # an alias or id from `accounts:`; default: the worker's
    region: RegionName = None  # default: the worker's
    # pin_digest: the account (alias or id from `accounts:`) whose ECR holds the images,
    # read through its role; default: the entry's own account.
    registry_account: str | None = None

    @field_validator("cluster", "service")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if not _NAME.fullmatch(value):
            raise ValueError(f"{value!r} is not a valid ECS name (use the name, not an ARN)")
        return value

    @field_validator("containers")
    @classmethod
    def _check_containers(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for name in value:
            if not _NAME.fullmatch(name):
                raise ValueError(f"{name!r} is not a valid container name")
        return value

    @model_validator(mode="after")
    def _migrate_container_is_listed(self) -> Entry:
        if self.migrate is not None and self.migrate.container not in self.containers:
            raise ValueError(f"migrate.container {self.migrate.container!r} is not in containers")
        return self

    @model_validator(mode="after")
    def _fits_one_message(self) -> Entry:
        # Without its own timeout the entry gets DEPLOY_TIMEOUT_SECONDS, checked at deploy.
        migration = self.migrate.timeout if self.migrate is not None else 0
        check_unique(self.gates)
        gates = gates_seconds(self.gates)
        reason = over_budget(self.timeout or 0, migration, self.rollback, gates)
        if reason is not None:
            what = "timeout" if self.timeout else "migrate.timeout" if migration else "gates"
            raise ValueError(f"{what}: {self.cluster}/{self.service} {reason}")
        return self


class Allowlist(BaseModel):
    """The whole file, version 1."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int
    accounts: dict[str, Account] = Field(default_factory=dict)
    services: tuple[Entry, ...] = ()
    releases: tuple[Release, ...] = ()
    # Looked up once per deploy: a dict, not a scan of a thousand entries. Keyed by
    # (account id, region, cluster, service), None standing for the worker's own.
    _index: dict[tuple[str | None, str | None, str, str], Entry] = PrivateAttr(default_factory=dict)
    _owners: dict[tuple[str, str], Release] = PrivateAttr(default_factory=dict)

    @field_validator("accounts")
    @classmethod
    def _check_accounts(cls, value: dict[str, Account]) -> dict[str, Account]:
        return check_accounts(value)

    @field_validator("version")
    @classmethod
    def _check_version(cls, value: int) -> int:
        if value != 1:
            raise ValueError(f"unsupported allowlist version {value}; this worker reads version 1")
        return value

    @model_validator(mode="after")
    def _unique(self) -> Allowlist:
        for index, entry in enumerate(self.services):
            account = None
            if entry.account is not None:
                listed = account_of(self.accounts, entry.account)
                if listed is None:
                    raise Located(
                        ("services", index, "account"),
                        f"{entry.cluster}/{entry.service}: account {entry.account!r} is not "
                        "in accounts",
                    )
                account = listed.account_id
            registry = entry.registry_account
            if registry is not None and account_of(self.accounts, registry) is None:
                where = f"{entry.cluster}/{entry.service}"
                raise Located(
                    ("services", index, "registry_account"),
                    f"{where}: registry_account {registry!r} is not in accounts",
                )
            key = (account, entry.region, entry.cluster, entry.service)
            if key in self._index:
                where = f" in {account or 'this account'}/{entry.region or 'this region'}"
                raise Located(
                    ("services", index),
                    f"{entry.cluster}/{entry.service}{where if account or entry.region else ''} "
                    "is listed more than once",
                )
            self._index[key] = entry
        return self

    def entry(
        self, cluster: str, service: str, account: str | None = None, region: str | None = None
    ) -> Entry | None:
        """The entry for a cluster and service name in an account id and region (None:
        the worker's own)."""
        return self._index.get((account, region, cluster, service))

    def account_id_of(self, entry: Entry) -> str | None:
        """The id of the account `entry` names (None: the worker's own)."""
        listed = account_of(self.accounts, entry.account) if entry.account else None
        return listed.account_id if listed is not None else None

    @model_validator(mode="after")
    def _index_releases(self) -> Allowlist:
        self._owners.update(index_releases(self.releases))
        # A release moves its members together and judges them by ECS's own verdicts; it
        # runs none of their gates. A gated member would deploy ungated through the
        # release, so it is refused here (the simpler, safe choice over running each
        # member's gates inside the release's all-or-nothing undo).
        for (cluster, service), release in self._owners.items():
            entry = self._index.get((None, None, cluster, service))
            if entry is not None and entry.gates:
                stages = ", ".join(g.at for g in entry.gates)
                raise ValueError(
                    f"{cluster}/{service} has gates ({stages}) but is a member of release "
                    f"{release.name}, which does not run its members' gates: a release "
                    "would deploy it ungated. Take the gates off, or the service out of "
                    "the release"
                )
        return self

    def release(self, name: str) -> Release | None:
        """The release called `name`, if any."""
        return next((r for r in self.releases if r.name == name), None)

    def release_of(self, cluster: str, service: str) -> Release | None:
        """The release a service is a member of, if any (its messages use its group)."""
        return self._owners.get((cluster, service))
