"""The poll loop: receive, fan out by message group, settle, repeat.

Messages of one group are handled in order by one job; different groups run in
parallel, up to `max_in_flight` jobs (deploys) at once. A slot is a group, not a
message: a batch of ten messages for one service is one deploy at a time, and
must not keep nine other services waiting. When a message is retried or
released, the rest of its group's batch is released behind it, so order holds
and nothing waits on a group that cannot progress. A failure in one group never
blocks another.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait

import structlog

from deployworker.allowlist_file import AllowlistSource
from deployworker.aws.sqs import Message, Sqs
from deployworker.errors import AwsError
from deployworker.heartbeat import Heartbeat
from deployworker.httpd import Health
from deployworker.outcome import Outcome, Result
from deployworker.pipeline import Pipeline
from deployworker.settle import Settler
from deployworker.supersede import superseded

log = structlog.get_logger("deployworker.worker")
RECEIVE_ERROR_PAUSE = 2.0


def group_in_order(messages: list[Message]) -> list[list[Message]]:
    """Split a receive batch by MessageGroupId, keeping each group's order."""
    groups: dict[str, list[Message]] = {}
    for message in messages:
        groups.setdefault(message.group_id or message.message_id, []).append(message)
    return list(groups.values())


class Worker:
    """Receives and dispatches messages; owns nothing it did not get passed."""

    def __init__(
        self,
        sqs: Sqs,
        queue_url: str,
        pipeline: Pipeline,
        settler: Settler,
        heartbeat: Heartbeat,
        allowlist: AllowlistSource,
        health: Health,
        max_in_flight: int,
        poll_wait: int,
        visibility: int,
        on_received: Callable[[Message], None] = lambda _: None,
        on_in_flight: Callable[[int], None] = lambda _: None,
        supersede: bool = True,
    ) -> None:
        self._sqs = sqs
        self._queue_url = queue_url
        self._pipeline = pipeline
        self._settler = settler
        self._heartbeat = heartbeat
        self._allowlist = allowlist
        self._health = health
        self._max_in_flight = max_in_flight
        self._poll_wait = poll_wait
        self._visibility = visibility
        self._on_received = on_received
        self._on_in_flight = on_in_flight
        self._supersede = supersede
        self._held: dict[str, Message] = {}
        self._jobs = 0
        self._released: list[str] = []
        self._cond = threading.Condition()
        self._stopping = threading.Event()
        self._pool = ThreadPoolExecutor(max_in_flight, thread_name_prefix="deploy")
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        """Start the poll loop on its own thread."""
        self._thread = threading.Thread(target=self._loop, name="poller", daemon=True)
        self._thread.start()

    def stop_receiving(self) -> None:
        """Receive nothing more; jobs under way carry on."""
        self._stopping.set()
        with self._cond:
            self._cond.notify_all()

    def drain(self, grace: float) -> list[str]:
        """Wait up to `grace` seconds for held messages to settle, then hand back the rest.

        Returns the ids of every message handed back (visibility 0) since stopping began,
        by their own jobs or here.
        """
        deadline = time.monotonic() + grace
        with self._cond:
            while self._held and time.monotonic() < deadline:
                self._cond.wait(timeout=max(0.0, deadline - time.monotonic()))
            leftover = list(self._held.values())
        for message in leftover:
            self._finish(message, None)
        self._pool.shutdown(wait=False, cancel_futures=True)
        with self._cond:
            return list(self._released)

    @property
    def in_flight(self) -> int:
        """Messages currently held."""
        with self._cond:
            return len(self._held)

    # -- polling -----------------------------------------------------------------------------
    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                self.poll(self._poll_wait)
            except Exception:  # the loop must survive anything one round throws
                log.exception("poll.crashed")
                time.sleep(RECEIVE_ERROR_PAUSE)

    def run_once(self, wait_seconds: int = 0) -> int:
        """Receive one batch and process it to the end (for tests and one-shot runs)."""
        futures = self.poll(wait_seconds)
        wait(futures)
        return len(futures)

    def poll(self, wait_seconds: int) -> list[Future[None]]:
        """One receive, dispatched to the pool; returns the jobs started (one per group)."""
        self._allowlist.refresh()
        with self._cond:
            while self._jobs >= self._max_in_flight and not self._stopping.is_set():
                self._cond.wait(timeout=1.0)
                self._health.waiting()
            # At most `free` messages, so a receive can never start more than `free` groups.
            free = self._max_in_flight - self._jobs
        if self._stopping.is_set():
            return []
        try:
            messages = self._sqs.receive(
                self._queue_url, min(10, free), wait_seconds, self._visibility
            )
        except AwsError as exc:
            log.warning("poll.receive_failed", error=str(exc))
            time.sleep(RECEIVE_ERROR_PAUSE)
            return []
        self._health.polled()
        for message in messages:
            self._heartbeat.track(message.message_id, message.receipt_handle)
            self._on_received(message)
        with self._cond:
            self._held.update((m.message_id, m) for m in messages)
            self._on_in_flight(len(self._held))
        if self._stopping.is_set():
            for message in messages:
                self._finish(message, None)
            return []
        groups = group_in_order(messages)
        with self._cond:
            self._jobs += len(groups)
        return [self._pool.submit(self._run_group, group) for group in groups]

    def _run_group(self, messages: list[Message]) -> None:
        try:
            self._run_in_order(messages)
        finally:
            with self._cond:
                self._jobs -= 1
                self._cond.notify_all()

    def _run_in_order(self, messages: list[Message]) -> None:
        if self._supersede and len(messages) > 1:
            messages = self._drop_superseded(messages)
        for index, message in enumerate(messages):
            if self._stopping.is_set():
                for rest in messages[index:]:
                    self._finish(rest, None)
                return
            result = self._pipeline.handle(message)
            self._finish(message, result)
            if result.outcome in (Outcome.RETRIED, Outcome.RELEASED):
                for rest in messages[index + 1 :]:
                    self._finish(rest, None)
                return

    def _drop_superseded(self, messages: list[Message]) -> list[Message]:
        """Settle the deploys a newer message in this batch replaces; return the rest."""
        requests = [(m.message_id, self._pipeline.admissible(m)) for m in messages]
        replaced = superseded(requests)
        by_id = {m.message_id: m for m in messages}
        for (message_id, request), message in zip(requests, messages, strict=True):
            if message_id in replaced and request is not None:
                newer = by_id[replaced[message_id]]
                self._finish(message, self._pipeline.supersede(message, request, newer))
        return [m for m in messages if m.message_id not in replaced]

    def _finish(self, message: Message, result: Result | None) -> None:
        """Settle one message (None: release it untouched) and free its slot."""
        self._heartbeat.untrack(message.message_id)
        if result is not None:
            self._settler.settle(message, result)
        else:
            self._settler.release(message)
        with self._cond:
            handed_back = result is None or result.outcome == Outcome.RELEASED
            if handed_back and self._stopping.is_set():
                self._released.append(message.message_id)
            self._held.pop(message.message_id, None)
            self._on_in_flight(len(self._held))
            self._cond.notify_all()
