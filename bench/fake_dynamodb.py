"""An in-memory DynamoDB table for the ledger's benchmark: it applies the worker's
UpdateItem calls and counts what they would cost on AWS.

Costs follow DynamoDB's documented rules: a write consumes one write unit per KB of
the item (rounded up; a refused conditional write still consumes one), and each
index holding the item is written too: the local index `by_time` once per write,
the global index `by_phase` twice when its key (`phase`, `updated_at`) changes (a
delete and a put). Item size is the attributes' names plus their values (UTF-8
strings, numbers as about 1 byte per 2 digits plus 1, 3 bytes per map or list plus
1 per element), with 100 bytes of index overhead per index copy.
The condition is judged by the ledger's pure rule (`states.may_follow` on the
stored rank), which is what the real condition expression encodes.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections import Counter
from typing import Any

from botocore.exceptions import ClientError

from deployworker.aws.dynamodb import from_wire, to_wire
from deployworker.ledger.states import FINAL_RANK

KB = 1024
INDEX_OVERHEAD = 100
_ASSIGN = re.compile(r",\s(?=#)")


def size_of(value: Any) -> int:
    """DynamoDB's size of an attribute value, in bytes."""
    if isinstance(value, str):
        return len(value.encode())
    if isinstance(value, bool) or value is None:
        return 1
    if isinstance(value, int | float) or hasattr(value, "as_tuple"):
        return len(str(value).lstrip("-").replace(".", "")) // 2 + 1
    if isinstance(value, dict):
        return 3 + sum(len(k) + size_of(v) + 1 for k, v in value.items())
    if isinstance(value, list):
        return 3 + sum(size_of(v) + 1 for v in value)
    return len(str(value))


def item_size(item: dict[str, Any]) -> int:
    """An item's size: names plus values."""
    return sum(len(name) + size_of(value) for name, value in item.items())


class FakeDynamo:
    """The ledger's table: UpdateItem, GetItem; with DynamoDB's write costs."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], dict[str, Any]] = {}
        self.calls: Counter[str] = Counter()
        self.units: Counter[str] = Counter()  # table, by_time, by_phase, read
        self.sizes: list[int] = []
        self.cpu = 0.0
        self._lock = threading.Lock()

    def update_item(self, **kwargs: Any) -> dict[str, Any]:
        begin = time.thread_time()
        try:
            return self._update(kwargs)
        finally:
            self.cpu += time.thread_time() - begin

    def _update(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        key = from_wire(kwargs["Key"])
        names = kwargs["ExpressionAttributeNames"]
        values = from_wire(kwargs["ExpressionAttributeValues"])
        with self._lock:
            self.calls["UpdateItem"] += 1
            stored = self.items.get((key["target"], key["deploy_id"]))
            if not self._allowed(stored, values, kwargs["ConditionExpression"]):
                self.units["table"] += max(1, math.ceil(item_size(stored or key) / KB))
                self.calls["refused"] += 1
                error = {"Code": "ConditionalCheckFailedException", "Message": "refused"}
                response: Any = {"Error": error, "ResponseMetadata": {"HTTPStatusCode": 400}}
                raise ClientError(response, "UpdateItem")
            item = dict(stored or key)
            for assignment in _ASSIGN.split(kwargs["UpdateExpression"].removeprefix("SET ")):
                target, expression = assignment.split(" = ", 1)
                item[names[target]] = self._evaluate(expression, item, names, values)
            size = item_size(item)
            self.sizes.append(size)
            self.units["table"] += math.ceil(size / KB)
            self.units["by_time"] += math.ceil((size + INDEX_OVERHEAD) / KB)
            moved = stored is None or (stored.get("phase"), stored.get("updated_at")) != (
                item.get("phase"),
                item.get("updated_at"),
            )
            copies = 1 if stored is None else 2 if moved else 1
            self.units["by_phase"] += copies * math.ceil((size + INDEX_OVERHEAD) / KB)
            self.items[(key["target"], key["deploy_id"])] = item
        return {}

    @staticmethod
    def _allowed(stored: dict[str, Any] | None, values: dict[str, Any], condition: str) -> bool:
        if condition.startswith("attribute_exists"):
            return stored is not None and int(stored.get("rank", 0)) < FINAL_RANK
        if stored is None or "rank" not in stored:
            return True
        rank = int(stored["rank"])
        if ":rank" not in values:  # a rejection: a queued record, or its own unfinished one
            own = rank < FINAL_RANK and stored.get("message_id") == values.get(":mid")
            return rank == 0 or own
        return rank <= int(values[":rank"]) and rank < FINAL_RANK

    @staticmethod
    def _evaluate(
        expression: str, item: dict[str, Any], names: dict[str, str], values: dict[str, Any]
    ) -> Any:
        found = re.fullmatch(r"if_not_exists\((#\w+), (:\w+)\)", expression)
        if found:
            return item.get(names[found[1]], values[found[2]])
        found = re.fullmatch(r"list_append\(if_not_exists\((#\w+), (:\w+)\), (:\w+)\)", expression)
        if found:
            return [*item.get(names[found[1]], values[found[2]]), *values[found[3]]]
        return values[expression]

    def get_item(self, **kwargs: Any) -> dict[str, Any]:
        key = from_wire(kwargs["Key"])
        with self._lock:
            self.calls["GetItem"] += 1
            item = self.items.get((key["target"], key["deploy_id"]))
            size = item_size(item) if item else 1
            # A strongly consistent read: one unit per 4 KB.
            self.units["read"] += math.ceil(size / (4 * KB))
        return {"Item": to_wire(item)} if item else {}
