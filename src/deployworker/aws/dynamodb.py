"""DynamoDB adapter: the deploy ledger's table (conditional updates, reads, queries).

Writes and reads are paced by their own token buckets (a table's capacity is shared
with everything else that uses it, as an account's ECS limits are), classified and
retried by `Caller` like every other call. A `ConditionalCheckFailedException` is no
error here: it means the record is already at or past the state offered, and
`update` answers False.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from deployworker.aws._ratelimit import Budget
from deployworker.aws._retry import Caller
from deployworker.errors import PermanentAwsError

# Pacing, not AWS limits: an on-demand table serves thousands of writes a second, but the
# ledger must never crowd out the CI readers sharing it. A deploy writes about three
# times, and RegisterTaskDefinition's 1/s caps deploys, so 100/s is never the bottleneck.
DEFAULT_LEDGER_BUDGETS: Mapping[str, Budget] = {
    "UpdateItem": Budget(100.0, 200),
    "GetItem": Budget(50.0, 100),
    "Query": Budget(10.0, 20),
}
CONDITION_FAILED = "ConditionalCheckFailedException"

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def to_wire(value: Mapping[str, Any]) -> dict[str, Any]:
    """A plain mapping as DynamoDB attribute values."""
    return {k: _serializer.serialize(v) for k, v in value.items()}


def from_wire(item: Mapping[str, Any]) -> dict[str, Any]:
    """A DynamoDB item as a plain mapping (numbers as `Decimal`)."""
    return {k: _deserializer.deserialize(v) for k, v in item.items()}


class LedgerTable:
    """One DynamoDB table, keyed (`target`, `deploy_id`)."""

    def __init__(self, client: Any, caller: Caller, table: str) -> None:
        self._client = client
        self.client = client  # public: tests inject faults into it
        self._caller = caller
        self.table = table

    def update(self, request: Mapping[str, Any]) -> bool:
        """Apply one conditional UpdateItem (`record.update_request`'s parameters);
        False when its condition refused it."""
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "Key": to_wire(request["Key"]),
            "UpdateExpression": request["UpdateExpression"],
            "ConditionExpression": request["ConditionExpression"],
            "ExpressionAttributeNames": request["ExpressionAttributeNames"],
            "ExpressionAttributeValues": to_wire(request["ExpressionAttributeValues"]),
        }
        try:
            self._caller.call("UpdateItem", lambda: self._client.update_item(**kwargs))
        except PermanentAwsError as exc:
            if exc.code == CONDITION_FAILED:
                return False
            raise
        return True

    def get(self, target: str, deploy_id: str, consistent: bool = True) -> dict[str, Any] | None:
        """The item for (target, deploy_id), or None."""
        key = to_wire({"target": target, "deploy_id": deploy_id})
        response = self._caller.call(
            "GetItem",
            lambda: self._client.get_item(TableName=self.table, Key=key, ConsistentRead=consistent),
        )
        item = response.get("Item")
        return from_wire(item) if item else None

    def query(
        self,
        key_condition: str,
        values: Mapping[str, Any],
        index: str | None = None,
        limit: int = 50,
        newest_first: bool = True,
        names: Mapping[str, str] | None = None,
    ) -> list[dict[str, Any]]:
        """Up to `limit` items matching `key_condition` (paginated until then)."""
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": key_condition,
            "ExpressionAttributeValues": to_wire(values),
            "ScanIndexForward": not newest_first,
            "Limit": limit,
        }
        if names:
            kwargs["ExpressionAttributeNames"] = dict(names)
        if index:
            kwargs["IndexName"] = index
        items: list[dict[str, Any]] = []
        while len(items) < limit:
            page = self._caller.call("Query", lambda: self._client.query(**kwargs))
            items.extend(from_wire(item) for item in page.get("Items") or [])
            start = page.get("LastEvaluatedKey")
            if not start:
                break
            kwargs["ExclusiveStartKey"] = start
            kwargs["Limit"] = limit - len(items)
        return items[:limit]


def table_definition(name: str) -> dict[str, Any]:
    """CreateTable parameters for the ledger (local mode and tests; Terraform in
    deploy/terraform/modules/deployworker-ledger makes the same table on AWS)."""
    keys = [("target", "S"), ("deploy_id", "S"), ("created_at", "N")]
    keys += [("phase", "S"), ("updated_at", "N")]
    return {
        "TableName": name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": n, "AttributeType": t} for n, t in keys],
        "KeySchema": [
            {"AttributeName": "target", "KeyType": "HASH"},
            {"AttributeName": "deploy_id", "KeyType": "RANGE"},
        ],
        "LocalSecondaryIndexes": [
            {
                "IndexName": "by_time",
                "KeySchema": [
                    {"AttributeName": "target", "KeyType": "HASH"},
                    {"AttributeName": "created_at", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": "by_phase",
                "KeySchema": [
                    {"AttributeName": "phase", "KeyType": "HASH"},
                    {"AttributeName": "updated_at", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    }


def create_table(client: Any, name: str) -> None:
    """Create the ledger table with its TTL on `expires_at`, unless it exists."""
    try:
        client.create_table(**table_definition(name))
    except client.exceptions.ResourceInUseException:
        return
    client.get_waiter("table_exists").wait(TableName=name)
    client.update_time_to_live(
        TableName=name,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"},
    )
