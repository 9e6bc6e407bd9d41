"""Keeps in-flight messages invisible while their deploys run.

One thread extends every tracked message with ChangeMessageVisibilityBatch (10
per call) well before its visibility runs out. A message released or deleted is
never extended afterwards: untracking waits while a call that includes the
message is under way, and only then, so with a thousand messages held a settle
waits for one call at most, not for a round of a hundred.
"""

from __future__ import annotations

import threading

import structlog

from deployworker.aws.sqs import Sqs
from deployworker.errors import AwsError

log = structlog.get_logger("deployworker.heartbeat")
BATCH = 10


class Heartbeat:
    """Extends the visibility of tracked messages every `interval` seconds."""

    def __init__(self, sqs: Sqs, queue_url: str, visibility: int, interval: float) -> None:
        self._sqs = sqs
        self._queue_url = queue_url
        self._visibility = visibility
        self._interval = interval
        self._receipts: dict[str, str] = {}
        self._calling: set[str] = set()  # ids in the call under way
        self._lock = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def track(self, message_id: str, receipt_handle: str) -> None:
        """Start extending a message."""
        with self._lock:
            self._receipts[message_id] = receipt_handle

    def untrack(self, message_id: str) -> None:
        """Stop extending a message; returns only once no call can still touch it."""
        with self._lock:
            self._receipts.pop(message_id, None)
            self._lock.wait_for(lambda: message_id not in self._calling)

    def tracked(self) -> dict[str, str]:
        """A copy of what is being extended (message id to receipt handle)."""
        with self._lock:
            return dict(self._receipts)

    def start(self) -> None:
        """Start the heartbeat thread."""
        self._thread = threading.Thread(target=self._loop, name="heartbeat", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the heartbeat thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            self.beat()

    def beat(self) -> None:
        """Extend every tracked message once."""
        with self._lock:
            ids = list(self._receipts)
        for start in range(0, len(ids), BATCH):
            with self._lock:
                chunk = {
                    i: self._receipts[i] for i in ids[start : start + BATCH] if i in self._receipts
                }
                self._calling = set(chunk)
            if chunk:
                self._extend(chunk)
            with self._lock:
                self._calling = set()
                self._lock.notify_all()

    def _extend(self, chunk: dict[str, str]) -> None:
        try:
            failed = self._sqs.change_visibility_batch(
                self._queue_url, chunk, self._visibility, retry=False
            )
        except AwsError as exc:
            log.warning("heartbeat.failed", count=len(chunk), error=str(exc))
            return
        if failed:
            log.warning("heartbeat.partial", failed_message_ids=failed)
