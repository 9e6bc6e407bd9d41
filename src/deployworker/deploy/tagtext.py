"""Free text (a source URL, a commit, an actor) in ECS tag values, kept whole (pure).

ECS tag values take letters, digits, spaces and `_ . : / = + - @`, at most 256 of
them, and none may start with `aws:`. A URL has `?`, `&`, `#`, `%`...: replacing
them would change where it points, and cutting it at 256 would too. So every
character outside that set is written as `+HH` per UTF-8 byte (`+` itself as
`+2B`, the `a` of a leading `aws:` as `+61`), and a value longer than one tag holds
continues in `<key>:2`, `<key>:3`... `read` joins and decodes them back, exactly.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

ESCAPE = "+"
MAX_VALUE = 256
RESERVED = "aws:"
# What ECS allows in a tag value, without the escape character itself.
_ALLOWED = re.compile(r"[\w .:/=\-@]", re.UNICODE)
_ESCAPED_RUN = re.compile(r"(?:\+[0-9A-F]{2})+")


def _reserved(text: str) -> bool:
    return text[: len(RESERVED)].lower() == RESERVED


def encode(text: str) -> str:
    """`text` in ECS's tag-value alphabet; `decode` returns it unchanged."""
    out: list[str] = []
    for index, char in enumerate(text):
        if _ALLOWED.fullmatch(char) and not (index == 0 and _reserved(text)):
            out.append(char)
        else:
            out.extend(f"{ESCAPE}{byte:02X}" for byte in char.encode("utf-8", "surrogatepass"))
    return "".join(out)


def decode(value: str) -> str:
    """The text `encode` was given. A `+` that starts no escape is kept as it is."""

    def run(match: re.Match[str]) -> str:
        data = bytes.fromhex(match.group(0).replace(ESCAPE, ""))
        try:
            return data.decode("utf-8", "surrogatepass")
        except UnicodeDecodeError:  # not written by `encode`: leave it as it was
            return match.group(0)

    return _ESCAPED_RUN.sub(run, value)


def continuation(key: str, part: int) -> str:
    """The key of a value's `part`-th piece (1 is the key itself)."""
    return key if part == 1 else f"{key}:{part}"


def split(key: str, text: str) -> dict[str, str]:
    """The tags holding `text` under `key`: encoded, in pieces of at most 256 characters,
    none starting with `aws:`. Empty text needs no tag."""
    rest = encode(text)
    tags: dict[str, str] = {}
    while rest:
        cut = MAX_VALUE - 1 if _reserved(rest[MAX_VALUE:]) else MAX_VALUE
        tags[continuation(key, len(tags) + 1)] = rest[:cut]
        rest = rest[cut:]
    return tags


def read(tags: Mapping[str, str], key: str) -> str | None:
    """The text `split` stored under `key`, or None when there is none."""
    pieces: list[str] = []
    while (piece := tags.get(continuation(key, len(pieces) + 1))) is not None:
        pieces.append(piece)
    return decode("".join(pieces)) if pieces else None
