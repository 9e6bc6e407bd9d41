"""Deploy events as AWS Chatbot (Amazon Q Developer in chat applications) custom
notifications, and the SNS message attributes every event carries (pure).

Chatbot renders only its custom-notification shape
(https://docs.aws.amazon.com/chatbot/latest/adminguide/custom-notifs.html):
`version` "1.0", `source` "custom", `content` (`textType` "client-markdown", `title`,
`description`, `nextSteps`, `keywords`) and `metadata` (`threadId`, `summary`,
`eventType`, `relatedResources`, `additionalContext` of strings). `threadId` is the
deploy_id, so one deploy's notifications thread together.

The attributes (`type`, `outcome`, `cluster`, `service`) let an SNS subscription filter
policy route events without parsing the body (docs/notifications.md).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from deployworker.observe.events import DeployEvent

FORMATS = ("json", "chatbot")
ATTRIBUTES = ("type", "outcome", "cluster", "service")
_EMOJI = {
    "deployed": ":white_check_mark:",
    "noop": ":white_check_mark:",
    "failed": ":x:",
    "rolled_back": ":leftwards_arrow_with_hook:",
    "migration_failed": ":x:",
    "overtaken": ":fast_forward:",
    "superseded": ":fast_forward:",
}


def attributes(event: DeployEvent) -> dict[str, str]:
    """The event's SNS message attributes: only those set (SNS refuses empty values)."""
    found = {name: getattr(event, name) for name in ATTRIBUTES}
    return {name: str(value) for name, value in found.items() if value}


def _where(event: DeployEvent) -> str:
    if event.cluster and event.service:
        return f"{event.cluster}/{event.service}"
    return event.release or "deployworker"


def chatbot(event: DeployEvent) -> str:
    """The event as a Chatbot custom notification (JSON)."""
    where = _where(event)
    what = event.outcome or event.type.replace("_", " ")
    title = f"{_EMOJI.get(event.outcome or '', ':information_source:')} {where}: {what}"
    lines = [f"*{event.type}*" + (f": {event.reason}" if event.reason else "")]
    if event.image:
        lines.append(f"image `{event.image}`")
    if event.deploy_id:
        lines.append(f"deploy_id `{event.deploy_id}`")
    if event.duration is not None:
        lines.append(f"took {event.duration:.0f} s")
    steps = [
        str(event.gate[k])
        for k in ("command", "reject_command")
        if event.gate and event.gate.get(k)
    ]
    context = {
        "type": event.type,
        "cluster": event.cluster,
        "service": event.service,
        "deploy_id": event.deploy_id,
        "outcome": event.outcome,
        "image": event.image,
        "release": event.release,
    }
    metadata: dict[str, object] = {
        "summary": f"{where}: {what}",
        "eventType": event.type,
        "relatedResources": [event.task_definition] if event.task_definition else [],
        "additionalContext": {k: str(v) for k, v in context.items() if v},
    }
    if event.deploy_id:
        metadata["threadId"] = event.deploy_id
    document = {
        "version": "1.0",
        "source": "custom",
        "id": f"{event.deploy_id or 'none'}:{event.type}:{event.time:.6f}",
        "content": {
            "textType": "client-markdown",
            "title": title,
            "description": "\n".join(lines),
            "nextSteps": [f"`{step}`" for step in steps],
            "keywords": [k for k in (event.cluster, event.service, event.outcome) if k],
        },
        "metadata": metadata,
    }
    return json.dumps(document, sort_keys=True)
