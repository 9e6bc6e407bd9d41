"""What the gate runner needs from others, and what it judges.

The approvals side implements `VoteBook` (verified, durable votes per deploy:
`deploy.approvals.book.TagVoteBook`); measurements come through one
`rollout.analysis.measure.Provider` (`rollout.analysis.providers.Providers`, which
sends each query to the provider of its kind). `Subject` names the deploy a gate judges.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from deployworker.deploy.approvals.votes import Vote

# (cluster, service, opened_at, deadline): an approval window opened; (.., None, None)
# when it closed.
Window = Callable[[str, str, float | None, float | None], None]


class VoteBook(Protocol):
    """The verified votes on one deploy, kept durably (they survive a worker crash)."""

    def votes(self, cluster: str, service: str, deploy_id: str) -> Sequence[Vote]: ...


class NoVotes:
    """The vote book until approvals are wired: nobody has voted."""

    def votes(self, cluster: str, service: str, deploy_id: str) -> Sequence[Vote]:
        """No votes, ever."""
        return ()


@dataclass(frozen=True)
class Subject:
    """What a gate judges: the deploy, and its revision (which carries the gate tag)."""

    cluster: str
    service: str
    deploy_id: str
    revision: str | None = None
    where: tuple[str, str] | None = None  # (account id, region) outside home; None: home
