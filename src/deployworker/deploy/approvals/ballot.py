"""Votes as tags on the deploy's revision, and back (pure).

A verified vote is stored where every replica can read it and a crash cannot lose it:
one tag on the task-definition revision the deploy registered (the one carrying its
`deployworker:deploy-key`), `deployworker:vote:<n>` = `v1 <action> <unix time>
<principal> <comment>`, each field in `tagtext`'s encoding (spaces escaped too), the
comment cut so the value fits ECS's 256 characters. A revision holds at most
`MAX_VOTES` votes and never more than ECS's 50 tags; a later revision of the family
does not inherit them (`plan.merge_tags` drops every `deployworker:` tag).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Literal

from deployworker.deploy.approvals.votes import Vote, person
from deployworker.deploy.plan import AWS_PREFIX, MAX_TAGS
from deployworker.deploy.tagtext import MAX_VALUE, decode, encode

VOTE_PREFIX = "deployworker:vote:"
# When the deploy's newest gate window opened (unix seconds): a vote is bound to the
# window it was cast in, so a person votes again at each gate (each LINEAR step's).
WINDOW_TAG = "deployworker:window"
MAX_VOTES = 20
_KEY = re.compile(r"^deployworker:vote:(?P<n>[0-9]{1,4})$")


def _field(text: str) -> str:
    return encode(text).replace(" ", "+20")


def is_vote_tag(name: str) -> bool:
    """Whether tag `name` holds a vote."""
    return _KEY.fullmatch(name) is not None


def encode_vote(vote: Vote, reserve: int = 0) -> str:
    """The tag value for `vote` (at most 256 characters less `reserve`, which a seal
    takes: `deploy.tagseal`; the comment is cut to fit)."""
    head = f"v1 {vote.action} {int(vote.at)} {_field(vote.principal)}"
    room = MAX_VALUE - reserve - len(head) - 1
    pieces: list[str] = []
    for char in vote.comment:  # whole characters only: a cut never splits an escape
        piece = _field(char)
        room -= len(piece)
        if room < 0:
            break
        pieces.append(piece)
    comment = "".join(pieces)
    return f"{head} {comment}" if comment else head


def decode_vote(value: str) -> Vote | None:
    """The vote a tag value holds, or None when it is not one `encode_vote` wrote."""
    parts = value.split(" ", 4)
    if len(parts) < 4 or parts[0] != "v1" or parts[1] not in ("approve", "reject"):
        return None
    if not parts[2].isdigit():
        return None
    comment = decode(parts[4]) if len(parts) == 5 else ""
    action: Literal["approve", "reject"] = "approve" if parts[1] == "approve" else "reject"
    return Vote(action, decode(parts[3]), float(parts[2]), comment)


def votes_in(tags: Mapping[str, str]) -> list[Vote]:
    """Every vote stored in a revision's tags, in the order they were recorded."""
    numbered: list[tuple[int, Vote]] = []
    for key, value in tags.items():
        match = _KEY.fullmatch(key)
        vote = decode_vote(value) if match else None
        if match and vote is not None:
            numbered.append((int(match["n"]), vote))
    return [vote for _, vote in sorted(numbered, key=lambda item: item[0])]


def window_tag(opened: float) -> dict[str, str]:
    """The tag that says when the deploy's newest gate window opened."""
    return {WINDOW_TAG: str(int(opened))}


def window_of(tags: Mapping[str, str]) -> float:
    """When the deploy's newest gate window opened (0 when no gate opened yet)."""
    value = tags.get(WINDOW_TAG, "")
    return float(value) if value.isdigit() else 0.0


def earlier_vote(tags: Mapping[str, str], principal: str) -> Vote | None:
    """The vote this session already cast in the newest gate window (`tally` binds
    votes to the window; a vote of an earlier window is another gate's)."""
    who, since = person(principal), window_of(tags)
    return next((v for v in votes_in(tags) if person(v.principal) == who and v.at >= since), None)


def next_vote_tag(tags: Mapping[str, str]) -> str | None:
    """The key for one more vote, or None when the revision has no room for it:
    `MAX_VOTES` votes already, or ECS's 50 tags (its `aws:` tags do not count)."""
    used = [int(m["n"]) for k in tags if (m := _KEY.fullmatch(k))]
    counted = [k for k in tags if not k.lower().startswith(AWS_PREFIX)]
    if len(used) >= MAX_VOTES or len(counted) >= MAX_TAGS:
        return None
    return f"{VOTE_PREFIX}{max(used, default=0) + 1}"


def room_reason(tags: Mapping[str, str]) -> str:
    """Why `next_vote_tag` found no room, for the DLQ."""
    votes = sum(1 for k in tags if _KEY.fullmatch(k))
    if votes >= MAX_VOTES:
        return f"the deploy already holds {votes} votes, the most kept per deploy"
    return f"the deploy's revision already has ECS's {MAX_TAGS} tags: no room for a vote"
