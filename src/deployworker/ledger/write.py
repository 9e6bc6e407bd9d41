"""The worker's ledger writer: final outcomes synchronously, the rest in order.

`record` writes at once and says whether the record now holds the transition (or one
past it): `settle` calls it for a final outcome before it deletes the message, and
leaves the message for redelivery when it answers False. `offer` queues the
transitions on the way (queued, in progress, paused, awaiting approval, votes) for a
background thread, so a slow table never slows a deploy; they are conditional like
every write, so one that lands late changes nothing. The thread gathers what is queued
for a moment and writes each record's consecutive transitions as one where that is the
same (`merge`): a deploy's "registered" and "rollout started" are one write, not two.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import replace

import structlog

from deployworker.aws.dynamodb import LedgerTable
from deployworker.errors import AwsError
from deployworker.failpoints import failpoint
from deployworker.ledger.merge import coalesce
from deployworker.ledger.record import Transition, update_request
from deployworker.ledger.states import FINAL

log = structlog.get_logger("deployworker.ledger")
DEFAULT_TTL_SECONDS = 90 * 86_400
ENDED_MEMORY = 10_000
# How long the background writer waits after a transition is queued for others of the
# same moment (a deploy's registration and its rollout's start), to write them as one.
GATHER_SECONDS = 0.05


class LedgerWriter:
    """Writes transitions to the ledger table."""

    def __init__(
        self,
        table: LedgerTable,
        replica: str,
        ttl_seconds: int = DEFAULT_TTL_SECONDS,
        capacity: int = 10_000,
        on_write: Callable[[str], None] = lambda _: None,
        gather: float = GATHER_SECONDS,
    ) -> None:
        self._table = table
        self.table = table
        self.replica = replica
        self._ttl = ttl_seconds
        self._queue: queue.Queue[Transition | None] = queue.Queue(maxsize=capacity)
        self._on_write = on_write  # result: written | refused | failed | dropped
        self._gather = gather
        self._thread: threading.Thread | None = None
        self._ended: dict[tuple[str, str], None] = {}  # recently ended records, oldest first
        self._lock = threading.Lock()

    def record(self, transition: Transition) -> bool:
        """Write `transition` now. True when the record holds it or a later state
        (a refused condition: already written, or past it); False when the table
        could not be written (after the adapter's retries)."""
        if transition.state in FINAL:
            failpoint("ledger_write")  # the outcome is known, the record not yet written
        if transition.replica is None:
            transition = replace(transition, replica=self.replica)
        request = update_request(transition, self._ttl)
        try:
            written = self._table.update(request)
        except AwsError as exc:
            log.error(
                "ledger.write_failed",
                target=transition.target,
                deploy_id=transition.deploy_id,
                state=transition.state,
                error=str(exc),
            )
            self._on_write("failed")
            return False
        self._on_write("written" if written else "refused")
        if transition.state in FINAL:
            # Queued transitions of an ended record would be refused: skip their writes.
            with self._lock:
                self._ended[(transition.target, transition.deploy_id)] = None
                while len(self._ended) > ENDED_MEMORY:
                    self._ended.pop(next(iter(self._ended)))
        if not written:
            log.debug(
                "ledger.refused",
                target=transition.target,
                deploy_id=transition.deploy_id,
                state=transition.state,
            )
        return True

    def offer(self, transition: Transition) -> None:
        """Queue a transition for the background writer; never blocks."""
        try:
            self._queue.put_nowait(transition)
        except queue.Full:
            log.warning("ledger.dropped", deploy_id=transition.deploy_id, reason="queue full")
            self._on_write("dropped")

    def start(self) -> None:
        """Start the background writer."""
        self._thread = threading.Thread(target=self._loop, name="ledger", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Write what is queued (within `timeout`), then stop."""
        self._queue.put(None)
        if self._thread is not None:
            self._thread.join(timeout)

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait up to `timeout` until every queued transition is written (tests)."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)
        return not self._queue.unfinished_tasks

    def _loop(self) -> None:
        stopping = False
        while not stopping:
            batch = [self._queue.get()]
            if batch[0] is not None:
                time.sleep(self._gather)  # let the transitions of this moment queue up
            while batch[-1] is not None:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            stopping = batch[-1] is None
            try:
                with self._lock:
                    live = [t for t in batch if t and (t.target, t.deploy_id) not in self._ended]
                try:
                    writes = coalesce(live)
                except Exception:  # a bug in merging must not lose the transitions
                    log.exception("ledger.merge_crashed")
                    writes = live
                for transition in writes:
                    try:
                        self.record(transition)
                    except Exception:  # the writer must outlive a bug in one transition
                        log.exception("ledger.write_crashed", deploy_id=transition.deploy_id)
            finally:
                for _ in batch:
                    self._queue.task_done()
