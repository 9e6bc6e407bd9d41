"""moto's DynamoDB made atomic per write, as DynamoDB is.

DynamoDB evaluates a write's condition and applies the write as one atomic step
(Amazon DynamoDB Developer Guide, "Condition expressions" and "Conditional writes":
a conditional write succeeds only if the item's attributes meet the condition when
the write is applied). moto's backend checks the condition and then applies the
write with no lock, so two concurrent requests to its threaded server can both
pass a condition only one of them should: the ledger's forward-only rule depends
on it. One lock around moto's item writes restores AWS's behaviour.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

from moto.dynamodb.models import DynamoDBBackend

WRITES = ("update_item", "put_item", "delete_item", "transact_write_items")
_LOCK = threading.RLock()
_ORIGINAL: dict[str, Callable[..., Any]] = {}


def install() -> None:
    """Serialise moto's DynamoDB item writes."""
    for name in WRITES:
        if name in _ORIGINAL:
            continue
        original = getattr(DynamoDBBackend, name)
        _ORIGINAL[name] = original

        @functools.wraps(original)
        def locked(*args: Any, __original: Callable[..., Any] = original, **kwargs: Any) -> Any:
            with _LOCK:
                return __original(*args, **kwargs)

        setattr(DynamoDBBackend, name, locked)


def uninstall() -> None:
    """Put moto's DynamoDB back as it was."""
    for name, original in _ORIGINAL.items():
        setattr(DynamoDBBackend, name, original)
    _ORIGINAL.clear()
