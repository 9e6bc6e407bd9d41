"""Events fan-out: a queue of this replica's own, subscribed to the topic of ECS's events.

With several replicas, one shared events queue hands each event to one replica, which
deletes it even when another replica follows that deployment. So ECS's events go to an
SNS topic (the EventBridge rule's target), and every replica reads a queue of its own
subscribed to it: every replica sees every event, and each ignores those about
deployments it does not follow. The replica makes its queue when it starts (name
`<prefix>-<host>-<random>`, retention 10 minutes, SSE-SQS, only the topic may send)
and removes it, with its subscription, when it stops. A replica that died without
removing its queue left a heartbeat tag older than `STALE_SECONDS`: the next replica to
start removes such queues, so none outlives its replica by much.
"""

from __future__ import annotations

import json
import re
import secrets
import socket
import time
from collections.abc import Callable

import structlog

from deployworker.aws.queueadmin import QueueAdmin
from deployworker.aws.sns import Sns
from deployworker.errors import AwsError

log = structlog.get_logger("deployworker.events")

TOPIC_TAG = "deployworker:ecs-events-topic"
HEARTBEAT_TAG = "deployworker:heartbeat"
HEARTBEAT_SECONDS = 60.0  # the consumer re-tags its queue this often
STALE_SECONDS = 900.0  # a queue whose heartbeat is this old lost its replica
RETENTION_SECONDS = 600  # an event older than the safety net is worth nothing


def queue_name(prefix: str, host: str | None = None, suffix: str | None = None) -> str:
    """`<prefix>-<host>-<random>`: letters, digits, - and _, at most 80 characters (SQS)."""
    host = re.sub(r"[^A-Za-z0-9_-]", "-", host or socket.gethostname())
    suffix = suffix or secrets.token_hex(4)
    return f"{prefix[:50]}-{host[: 79 - len(prefix[:50]) - len(suffix) - 1]}-{suffix}"[:80]


def queue_policy(queue_arn: str, topic_arn: str) -> str:
    """Only the topic may send to the queue."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "sns.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": queue_arn,
                    "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}},
                }
            ],
        }
    )


class ReplicaQueue:
    """This replica's events queue: `open` makes and subscribes it, `beat` keeps it
    alive, `close` removes it."""

    def __init__(
        self,
        queues: QueueAdmin,
        sns: Sns,
        topic_arn: str,
        prefix: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._queues, self._sns, self._topic, self._prefix = queues, sns, topic_arn, prefix
        self._clock = clock
        self.url: str | None = None
        self._arn = ""
        self._subscription: str | None = None

    def open(self) -> str:
        """Remove queues dead replicas left, make this replica's and subscribe it."""
        self.sweep()
        name = queue_name(self._prefix)
        region, account = self._topic.split(":")[3:5]
        arn = f"arn:{self._topic.split(':')[1]}:sqs:{region}:{account}:{name}"
        attributes = {
            "MessageRetentionPeriod": str(RETENTION_SECONDS),
            "SqsManagedSseEnabled": "true",
            "Policy": queue_policy(arn, self._topic),
        }
        self.url, self._arn = self._queues.create(name, attributes, self._tags())
        self._subscription = self._sns.subscribe_queue(self._topic, self._arn)
        log.info("events.replica_queue_opened", queue_url=self.url, topic_arn=self._topic)
        return self.url

    def beat(self) -> None:
        """Re-tag the queue: it still has its replica."""
        if self.url is not None:
            self._queues.tag(self.url, self._tags())

    def close(self) -> None:
        """Unsubscribe and delete the queue (best effort: `sweep` removes leftovers)."""
        try:
            if self._subscription is not None:
                self._sns.unsubscribe(self._subscription)
            if self.url is not None:
                self._queues.delete(self.url)
        except AwsError as exc:
            log.warning("events.replica_queue_not_removed", queue_url=self.url, error=str(exc))

    def sweep(self) -> int:
        """Remove the queues (and subscriptions) of replicas that stopped beating."""
        removed = 0
        subscriptions: dict[str, str] | None = None
        for url in self._queues.named(self._prefix):
            tags = self._queues.tags(url)
            beat = float(tags.get(HEARTBEAT_TAG) or 0)
            if tags.get(TOPIC_TAG) != self._topic or self._clock() - beat < STALE_SECONDS:
                continue
            if subscriptions is None:
                subscriptions = self._sns.subscriptions(self._topic)
            arn = self._arn_of(url)
            if arn in subscriptions:
                self._sns.unsubscribe(subscriptions[arn])
            self._queues.delete(url)
            removed += 1
            log.info("events.stale_queue_removed", queue_url=url)
        return removed

    def _arn_of(self, url: str) -> str:
        name = url.rstrip("/").rsplit("/", 1)[-1]
        account = url.rstrip("/").rsplit("/", 2)[-2]
        partition, region = self._topic.split(":")[1], self._topic.split(":")[3]
        return f"arn:{partition}:sqs:{region}:{account}:{name}"

    def _tags(self) -> dict[str, str]:
        return {TOPIC_TAG: self._topic, HEARTBEAT_TAG: str(int(self._clock()))}
