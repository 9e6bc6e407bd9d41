"""The statements the events fan-out adds to `deployworker iam-policy` (pure).

With several replicas each makes, reads and removes a queue of its own (named with the
prefix) subscribed to the topic of ECS's events; the Terraform module grants the same
when `replicas` > 1.
"""

from __future__ import annotations

from typing import Any


def fanout_statements(
    partition: str, region: str, account_id: str, topic_arn: str, prefix: str
) -> list[dict[str, Any]]:
    """OwnEcsEventsQueues, FindEcsEventsQueues and SubscribeToEcsEvents."""
    queues = f"arn:{partition}:sqs:{region}:{account_id}:{prefix}-*"
    own = [
        "sqs:CreateQueue",
        "sqs:DeleteQueue",
        "sqs:GetQueueAttributes",
        "sqs:SetQueueAttributes",
        "sqs:TagQueue",
        "sqs:ListQueueTags",
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
    ]
    subscribe = ["sns:Subscribe", "sns:Unsubscribe", "sns:ListSubscriptionsByTopic"]
    return [
        {"Sid": "OwnEcsEventsQueues", "Effect": "Allow", "Action": own, "Resource": [queues]},
        # ListQueues has no resource-level permission: AWS requires "*". It names queues only.
        {"Sid": "FindEcsEventsQueues", "Effect": "Allow", "Action": ["sqs:ListQueues"]}
        | {"Resource": ["*"]},
        {"Sid": "SubscribeToEcsEvents", "Effect": "Allow", "Action": subscribe}
        | {"Resource": [topic_arn]},
    ]
