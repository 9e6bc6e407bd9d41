"""DynamoDB's single-item writes made atomic in moto, as they are in DynamoDB.

DynamoDB applies each PutItem, UpdateItem and DeleteItem, its condition included, as
one atomic step (Amazon DynamoDB Developer Guide, "Condition expressions"). moto 5.2's
`update_item` reads the item, checks the condition, stores an empty item when there was
none, then applies the update, with no lock: two threads of the threaded server can
both find no item, and the later one's empty item replaces the earlier one's write (a
ledger record's `rejected` lost to a concurrent `queued`). `install` serialises item
writes behind one lock; `uninstall` puts moto back.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

from moto.dynamodb.models import DynamoDBBackend

WRITES = ("put_item", "update_item", "delete_item", "transact_write_items", "batch_write_item")
_LOCK = threading.RLock()
_ORIGINAL: dict[str, Callable[..., Any]] = {}


def _atomic(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def write(self: Any, *args: Any, **kwargs: Any) -> Any:
        with _LOCK:
            return method(self, *args, **kwargs)

    return write


def install() -> None:
    """Serialise moto's DynamoDB item writes (idempotent)."""
    for name in WRITES:
        if name not in _ORIGINAL:
            _ORIGINAL[name] = getattr(DynamoDBBackend, name)
            setattr(DynamoDBBackend, name, _atomic(_ORIGINAL[name]))


def uninstall() -> None:
    """Put moto's writes back as they were."""
    for name, method in _ORIGINAL.items():
        setattr(DynamoDBBackend, name, method)
    _ORIGINAL.clear()
