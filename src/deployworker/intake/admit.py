"""Stages 1 and 2, parse and allowlist: a message to an admitted request, or a `Rejection`.

No AWS calls: unwrapping, the optional signature check, validation, the scope
check (region and account), the allowlist decision and the message group check are
all local, so the worker can also run them ahead of time to decide superseding.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from deployworker.aws.sqs import Message
from deployworker.errors import Rejection, not_allowed
from deployworker.intake.accounts import Target, resolve_target
from deployworker.intake.allowlist import Decision, check_scope, decide, find_entry
from deployworker.intake.entries import Allowlist
from deployworker.intake.message import DeployRequest
from deployworker.intake.parse import Unwrapped, parse_request, unwrap
from deployworker.intake.signing import DEFAULT_MAX_AGE, SIGNATURE_ATTRIBUTE, Verifier


def canonical_group(
    request: DeployRequest,
    allowlist: Allowlist | None = None,
    target: Target | None = None,
    home: Target | None = None,
) -> str:
    """The one MessageGroupId for deploys of the request's target: `<cluster>/<service>`
    by name (not ARN) at home, or `release/<name>` for a member of an allowlisted
    release; `<account_id>/<region>/<cluster>/<service>` in another account or region."""
    cluster, service = request.cluster_ref.name, request.service_ref.name
    if target is not None and home is not None and target != home:
        return target.group(home, cluster, service)
    release = allowlist.release_of(cluster, service) if allowlist is not None else None
    return release.group if release is not None else f"{cluster}/{service}"


def check_group(
    request: DeployRequest,
    group_id: str,
    allowlist: Allowlist | None = None,
    target: Target | None = None,
    home: Target | None = None,
) -> None:
    """Refuse a message sent in another group than its target's canonical one.

    SQS FIFO runs one message of a group at a time across every replica; that is what
    keeps two replicas from deploying one service at once, and it holds only if every
    message for a service shares one group. Raises `Rejection` naming the expected group.
    """
    expected = canonical_group(request, allowlist, target, home)
    plain = canonical_group(request, None, target, home)
    if expected not in (group_id, plain):
        # A release member: its single-service deploys share the release's group, so
        # they never run beside a release of the same service.
        raise not_allowed(
            f"MessageGroupId {group_id!r} is not the group of {plain}: "
            f"it is a member of release {expected.split('/', 1)[1]!r}, so its deploys must "
            f"be sent with MessageGroupId {expected!r}, the release's group"
        )
    if group_id != expected:
        raise not_allowed(
            f"MessageGroupId {group_id!r} is not the group of {expected}: deploys of a "
            f"service must all be sent with MessageGroupId {expected!r}, so that they run "
            "one at a time and in order"
        )


@dataclass(frozen=True)
class Intake:
    """What a request must pass before anything touches AWS."""

    allowlist: Callable[[], Allowlist]
    region: str | None = None
    account: str | None = None
    signing_key: Verifier | None = None  # its keys and destinations; None: signing off
    signing_max_age: float = DEFAULT_MAX_AGE
    serves: Target | None = None  # the one target admitted here; None: home

    @property
    def home(self) -> Target | None:
        """The worker's own account and region, when both are known."""
        return Target(self.account, self.region) if self.account and self.region else None

    def target_of(self, request: DeployRequest) -> Target | None:
        """The account and region `request` deploys to; None for home, or for a foreign
        ARN that `check_scope` refuses. Raises `Rejection`."""
        home = self.home
        if home is None:
            if request.account is not None or request.region is not None:
                raise not_allowed("the message names a target, and this worker's is unknown")
            return None
        target = resolve_target(request, self.allowlist().accounts, home)
        return None if target == home else target

    def parse(self, message: Message) -> DeployRequest:
        """Unwrap, check the signature when one is required, then validate.
        Raises `Rejection`."""
        return parse_request(self.unwrap(message))

    def unwrap(self, message: Message) -> Unwrapped:
        """The message text out of its envelope, its signature checked when one is
        required. Raises `Rejection`."""
        unwrapped = unwrap(message.body)
        if self.signing_key is not None:
            signature = unwrapped.attributes.get(SIGNATURE_ATTRIBUTE) or message.attributes.get(
                SIGNATURE_ATTRIBUTE
            )
            # SQS's SentTimestamp, which no sender sets: a replay is received later.
            sent_at = message.sent_at or time.time()
            self.signing_key.check(
                unwrapped.text, signature, sent_at, self.signing_max_age, message.group_id
            )
        return unwrapped

    def admit(self, request: DeployRequest, group_id: str) -> Decision:
        """The allowlist's decision for a request in this worker's scope, sent in its
        target's group. Raises `Rejection`."""
        allowlist = self.allowlist()
        target = self.target_of(request)
        name = (request.cluster_ref.name, request.service_ref.name)
        if target is None or find_entry(allowlist, *name, target, self.home) is None:
            check_scope(request, self.region, self.account)  # a foreign ARN's own reason
        decision = decide(allowlist, request, target, self.home)
        if target != self.serves:
            where = f"{target} (account/region)" if target else "this worker's own account"
            raise not_allowed(f"{where} is not served by this pipeline")
        check_group(request, group_id, allowlist, target, self.home)
        return decision

    def admissible(self, message: Message) -> DeployRequest | None:
        """The request in `message` if it is valid and allowed now; None otherwise."""
        try:
            request = self.parse(message)
            self.admit(request, message.group_id)
        except Rejection:
            return None
        return request
