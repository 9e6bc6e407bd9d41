"""Stages 1 and 2, parse and allowlist: a message to an admitted request, or a `Rejection`.

No AWS calls: unwrapping, the optional signature check, validation, the scope
check (region and account) and the allowlist decision are all local, so the
worker can also run them ahead of time to decide superseding.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from deployworker.aws.sqs import Message
from deployworker.errors import Rejection
from deployworker.intake.allowlist import Decision, check_scope, decide
from deployworker.intake.entries import Allowlist
from deployworker.intake.message import DeployRequest
from deployworker.intake.parse import parse_request, unwrap
from deployworker.intake.signing import SIGNATURE_ATTRIBUTE, verify


@dataclass(frozen=True)
class Intake:
    """What a request must pass before anything touches AWS."""

    allowlist: Callable[[], Allowlist]
    region: str | None = None
    account: str | None = None
    signing_key: bytes | None = None
    signing_max_age: float = 86_400

    def parse(self, message: Message) -> DeployRequest:
        """Unwrap, check the signature when one is required, then validate.
        Raises `Rejection`."""
        unwrapped = unwrap(message.body)
        if self.signing_key is not None:
            signature = unwrapped.attributes.get(SIGNATURE_ATTRIBUTE) or message.attributes.get(
                SIGNATURE_ATTRIBUTE
            )
            verify(unwrapped.text, signature, self.signing_key, time.time(), self.signing_max_age)
        return parse_request(unwrapped)

    def admit(self, request: DeployRequest) -> Decision:
        """The allowlist's decision for a request in this worker's scope. Raises `Rejection`."""
        check_scope(request, self.region, self.account)
        return decide(self.allowlist(), request)

    def admissible(self, message: Message) -> DeployRequest | None:
        """The request in `message` if it is valid and allowed now; None otherwise."""
        try:
            request = self.parse(message)
            self.admit(request)
        except Rejection:
            return None
        return request
