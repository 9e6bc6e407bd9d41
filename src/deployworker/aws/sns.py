"""SNS adapter: publishing CI's deploy messages and the worker's deploy events."""

from __future__ import annotations

from typing import Any

from deployworker.aws._retry import Caller


class Sns:
    """Publishes to SNS."""

    def __init__(self, client: Any, caller: Caller) -> None:
        self._client = client
        self._caller = caller

    def publish(
        self,
        topic_arn: str,
        message: str,
        group_id: str | None = None,
        dedup_id: str | None = None,
        attributes: dict[str, str] | None = None,
    ) -> str:
        """Publish one message; FIFO topics need `group_id` and `dedup_id`. Returns its id."""
        kwargs: dict[str, Any] = {"TopicArn": topic_arn, "Message": message}
        if attributes:
            kwargs["MessageAttributes"] = {
                k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()
            }
        if group_id is not None:
            kwargs["MessageGroupId"] = group_id
        if dedup_id is not None:
            kwargs["MessageDeduplicationId"] = dedup_id
        response = self._caller.call("Publish", lambda: self._client.publish(**kwargs))
        return str(response["MessageId"])
