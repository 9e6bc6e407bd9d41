"""Which handler a message goes to: its message group decides.

A message in a `<cluster>/<service>/approvals` group is a vote and goes to the
approvals handler; every other message is a deploy and goes to the pipeline. The
approvals group is a FIFO group of its own, so SQS delivers votes while the deploy they
are for holds its `<cluster>/<service>` message, and the worker runs them in a slot of
their own, outside the pipeline's per-service serialisation. Votes neither supersede
deploys nor are superseded: they are never admissible as deploys.
"""

from __future__ import annotations

from typing import Protocol

from deployworker.aws.sqs import Message
from deployworker.deploy.job import Done
from deployworker.deploy.supersede import Request
from deployworker.intake.approval import is_approval_group
from deployworker.outcome import Result


class Votes(Protocol):
    """What the router needs of the approvals handler."""

    def start(self, message: Message, done: Done) -> None: ...

    def handle(self, message: Message) -> Result: ...


class Handler(Protocol):
    """What the worker and the group runner need: the pipeline's entry points."""

    def start(self, message: Message, done: Done) -> None: ...

    def handle(self, message: Message) -> Result: ...

    def abandon(self, message: Message, reason: str) -> None: ...

    def admissible(self, message: Message) -> Request | None: ...

    def supersede(self, message: Message, request: Request, newer: Message) -> Result: ...


class Router:
    """A `Handler` that sends votes to `approvals` and everything else to `pipeline`."""

    def __init__(self, pipeline: Handler, approvals: Votes | None) -> None:
        self.pipeline = pipeline
        self._approvals = approvals

    def _is_vote(self, message: Message) -> bool:
        return self._approvals is not None and is_approval_group(message.group_id)

    def start(self, message: Message, done: Done) -> None:
        """Run `message` on its handler; `done(result)` once, as `Pipeline.start`."""
        if self._approvals is not None and self._is_vote(message):
            self._approvals.start(message, done)
        else:
            self.pipeline.start(message, done)

    def handle(self, message: Message) -> Result:
        """Process `message` to its outcome, blocking (for tests and one-shot runs)."""
        if self._approvals is not None and self._is_vote(message):
            return self._approvals.handle(message)
        return self.pipeline.handle(message)

    def abandon(self, message: Message, reason: str) -> None:
        """A vote is handled in one step and holds nothing to abandon."""
        if not self._is_vote(message):
            self.pipeline.abandon(message, reason)

    def admissible(self, message: Message) -> Request | None:
        """Never a vote: votes take no part in superseding."""
        return None if self._is_vote(message) else self.pipeline.admissible(message)

    def supersede(self, message: Message, request: Request, newer: Message) -> Result:
        """As `Pipeline.supersede` (only deploys and releases get here)."""
        return self.pipeline.supersede(message, request, newer)
