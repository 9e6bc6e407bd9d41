"""Optional HMAC-SHA256 message signatures, so that being able to send to the queue
is not enough to deploy.

The signature travels in the message attribute `deployworker-signature` as
`t=<unix seconds>,v1=<hex>`, where hex is HMAC-SHA256(key, "<t>.<body>") over the
exact body CI published. The timestamp bounds replays of an old, validly signed
message. Pure: the caller supplies the clock.
"""

from __future__ import annotations

import hashlib
import hmac
import re

from deployworker.errors import not_allowed

SIGNATURE_ATTRIBUTE = "deployworker-signature"
_FORMAT = re.compile(r"t=(?P<t>[0-9]{1,12}),v1=(?P<mac>[0-9a-f]{64})")


def _mac(key: bytes, timestamp: int, body: str) -> str:
    return hmac.new(key, f"{timestamp}.{body}".encode(), hashlib.sha256).hexdigest()


def sign(body: str, key: bytes, timestamp: int) -> str:
    """The attribute value that signs `body` at `timestamp`."""
    return f"t={timestamp},v1={_mac(key, timestamp, body)}"


def verify(body: str, signature: str | None, key: bytes, now: float, max_age: float) -> None:
    """Accept only a well-formed, matching signature made within `max_age` seconds.

    Raises `Rejection` (kind `not_allowed`) saying which check failed.
    """
    if not signature:
        raise not_allowed(f"message is not signed (attribute {SIGNATURE_ATTRIBUTE} missing)")
    match = _FORMAT.fullmatch(signature)
    if match is None:
        raise not_allowed("message signature is malformed (expected t=<unix>,v1=<hex>)")
    timestamp = int(match["t"])
    if not hmac.compare_digest(_mac(key, timestamp, body), match["mac"]):
        raise not_allowed("message signature does not match")
    if abs(now - timestamp) > max_age:
        raise not_allowed(f"message signature is older than {max_age:.0f}s (signed at {timestamp})")
