"""Stage 2, allowlist: the opt-in list of what may be deployed where.

Pure: `load_allowlist` takes YAML text, `decide` takes a request. Anything not
listed is denied. Errors in the file name the line they come from, because the
platform team reads them in a pull-request check. The schema is in `entries`.
"""

from __future__ import annotations

from dataclasses import dataclass

import yaml
from pydantic import ValidationError

from deployworker.errors import not_allowed
from deployworker.intake.accounts import Target, account_of
from deployworker.intake.entries import Allowlist, Entry
from deployworker.intake.fields import FROM_FILE
from deployworker.intake.imageref import parse_image
from deployworker.intake.message import DeployRequest
from deployworker.intake.problems import Problem, duplicate_keys, problems


class AllowlistError(ValueError):
    """An invalid allowlist file: every `Problem` found; `line` and `reason` are the
    first's (`line` is 1-based, or None when unknown)."""

    def __init__(self, line: int | None, reason: str, found: list[Problem] | None = None) -> None:
        self.problems = found or [Problem(line, "", reason)]
        first = self.problems[0]
        super().__init__("; ".join(str(p) for p in self.problems))
        self.line = first.line
        self.reason = f"{first.field}: {first.message}" if first.field else first.message


def load_allowlist(text: str) -> Allowlist:
    """Parse and validate allowlist YAML.

    Raises `AllowlistError` carrying every problem found, each with its line: keys given
    twice in one mapping, then each field pydantic refused (a model's own checks run once
    its fields are valid, so they may show on the next run).
    """
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        raise AllowlistError(mark.line + 1 if mark else None, f"YAML: {exc.problem}") from None
    except yaml.YAMLError as exc:
        raise AllowlistError(None, f"YAML: {exc}") from None
    if not isinstance(data, dict):
        raise AllowlistError(1, "the allowlist must be a mapping with 'version' and 'services'")
    found = duplicate_keys(node)
    try:
        allowlist = Allowlist.model_validate(data, context=FROM_FILE)
    except ValidationError as exc:
        found += problems(exc, node)
    if found:
        found.sort(key=lambda p: p.line or 0)
        raise AllowlistError(found[0].line, found[0].message, found)
    return allowlist


@dataclass(frozen=True, slots=True)
class Decision:
    """An allowed request and the entry that allowed it."""

    request: DeployRequest
    entry: Entry
    target: Target | None = None  # None: the worker's own account and region


def find_entry(
    allowlist: Allowlist, cluster: str, service: str, target: Target | None, home: Target | None
) -> Entry | None:
    """The entry for a service in `target` (None: home). A home entry may leave its
    account and region out or name them; another target's entry names them."""
    if home is None:
        return allowlist.entry(cluster, service)
    target = target or home  # an entry naming home's account or region matches it too
    accounts = [None, target.account] if target.account == home.account else [target.account]
    regions = [None, target.region] if target.region == home.region else [target.region]
    for account in accounts:
        for region in regions:
            if (entry := allowlist.entry(cluster, service, account, region)) is not None:
                return entry
    return None


def decide(
    allowlist: Allowlist,
    request: DeployRequest,
    target: Target | None = None,
    home: Target | None = None,
) -> Decision:
    """Allow `request` only if its cluster, service (in its target account and region),
    every container and every image repository are listed. Raises `Rejection` (kind
    `not_allowed`) saying which part failed.
    """
    cluster, service = request.cluster_ref.name, request.service_ref.name
    entry = find_entry(allowlist, cluster, service, target, home)
    if entry is None:
        where = f" in {target}" if target is not None and target != home else ""
        raise not_allowed(f"service {cluster}/{service}{where} is not in the allowlist")
    source = request.promote_from
    if source is not None and not any(
        (s.cluster, s.service) == (source.cluster, source.service)
        and same_account(allowlist, s.account, source.account)
        and s.region == source.region
        for s in entry.promote_from
    ):
        where = "/".join(p for p in (source.account, source.region) if p)
        raise not_allowed(
            f"{cluster}/{service} does not list {source.cluster}/{source.service}"
            f"{f' in {where}' if where else ''} in promote_from"
        )
    check_images(entry, {name: str(ref) for name, ref in request.targets.items()})
    return Decision(request, entry, target if target != home else None)


def same_account(allowlist: Allowlist, a: str | None, b: str | None) -> bool:
    """Whether two account names (alias, id or None for the target's own) are one."""
    if a is None or b is None:
        return a is b
    listed_a, listed_b = account_of(allowlist.accounts, a), account_of(allowlist.accounts, b)
    return a == b or (listed_a is not None and listed_a == listed_b)


def check_images(entry: Entry, images: dict[str, str]) -> None:
    """Every container must be listed and every image's repository allowed, exactly.

    Raises `Rejection` (kind `not_allowed`). Used for the images a message names and
    for images found elsewhere (a promotion's source, a rollback target).
    """
    cluster, service = entry.cluster, entry.service
    for container, text in images.items():
        try:
            image = parse_image(text)
        except ValueError as exc:
            reason = f"image of container {container!r} cannot be checked: {exc}"
            raise not_allowed(reason) from None
        if container not in entry.containers:
            raise not_allowed(
                f"container {container!r} of {cluster}/{service} is not allowlisted "
                f"(allowed: {', '.join(entry.containers)})"
            )
        # Exact repository equality: a prefix match would let `.../web-evil` pass for `.../web`.
        if image.repository not in entry.images:
            raise not_allowed(
                f"image repository {image.repository!r} is not allowlisted for {cluster}/{service}"
            )


def check_scope(request: DeployRequest, region: str | None, account: str | None) -> None:
    """Deny ARNs that point outside the worker's own region or account.

    Names carry no region, so the allowlist alone cannot tell `prod` in another
    region from ours; an ARN can, and must agree. Reduced to its name, a foreign ARN
    would deploy the same-named service here, so an ARN that cannot be checked (the
    worker's region or account unknown) is denied too.
    """
    for ref in (request.cluster_ref, request.service_ref):
        if ref.region and ref.region != region:
            if not region:
                raise not_allowed(f"{ref.raw!r} names a region, and this worker's is unknown")
            raise not_allowed(f"{ref.raw!r} is in region {ref.region}, this worker serves {region}")
        if ref.account and ref.account != account:
            if not account:
                raise not_allowed(f"{ref.raw!r} names an account, and this worker's is unknown")
            raise not_allowed(f"{ref.raw!r} is in account {ref.account}, not {account}")
