"""SNS adapter: publishing to FIFO topics (CI's deploy messages, and later deploy events)."""

from __future__ import annotations

from typing import Any

from deployworker.aws._retry import Caller


class Sns:
    """Publishes to SNS."""

    def __init__(self, client: Any, caller: Caller) -> None:
        self._client = client
        self._caller = caller

    def publish(self, topic_arn: str, message: str, group_id: str, dedup_id: str) -> str:
        """Publish one message to a FIFO topic; returns its message id."""
        response = self._caller.call(
            "Publish",
            lambda: self._client.publish(
                TopicArn=topic_arn,
                Message=message,
                MessageGroupId=group_id,
                MessageDeduplicationId=dedup_id,
            ),
        )
        return str(response["MessageId"])
