"""SNS adapter: publishing CI's deploy messages and the worker's deploy events, and a
replica's subscription to the topic of ECS's events."""

from __future__ import annotations

from functools import partial
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

    def subscribe_queue(self, topic_arn: str, queue_arn: str) -> str:
        """Subscribe an SQS queue with raw delivery (the body is the event itself)."""
        response = self._caller.call(
            "Subscribe",
            lambda: self._client.subscribe(
                TopicArn=topic_arn,
                Protocol="sqs",
                Endpoint=queue_arn,
                Attributes={"RawMessageDelivery": "true"},
                ReturnSubscriptionArn=True,
            ),
        )
        return str(response["SubscriptionArn"])

    def unsubscribe(self, subscription_arn: str) -> None:
        """Unsubscribe."""
        self._caller.call(
            "Unsubscribe", lambda: self._client.unsubscribe(SubscriptionArn=subscription_arn)
        )

    def subscriptions(self, topic_arn: str) -> dict[str, str]:
        """Endpoint to subscription ARN, for every subscription of the topic (paged)."""
        found: dict[str, str] = {}
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"TopicArn": topic_arn}
            kwargs.update({"NextToken": token} if token else {})
            response = self._caller.call(
                "ListSubscriptionsByTopic",
                partial(self._client.list_subscriptions_by_topic, **kwargs),
            )
            for sub in response.get("Subscriptions") or []:
                found[str(sub.get("Endpoint"))] = str(sub.get("SubscriptionArn"))
            token = response.get("NextToken")
            if not token:
                return found
