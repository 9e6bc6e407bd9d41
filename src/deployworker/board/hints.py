"""What the allowlist would need for a rejected message to pass (pure).

Read from the rejection's reason (the allowlist's own words, `intake/allowlist`) and
what the record knows of the message. A message that is invalid in itself (unreadable,
expired, badly signed, another account) gets no allowlist change: the sender must fix it.
"""

from __future__ import annotations

import re

from deployworker.ledger.record import Entry

_REPOSITORY = re.compile(r"image repository '([^']+)' is not allowlisted for (\S+)")
_CONTAINER = re.compile(r"container '([^']+)' of (\S+) is not allowlisted")
_SERVICE = re.compile(r"service (\S+?)(?: in (\S+))? is not in the allowlist")


def _repository(image: str) -> str:
    name = image.split("@", 1)[0]
    head, _, tail = name.rpartition(":")
    return head if head and "/" not in tail else name


def allowlist_hint(entry: Entry) -> str:
    """One sentence: the allowlist change that would admit this message, or why none would."""
    reason = entry.reason
    if m := _REPOSITORY.search(reason):
        return f"add {m.group(1)} to `images` of the entry for {m.group(2)}"
    if m := _CONTAINER.search(reason):
        return f"add {m.group(1)} to `containers` of the entry for {m.group(2)}"
    if m := _SERVICE.search(reason):
        cluster, _, service = m.group(1).partition("/")
        containers = sorted(entry.images) or ["<container>"]
        images = sorted({_repository(i) for i in entry.images.values()}) or ["<repository>"]
        where = f" (with accounts/regions for {m.group(2)})" if m.group(2) else ""
        return (
            f"an entry: cluster {cluster}, service {service}, containers "
            f"[{', '.join(containers)}], images [{', '.join(images)}]{where}"
        )
    return "none: the message itself must change (see the reason)"
