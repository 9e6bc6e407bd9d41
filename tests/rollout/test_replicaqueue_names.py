"""A replica's own events queue: its name fits SQS's rules, and only the topic may send."""

from __future__ import annotations

import json
import re

from hypothesis import given
from hypothesis import strategies as st

from deployworker.rollout.replicaqueue import queue_name, queue_policy

TOPIC = "arn:aws:sns:eu-west-1:123456789012:deployworker-ecs-events"


@given(
    prefix=st.from_regex(r"[A-Za-z0-9_-]{1,50}", fullmatch=True),
    host=st.text(min_size=0, max_size=300),
)
def test_a_queue_name_is_what_sqs_accepts_and_starts_with_the_prefix(
    prefix: str, host: str
) -> None:
    # SQS CreateQueue: up to 80 characters, alphanumerics, hyphens and underscores.
    name = queue_name(prefix, host or "h", "0123abcd")
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,80}", name), name
    assert name.startswith(prefix + "-")
    assert name.endswith("-0123abcd")


def test_two_replicas_on_one_host_get_two_queues() -> None:
    assert queue_name("p", "host") != queue_name("p", "host")


def test_only_the_topic_may_send_to_the_queue() -> None:
    arn = "arn:aws:sqs:eu-west-1:123456789012:q"
    [statement] = json.loads(queue_policy(arn, TOPIC))["Statement"]
    assert statement["Principal"] == {"Service": "sns.amazonaws.com"}
    assert statement["Action"] == "sqs:SendMessage"
    assert statement["Resource"] == arn
    assert statement["Condition"] == {"ArnEquals": {"aws:SourceArn": TOPIC}}
