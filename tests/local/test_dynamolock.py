"""moto's DynamoDB writes are atomic in local mode, as DynamoDB's are: of many
concurrent conditional creates of one item, exactly one succeeds."""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor

from botocore.exceptions import ClientError

from conftest import World


def creates_that_succeeded(world: World, key: str, writers: int = 16) -> int:
    table = world.ledger()
    client = table.client

    def create(n: int) -> bool:
        try:
            client.update_item(
                TableName=table.table,
                Key={"target": {"S": "prod/web"}, "deploy_id": {"S": key}},
                UpdateExpression="SET #w = :w",
                ConditionExpression="attribute_not_exists(#w)",
                ExpressionAttributeNames={"#w": "writer"},
                ExpressionAttributeValues={":w": {"N": str(n)}},
            )
        except ClientError as exc:
            refused = exc.response["Error"]["Code"] == "ConditionalCheckFailedException"
            return not refused  # any other error counts as a success, and fails the test
        return True

    with ThreadPoolExecutor(writers) as pool:
        return sum(pool.map(create, range(writers)))


def test_concurrent_conditional_writes_to_one_item_let_exactly_one_through(world: World) -> None:
    # The server runs in this process: switching threads often widens moto's window
    # between checking a condition and applying the write.
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        results = [creates_that_succeeded(world, f"race-{n}") for n in range(15)]
    finally:
        sys.setswitchinterval(interval)
    assert results == [1] * 15
