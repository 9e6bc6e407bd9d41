"""The fakes behind `bench.replicas`: an events topic fanned out to the replicas' queues.

`FanoutSqs` serves the queue administration the replicas call (`rollout.replicaqueue`)
and delivers each event to every subscribed queue, as SNS with raw delivery would;
`FakeSns` keeps the subscriptions of the one events topic.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from typing import Any

from bench.fake_sqs import EVENTS_URL, FakeSqs
from bench.fakeaws import ACCOUNT, REGION

TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:ecs-events"
SQS_BASE = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/"


class FanoutSqs(FakeSqs):
    """FakeSqs with the replicas' own queues, each subscribed to the events topic."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.subscribed: dict[str, str] = {}  # queue ARN -> URL, while subscribed
        self._tags: dict[str, dict[str, str]] = {}

    def put_event(self, body: str) -> str:
        """EventBridge -> SNS -> every subscribed queue (raw delivery); without any
        subscription, the shared events queue."""
        with self.lock:
            urls = list(self.subscribed.values()) or [EVENTS_URL]
            ids = [self._put(url, body, os.urandom(8).hex(), "", {}) for url in urls]
        return ids[0]

    def create_queue(self, QueueName: str, Attributes: Any = None, tags: Any = None) -> Any:
        url = SQS_BASE + QueueName
        with self.lock:
            self._queues.setdefault(url, OrderedDict())
            self._tags[url] = dict(tags or {})
        return {"QueueUrl": url}

    def get_queue_attributes(self, QueueUrl: str, AttributeNames: list[str]) -> Any:
        name = QueueUrl.rsplit("/", 1)[-1]
        return {"Attributes": {"QueueArn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"}}

    def list_queues(self, QueueNamePrefix: str = "", **_: Any) -> Any:
        with self.lock:
            found = [u for u in self._tags if u.rsplit("/", 1)[-1].startswith(QueueNamePrefix)]
        return {"QueueUrls": found}

    def tag_queue(self, QueueUrl: str, Tags: dict[str, str]) -> Any:
        with self.lock:
            self._tags.setdefault(QueueUrl, {}).update(Tags)
        return {}

    def list_queue_tags(self, QueueUrl: str) -> Any:
        with self.lock:
            return {"Tags": dict(self._tags.get(QueueUrl, {}))}

    def delete_queue(self, QueueUrl: str) -> Any:
        with self.lock:
            self._queues.pop(QueueUrl, None)
            self._tags.pop(QueueUrl, None)
        return {}


class FakeSns:
    """Subscribe, Unsubscribe and ListSubscriptionsByTopic on the one events topic."""

    def __init__(self, sqs: FanoutSqs) -> None:
        self._sqs = sqs

    def subscribe(self, TopicArn: str, Endpoint: str, **_: Any) -> Any:
        with self._sqs.lock:
            self._sqs.subscribed[Endpoint] = SQS_BASE + Endpoint.rsplit(":", 1)[-1]
        return {"SubscriptionArn": f"{TopicArn}:{Endpoint}"}

    def unsubscribe(self, SubscriptionArn: str) -> Any:
        with self._sqs.lock:
            self._sqs.subscribed.pop(SubscriptionArn.split(":", 6)[-1], None)
        return {}

    def list_subscriptions_by_topic(self, TopicArn: str, **_: Any) -> Any:
        with self._sqs.lock:
            arns = list(self._sqs.subscribed)
        return {
            "Subscriptions": [{"Endpoint": a, "SubscriptionArn": f"{TopicArn}:{a}"} for a in arns]
        }
