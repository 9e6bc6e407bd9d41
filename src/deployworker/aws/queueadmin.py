"""SQS queue administration: a replica's own events queue, made, tagged, found and removed.

Only the events fan-out uses it (`rollout.replicaqueue`): each replica makes a queue of
its own, subscribed to the topic ECS's events are published to, and removes it when it
stops. The work queue and its DLQ are never made or removed by the worker.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

from deployworker.aws._retry import Caller
from deployworker.errors import PermanentAwsError

GONE = frozenset({"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"})


class QueueAdmin:
    """CreateQueue, DeleteQueue, ListQueues, TagQueue and ListQueueTags."""

    def __init__(self, client: Any, caller: Caller) -> None:
        self._client = client
        self._caller = caller

    def create(
        self, name: str, attributes: Mapping[str, str], tags: Mapping[str, str]
    ) -> tuple[str, str]:
        """Create (or find, when it exists with these attributes) a queue: (URL, ARN)."""
        response = self._caller.call(
            "CreateQueue",
            lambda: self._client.create_queue(
                QueueName=name, Attributes=dict(attributes), tags=dict(tags)
            ),
        )
        url = str(response["QueueUrl"])
        found = self._caller.call(
            "GetQueueAttributes",
            lambda: self._client.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"]),
        )
        return url, str(found["Attributes"]["QueueArn"])

    def delete(self, url: str) -> None:
        """Delete a queue (a missing one is fine: someone removed it already)."""
        try:
            self._caller.call("DeleteQueue", lambda: self._client.delete_queue(QueueUrl=url))
        except PermanentAwsError as exc:
            if exc.code not in GONE:
                raise

    def named(self, prefix: str) -> list[str]:
        """The URLs of the queues whose names start with `prefix` (ListQueues, paged)."""
        urls: list[str] = []
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"QueueNamePrefix": prefix, "MaxResults": 1000}
            kwargs.update({"NextToken": token} if token else {})
            response = self._caller.call("ListQueues", partial(self._client.list_queues, **kwargs))
            urls.extend(response.get("QueueUrls") or [])
            token = response.get("NextToken")
            if not token:
                return urls

    def tag(self, url: str, tags: Mapping[str, str]) -> None:
        """TagQueue."""
        self._caller.call("TagQueue", lambda: self._client.tag_queue(QueueUrl=url, Tags=dict(tags)))

    def tags(self, url: str) -> dict[str, str]:
        """ListQueueTags."""
        response = self._caller.call(
            "ListQueueTags", lambda: self._client.list_queue_tags(QueueUrl=url)
        )
        return dict(response.get("Tags") or {})
