"""Keeps in-flight messages invisible while their deploys run.

One thread extends every tracked message with ChangeMessageVisibilityBatch (10
per call) well before its visibility runs out. A message released or deleted is
never extended afterwards: untracking waits while a call that includes the
message is under way, and only then, so with a thousand messages held a settle
waits for one call at most, not for a round of a hundred.

Messages are tracked by receipt handle, not message id: one replica may hold two
copies of a message (the first one's visibility lapsed and SQS delivered it again),
and each copy is extended, and untracked, on its own. When SQS refuses to extend a
copy for a reason that is the sender's (its receipt handle is no longer valid, or
its visibility would pass the 12-hour cap), the copy is lost: it is untracked and
its `on_lost` is told, so its deploy stops acting and the redelivery takes over.

An extension that failed for SQS's own reasons (an entry in the batch's `Failed` list
without SenderFault, or the whole call) is retried at the next beat, but it is not
trusted: each copy is known to be held only until its last *successful* extension
(or its receipt) plus the visibility timeout. A copy whose hold would run out within
one more interval (plus `SLACK`) is lost too, before SQS could deliver it elsewhere.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import structlog

from deployworker.aws.sqs import Sqs
from deployworker.errors import AwsError

log = structlog.get_logger("deployworker.heartbeat")
BATCH = 10
SLACK = 2.0  # seconds: a lost copy stops this long before SQS may show it to another
LAPSING = "VisibilityNotExtended"  # the code `on_lost` gets for a hold about to run out
URGENT_ATTEMPTS = 3  # immediate tries for a copy whose hold would lapse before the next beat

# Told why the copy was lost, e.g. "ReceiptHandleIsInvalid". Runs on the heartbeat's thread.
OnLost = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class _Tracked:
    message_id: str
    on_lost: OnLost | None


class Heartbeat:
    """Extends the visibility of tracked messages every `interval` seconds."""

    def __init__(self, sqs: Sqs, queue_url: str, visibility: int, interval: float) -> None:
        self._sqs = sqs
        self._queue_url = queue_url
        self._visibility = visibility
        self._interval = interval
        self._tracked: dict[str, _Tracked] = {}  # receipt handle -> the copy it names
        self._calling: set[str] = set()  # receipt handles in the call under way
        self._until: dict[str, float] = {}  # receipt handle -> held at least until (monotonic)
        self.clock: Callable[[], float] = time.monotonic
        self._lock = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def track(
        self, receipt_handle: str, message_id: str = "", on_lost: OnLost | None = None
    ) -> None:
        """Start extending the copy of a message that `receipt_handle` names."""
        with self._lock:
            self._tracked[receipt_handle] = _Tracked(message_id, on_lost)
            # Received (with this visibility) just before; the hold runs from then.
            self._until[receipt_handle] = self.clock() + self._visibility

    def untrack(self, receipt_handle: str) -> None:
        """Stop extending a copy; returns only once no call can still touch it."""
        with self._lock:
            self._tracked.pop(receipt_handle, None)
            self._until.pop(receipt_handle, None)
            self._lock.wait_for(lambda: receipt_handle not in self._calling)

    def tracked(self) -> dict[str, str]:
        """A copy of what is being extended (receipt handle to message id)."""
        with self._lock:
            return {receipt: t.message_id for receipt, t in self._tracked.items()}

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
            try:
                self.beat()
            except Exception:  # the heartbeat must outlive any single bad beat
                log.exception("heartbeat.crashed")

    def beat(self) -> None:
        """Extend every tracked copy once; tell the owners of copies SQS refused."""
        with self._lock:
            receipts = list(self._tracked)
        for start in range(0, len(receipts), BATCH):
            with self._lock:
                chunk = {r: r for r in receipts[start : start + BATCH] if r in self._tracked}
                self._calling = set(chunk)
            try:
                lost = self._extend(chunk) if chunk else []
            finally:
                # Whatever the call did, no untrack may wait on it any longer.
                with self._lock:
                    self._calling = set()
                    self._lock.notify_all()
            # Outside the lock and the call: an owner may untrack, settle, or stop a deploy.
            for tell, code in lost:
                try:
                    tell(code)
                except Exception:  # one owner's failure must not cost the others the news
                    log.exception("heartbeat.on_lost_failed")

    def _call(self, chunk: dict[str, str]) -> dict[str, tuple[str, bool]]:
        """One ChangeMessageVisibilityBatch: the entries that failed (all of them, for
        SQS's reasons, when the call itself failed)."""
        try:
            return self._sqs.change_visibility_batch(
                self._queue_url, chunk, self._visibility, retry=False
            )
        except AwsError as exc:
            log.warning("heartbeat.failed", count=len(chunk), error=str(exc))
            return {receipt: (exc.code, False) for receipt in chunk}

    def _extend(self, chunk: dict[str, str]) -> list[tuple[OnLost, str]]:
        began = self.clock()  # a successful extension holds from no later than this
        failed = self._call(chunk)
        margin = self._interval + SLACK
        for _ in range(URGENT_ATTEMPTS):
            # Copies the next beat would come too late for are tried again at once.
            with self._lock:
                urgent = {
                    r: r
                    for r, (_, sender_fault) in failed.items()
                    if not sender_fault
                    and r in self._tracked
                    and self._until.get(r, 0.0) - self.clock() <= margin
                }
            if not urgent:
                break
            again = self._call(urgent)
            failed = {r: f for r, f in failed.items() if r not in urgent or r in again}
            failed.update(again)
        lost: list[tuple[OnLost, str]] = []
        transient: list[str] = []
        now = self.clock()
        with self._lock:
            for receipt in chunk:
                copy = self._tracked.get(receipt)
                if copy is None:
                    continue
                if receipt not in failed:
                    self._until[receipt] = began + self._visibility
                    continue
                code, sender_fault = failed[receipt]
                if not sender_fault and self._until.get(receipt, 0.0) - now > margin:
                    transient.append(copy.message_id)  # the next beat tries again, in time
                    continue
                code = code if sender_fault else LAPSING
                del self._tracked[receipt]
                self._until.pop(receipt, None)
                log.warning("heartbeat.lost", message_id=copy.message_id, code=code)
                if copy.on_lost is not None:
                    lost.append((copy.on_lost, code))
        if transient:
            log.warning("heartbeat.partial", failed_message_ids=transient)
        return lost
