"""EventBridge rules with an SNS topic as their target, which moto 5.2 does not deliver to.

AWS lists SNS topics among EventBridge's targets (EventBridge User Guide, "Event bus
targets"); moto's `Rule.send_to_targets` delivers to logs, archives, SQS and event
buses only and raises NotImplementedError for the rest. Local mode fans ECS's events
out to every replica through a topic, so this patch publishes a matched event, as
JSON, to the topic (InputTransformer is not applied: the fan-out rule uses none), and
leaves every other target to moto.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

from moto.core.utils import iso_8601_datetime_without_milliseconds, utcfromtimestamp
from moto.events.models import Rule
from moto.sns.models import sns_backends
from moto.utilities.arns import parse_arn

_ORIGINAL: Callable[..., None] = Rule.send_to_targets


def _is_sns(target: dict[str, Any]) -> bool:
    return str(target.get("Arn", "")).startswith("arn:aws:sns:")


def _send(self: Rule, original_event: dict[str, Any], transform_input: bool = True) -> None:
    topics = [t for t in self.targets if _is_sns(t)]
    if topics and self.event_pattern.matches_event(original_event):
        event = dict(original_event)
        if isinstance(event.get("time"), int | float | str) and "T" not in str(event["time"]):
            stamp = utcfromtimestamp(float(event["time"]))
            event["time"] = iso_8601_datetime_without_milliseconds(stamp)
        for target in topics:
            arn = parse_arn(target["Arn"])
            sns_backends[arn.account][arn.region].publish(json.dumps(event), arn=target["Arn"])
    rest = copy.copy(self)  # moto's own targets, without touching the shared rule
    rest.targets = [t for t in self.targets if not _is_sns(t)]
    _ORIGINAL(rest, original_event, transform_input)


def install() -> None:
    """Deliver EventBridge events to SNS topic targets."""
    Rule.send_to_targets = _send


def uninstall() -> None:
    """Put moto's Rule back as it was."""
    Rule.send_to_targets = _ORIGINAL
