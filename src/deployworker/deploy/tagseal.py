"""A MAC on one tag's value, bound to the revision and the tag's key (pure).

The worker keeps state that a redelivered copy or another replica must read back as
tags on the deploy's revision: votes (`deployworker:vote:<n>`) and which PAUSE hook id
was which stage's (`deployworker:hooks`). Anyone who may call `ecs:TagResource` can
write a tag, so each such value is stored sealed, `s1.<mac> <value>`: an HMAC-SHA256
(cut to 96 bits) under the worker's tag key (`intake.keys.load_tag_key`, the key of
`deploy.trust`) over the revision's ARN, the tag's key and its value. A value written
by hand, or copied from another revision or another tag, does not open and is read as
absent. Without a tag key, values are written as they are and read as they are (the
worker logs `tags.unsealed` at start), as `deploy.trust` does.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping

PREFIX = "s1."
_MAC = 24  # hex characters of the HMAC kept: 96 bits
ROOM = len(PREFIX) + _MAC + 1  # characters a seal takes of a tag value's 256


def _mac(key: bytes, arn: str, name: str, value: str) -> str:
    text = f"{arn}\n{name}\n{value}"
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()[:_MAC]


def seal(key: bytes | None, arn: str, name: str, value: str) -> str:
    """`value` as stored in tag `name` of revision `arn`: sealed when there is a key."""
    return value if key is None else f"{PREFIX}{_mac(key, arn, name, value)} {value}"


def opened(key: bytes | None, arn: str, name: str, stored: str) -> str | None:
    """The value a stored tag holds, or None when its seal does not hold. Without a key
    every value is taken as it is (a seal written earlier is taken off)."""
    mac, space, value = stored[len(PREFIX) :].partition(" ")
    is_sealed = stored.startswith(PREFIX) and space == " " and len(mac) == _MAC
    if key is None:
        return value if is_sealed else stored
    if not is_sealed:
        return None
    return value if same(mac, _mac(key, arn, name, value)) else None


def same(mac: str, expected: str) -> bool:
    """Whether a MAC read from a tag is `expected`, in constant time. Compared as UTF-8
    bytes: `hmac.compare_digest` raises on a str that is not ASCII, and ECS takes any
    letter in a tag value, so a forged MAC must be unequal, never an exception."""
    return hmac.compare_digest(mac.encode(), expected.encode())


def opened_tags(
    key: bytes | None, arn: str, tags: Mapping[str, str], ours: Callable[[str], bool]
) -> dict[str, str]:
    """`tags` with every tag `ours` names opened: those whose seal does not hold are
    left out; the others are kept as they are."""
    found: dict[str, str] = {}
    for name, stored in tags.items():
        value = opened(key, arn, name, stored) if ours(name) else stored
        if value is not None:
            found[name] = value
    return found
