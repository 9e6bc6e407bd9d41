"""The in-memory SQS FIFO fake: group order, visibility, long polling, and a DLQ.

Semantics follow SQS FIFO: while any message of a group is in flight, no other
message of that group is handed out; one receive may return several messages of
one group, in order. Visibility timeouts and long-poll waits run on the
simulated clock. The events queue (ECS's events, for `bench.fake_event_emitter`)
is a standard queue: no groups, and with `shuffle` it hands messages out in random
order, as a standard queue may.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from bench.fakeaws import SQS_LIMIT, Ledger, SimClock, _Fake, accounted

QUEUE_URL = "https://sqs.eu-west-1.amazonaws.com/123456789012/deploys.fifo"
DLQ_URL = "https://sqs.eu-west-1.amazonaws.com/123456789012/deploys-dlq.fifo"
EVENTS_URL = "https://sqs.eu-west-1.amazonaws.com/123456789012/ecs-events"


@dataclass
class _Message:
    id: str
    body: str
    group: str
    dedup: str
    sent: float  # epoch seconds, as SentTimestamp reports
    attributes: dict[str, Any] = field(default_factory=dict)
    visible_at: float = 0.0  # simulated time
    receipt: str = ""
    receives: int = 0


class FakeSqs(_Fake):
    """The SQS client methods the worker calls, for one FIFO work queue and its DLQ."""

    def __init__(
        self,
        clock: SimClock,
        ledger: Ledger,
        latency: float = 0.040,
        shuffle: random.Random | None = None,
    ) -> None:
        super().__init__(clock, ledger, latency, {"*": SQS_LIMIT})
        self._queues: dict[str, OrderedDict[str, _Message]] = {
            QUEUE_URL: OrderedDict(),
            DLQ_URL: OrderedDict(),
            EVENTS_URL: OrderedDict(),
        }
        self._shuffle = shuffle  # the events queue's order, when it is not arrival order
        self._receipts: dict[str, tuple[str, str]] = {}
        self._changed = threading.Condition(self.lock)
        self.deleted: list[tuple[str, float]] = []  # (message id, simulated time)

    # -- seeding (not counted) ---------------------------------------------------------------
    def enqueue(self, body: str, group: str, dedup: str) -> str:
        with self.lock:
            return self._put(QUEUE_URL, body, group, dedup, {})

    def put_event(self, body: str) -> str:
        """An event EventBridge delivers: its own group, so nothing holds it back."""
        with self.lock:
            group = uuid.uuid4().hex
            return self._put(EVENTS_URL, body, group, group, {})

    def _put(self, url: str, body: str, group: str, dedup: str, attributes: dict[str, Any]) -> str:
        message_id = str(uuid.uuid4())
        self._queues[url][message_id] = _Message(
            message_id, body, group, dedup, time.time(), attributes
        )
        self._changed.notify_all()
        return message_id

    # -- the API -----------------------------------------------------------------------------
    @accounted
    def receive_message(
        self,
        QueueUrl: str,
        MaxNumberOfMessages: int = 1,
        WaitTimeSeconds: int = 0,
        VisibilityTimeout: int = 30,
        **_: Any,
    ) -> dict[str, Any]:
        self._enter("ReceiveMessage")
        deadline = self.clock.now() + WaitTimeSeconds
        with self.lock:
            while True:
                taken = self._take(QueueUrl, MaxNumberOfMessages, VisibilityTimeout)
                now = self.clock.now()
                if taken or now >= deadline:
                    break
                # Sleep until something changes, a message turns visible, or the wait ends.
                wake = min(
                    [deadline]
                    + [m.visible_at for m in self._queues[QueueUrl].values() if m.visible_at > now]
                )
                self._changed.wait(timeout=max(0.001, (wake - now) / self.clock.scale))
        return {"Messages": taken} if taken else {}

    def _take(self, url: str, limit: int, visibility: int) -> list[dict[str, Any]]:
        now = self.clock.now()
        busy = {m.group for m in self._queues[url].values() if m.receives and m.visible_at > now}
        taken: list[dict[str, Any]] = []
        messages = list(self._queues[url].values())
        if url == EVENTS_URL and self._shuffle is not None:
            self._shuffle.shuffle(messages)
        for message in messages:
            if len(taken) >= limit:
                break
            if message.group in busy:
                continue
            message.receives += 1
            message.visible_at = now + visibility
            message.receipt = uuid.uuid4().hex
            self._receipts[message.receipt] = (url, message.id)
            taken.append(
                {
                    "MessageId": message.id,
                    "ReceiptHandle": message.receipt,
                    "Body": message.body,
                    "Attributes": {
                        "MessageGroupId": message.group,
                        "MessageDeduplicationId": message.dedup,
                        "SentTimestamp": str(int(message.sent * 1000)),
                        "ApproximateReceiveCount": str(message.receives),
                    },
                }
            )
        return taken

    def _find(self, receipt: str) -> _Message | None:
        url, message_id = self._receipts.get(receipt, ("", ""))
        queue = self._queues.get(url)
        message = queue.get(message_id) if queue is not None else None
        # A stale receipt (the message was received again since) changes nothing.
        return message if message is not None and message.receipt == receipt else None

    @accounted
    def get_queue_attributes(self, QueueUrl: str, AttributeNames: list[str]) -> dict[str, Any]:
        """The worker asks once at start (readiness); the queue's ARN is all it reads."""
        self._enter("GetQueueAttributes")
        return {"Attributes": {"QueueArn": f"arn:aws:sqs:eu-west-1:123456789012:{QueueUrl}"}}

    @accounted
    def delete_message(self, QueueUrl: str, ReceiptHandle: str) -> dict[str, Any]:
        self._enter("DeleteMessage")
        with self.lock:
            message = self._find(ReceiptHandle)
            if message is not None:
                del self._queues[QueueUrl][message.id]
                self.deleted.append((message.id, self.clock.now()))
                self._changed.notify_all()
        return {}

    @accounted
    def delete_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self._enter("DeleteMessageBatch", len(Entries))
        with self.lock:
            for entry in Entries:
                message = self._find(entry["ReceiptHandle"])
                if message is not None:
                    del self._queues[QueueUrl][message.id]
        return {"Successful": [{"Id": e["Id"]} for e in Entries], "Failed": []}

    @accounted
    def change_message_visibility(
        self, QueueUrl: str, ReceiptHandle: str, VisibilityTimeout: int
    ) -> dict[str, Any]:
        self._enter("ChangeMessageVisibility")
        with self.lock:
            self._extend(ReceiptHandle, VisibilityTimeout)
        return {}

    @accounted
    def change_message_visibility_batch(
        self, QueueUrl: str, Entries: list[dict[str, Any]]
    ) -> dict[str, Any]:
        self._enter("ChangeMessageVisibilityBatch", len(Entries))
        ok, failed = [], []
        with self.lock:
            for entry in Entries:
                if self._extend(entry["ReceiptHandle"], int(entry["VisibilityTimeout"])):
                    ok.append({"Id": entry["Id"]})
                else:
                    failed.append(
                        {"Id": entry["Id"], "Code": "ReceiptHandleIsInvalid", "SenderFault": True}
                    )
        return {"Successful": ok, "Failed": failed}

    def _extend(self, receipt: str, seconds: int) -> bool:
        message = self._find(receipt)
        if message is None:
            return False
        message.visible_at = self.clock.now() + seconds
        if seconds == 0:  # available again: wake the long polls (an extension cannot help them)
            self._changed.notify_all()
        return True

    @accounted
    def send_message(
        self,
        QueueUrl: str,
        MessageBody: str,
        MessageGroupId: str,
        MessageDeduplicationId: str,
        MessageAttributes: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        self._enter("SendMessage")
        with self.lock:
            message_id = self._put(
                QueueUrl,
                MessageBody,
                MessageGroupId,
                MessageDeduplicationId,
                MessageAttributes or {},
            )
        return {"MessageId": message_id}
