"""SQS adapter: receive, delete, visibility and dead-lettering for the FIFO work queue."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from deployworker.aws._retry import Caller
from deployworker.errors import PermanentAwsError


@dataclass(frozen=True, slots=True)
class Message:
    """One received message with the system attributes the worker uses."""

    message_id: str
    receipt_handle: str
    body: str
    group_id: str = ""
    dedup_id: str = ""
    sent_at: float = 0.0
    receive_count: int = 1
    attributes: Mapping[str, str] = field(default_factory=dict)


def _message(raw: Mapping[str, Any]) -> Message:
    attrs = raw.get("Attributes") or {}
    user = {
        name: str(value.get("StringValue", ""))
        for name, value in (raw.get("MessageAttributes") or {}).items()
    }
    return Message(
        message_id=str(raw["MessageId"]),
        receipt_handle=str(raw["ReceiptHandle"]),
        body=str(raw.get("Body", "")),
        group_id=str(attrs.get("MessageGroupId", "")),
        dedup_id=str(attrs.get("MessageDeduplicationId", "")),
        sent_at=int(attrs.get("SentTimestamp", 0)) / 1000.0,
        receive_count=int(attrs.get("ApproximateReceiveCount", 1)),
        attributes=user,
    )


class Sqs:
    """Calls against one work queue and its dead-letter queue."""

    def __init__(self, client: Any, caller: Caller) -> None:
        self._client = client
        self._caller = caller

    def receive(
        self, queue_url: str, max_messages: int, wait_seconds: int, visibility: int
    ) -> list[Message]:
        """Long-poll for up to `max_messages` (1..10) messages."""
        response = self._caller.call(
            "ReceiveMessage",
            lambda: self._client.receive_message(
                QueueUrl=queue_url,
                MaxNumberOfMessages=max(1, min(10, max_messages)),
                WaitTimeSeconds=wait_seconds,
                VisibilityTimeout=visibility,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            ),
        )
        return [_message(m) for m in response.get("Messages", [])]

    def delete(self, queue_url: str, receipt_handle: str) -> None:
        """Delete a message."""
        self._caller.call(
            "DeleteMessage",
            lambda: self._client.delete_message(QueueUrl=queue_url, ReceiptHandle=receipt_handle),
        )

    def delete_batch(self, queue_url: str, receipt_handles: Sequence[str]) -> int:
        """Delete up to 10 messages in one call; returns how many SQS could not delete."""
        if not receipt_handles:
            return 0
        entries = [{"Id": str(i), "ReceiptHandle": r} for i, r in enumerate(receipt_handles)]
        response = self._caller.call(
            "DeleteMessageBatch",
            lambda: self._client.delete_message_batch(QueueUrl=queue_url, Entries=entries),
        )
        return len(response.get("Failed", []))

    def change_visibility(self, queue_url: str, receipt_handle: str, seconds: int) -> None:
        """Set one message's visibility timeout (0 hands it back at once)."""
        self._caller.call(
            "ChangeMessageVisibility",
            lambda: self._client.change_message_visibility(
                QueueUrl=queue_url, ReceiptHandle=receipt_handle, VisibilityTimeout=seconds
            ),
        )

    def change_visibility_batch(
        self, queue_url: str, receipts: Mapping[str, str], seconds: int, retry: bool = True
    ) -> dict[str, tuple[str, bool]]:
        """Extend up to 10 messages at once (key to receipt handle); returns the keys
        that failed, each with its error code and whether SQS blames the sender (a
        receipt handle no longer valid, visibility past its 12-hour cap).

        `retry=False` makes one attempt: a heartbeat beats again soon anyway, and must
        not sit in a backoff while the messages it extends run out of time.
        """
        entries = [
            {"Id": str(i), "ReceiptHandle": receipt, "VisibilityTimeout": seconds}
            for i, receipt in enumerate(receipts.values())
        ]
        keys = list(receipts)
        call = self._caller.call if retry else self._caller.once
        response = call(
            "ChangeMessageVisibilityBatch",
            lambda: self._client.change_message_visibility_batch(
                QueueUrl=queue_url, Entries=entries
            ),
        )
        return {
            keys[int(f["Id"])]: (str(f.get("Code", "")), bool(f.get("SenderFault")))
            for f in response.get("Failed", [])
        }

    def send(
        self,
        queue_url: str,
        body: str,
        group_id: str,
        dedup_id: str,
        attributes: Mapping[str, str] | None = None,
    ) -> str:
        """Send one message to a FIFO queue; returns its message id."""
        kwargs: dict[str, Any] = {
            "QueueUrl": queue_url,
            "MessageBody": body,
            "MessageGroupId": group_id,
            "MessageDeduplicationId": dedup_id,
        }
        if attributes:
            kwargs["MessageAttributes"] = {
                k: {"DataType": "String", "StringValue": v} for k, v in attributes.items() if v
            }
        response = self._caller.call("SendMessage", lambda: self._client.send_message(**kwargs))
        return str(response["MessageId"])

    def attributes(self, queue_url: str, names: Sequence[str]) -> dict[str, str]:
        """Queue attributes by name."""
        response = self._caller.call(
            "GetQueueAttributes",
            lambda: self._client.get_queue_attributes(
                QueueUrl=queue_url, AttributeNames=list(names)
            ),
        )
        return dict(response.get("Attributes", {}))

    def dead_letter_queue_url(self, queue_url: str) -> str | None:
        """The DLQ named by the queue's redrive policy, as a URL; None when there is none."""
        policy = self.attributes(queue_url, ["RedrivePolicy"]).get("RedrivePolicy")
        if not policy:
            return None
        try:
            target_arn = str(json.loads(policy)["deadLetterTargetArn"])
        except (ValueError, KeyError) as exc:
            raise PermanentAwsError("GetQueueAttributes", "BadRedrivePolicy", str(exc)) from None
        _, _, _, _, account, name = target_arn.split(":", 5)
        response = self._caller.call(
            "GetQueueUrl",
            lambda: self._client.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account),
        )
        return str(response["QueueUrl"])
