"""Optional HMAC-SHA256 message signatures, so that being able to send to the queue
is not enough to deploy, and a captured message cannot be replayed elsewhere or later.

The signature travels in the message attribute `deployworker-signature` as
`t=<unix seconds>,v2=<hex>`, where hex is HMAC-SHA256(key, "v2\\n<t>\\n<group>\\n
<destination>\\n<body>") over the exact body CI published, the MessageGroupId it was
sent with and the ARN it was sent to (the SNS topic or the SQS queue). So a signed
message replayed to another service's group, another queue or another worker's topic
does not verify.

The time is checked against the moment SQS received the message (its SentTimestamp,
which the sender cannot set), not against the worker's clock: a message that waits
in its group behind a long deploy is still good, and a captured message sent again
later is not. `DEFAULT_MAX_AGE` is that allowance.

Several keys verify (the current one and the previous or pending one), so the key can
rotate while replicas restart one by one. Pure: the caller supplies the times.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass

from deployworker.errors import not_allowed

SIGNATURE_ATTRIBUTE = "deployworker-signature"
# Five minutes: room for clock skew between CI and AWS and for SNS's delivery to SQS,
# both seconds in practice; and SQS FIFO's own deduplication window is five minutes,
# so a replay within it with the same deduplication id is dropped by SQS itself.
DEFAULT_MAX_AGE = 300.0
_FORMAT = re.compile(r"t=(?P<t>[0-9]{1,12}),v(?P<v>[12])=(?P<mac>[0-9a-f]{64})")


def _mac(key: bytes, timestamp: int, group: str, destination: str, body: str) -> str:
    text = f"v2\n{timestamp}\n{group}\n{destination}\n{body}"
    return hmac.new(key, text.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()


def sign(body: str, key: bytes, timestamp: int, group: str, destination: str) -> str:
    """The attribute value that signs `body`, sent at `timestamp` in `group` to
    `destination` (the topic or queue ARN)."""
    return f"t={timestamp},v2={_mac(key, timestamp, group, destination, body)}"


def verify(
    body: str,
    signature: str | None,
    keys: Sequence[bytes],
    sent_at: float,
    max_age: float,
    group: str,
    destinations: Sequence[str],
) -> None:
    """Accept only a well-formed signature that one of `keys` made for this body, group
    and one of `destinations`, within `max_age` seconds of `sent_at`.

    Raises `Rejection` (kind `not_allowed`) saying which check failed.
    """
    if not signature:
        raise not_allowed(f"message is not signed (attribute {SIGNATURE_ATTRIBUTE} missing)")
    match = _FORMAT.fullmatch(signature)
    if match is None:
        raise not_allowed("message signature is malformed (expected t=<unix>,v2=<hex>)")
    if match["v"] == "1":
        raise not_allowed(
            "message signature is v1, which covers the body only and can be replayed to "
            "another group or queue: sign with `deployworker publish` (v2)"
        )
    timestamp = int(match["t"])
    macs = [_mac(k, timestamp, group, d, body) for k in keys for d in destinations]
    if not any(hmac.compare_digest(mac, match["mac"]) for mac in macs):
        raise not_allowed(
            "message signature does not match (body, MessageGroupId and destination are signed)"
        )
    if abs(sent_at - timestamp) > max_age:
        raise not_allowed(
            f"message was signed at {timestamp}, more than {max_age:.0f}s from when SQS "
            f"received it ({sent_at:.0f}): a replayed message is not accepted"
        )


def queue_arn(queue_url: str, region: str | None) -> str:
    """The ARN of the queue a URL names (`https://sqs.<region>.amazonaws.com/<account>/
    <name>`, or an emulator's `http://host:port/<account>/<name>`): what a message sent
    straight to the queue is signed for. Computed, so neither CI nor the worker needs
    GetQueueAttributes for it."""
    rest = queue_url.split("://", 1)[-1]
    host, _, path = rest.partition("/")
    account, _, name = path.strip("/").partition("/")
    labels = host.split(".")
    where = labels[1] if len(labels) > 2 and labels[0] == "sqs" else (region or "")
    partition = "aws-cn" if where.startswith("cn-") else "aws"
    partition = "aws-us-gov" if where.startswith("us-gov-") else partition
    return f"arn:{partition}:sqs:{where}:{account}:{name}"


@dataclass(frozen=True)
class Verifier:
    """What a worker checks signatures with: its keys (current first, then the previous
    or pending one) and the destinations it receives from (its queue, and the topic
    that feeds it)."""

    keys: tuple[bytes, ...]
    destinations: tuple[str, ...]

    def check(
        self, body: str, signature: str | None, sent_at: float, max_age: float, group: str
    ) -> None:
        """`verify` with this worker's keys and destinations. Raises `Rejection`."""
        verify(body, signature, self.keys, sent_at, max_age, group, self.destinations)
