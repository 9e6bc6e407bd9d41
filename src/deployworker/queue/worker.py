"""The poll loop: receive, fan out by message group, settle, repeat.

Messages of one group are handled in order (`groups`); different groups run in parallel,
up to `max_in_flight` groups (deploys) at once. A slot is a group, not a message: a
batch of ten messages for one service is one deploy at a time, and must not keep nine
other services waiting. When a message is retried or released, the rest of its group's
batch is released behind it, so order holds and nothing waits on a group that cannot
progress. A failure in one group never blocks another.

A slot holds no thread: a small pool runs the active part of each deploy, and the
pipeline calls back when the deploy has an outcome. Several receivers poll at once while
the queue has a backlog and slots are free; when it is quiet only the first one
long-polls, so an idle worker costs one ReceiveMessage per `poll_wait` seconds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, wait
from contextlib import suppress
from functools import partial

import structlog

from deployworker.aws.sqs import Message, Sqs
from deployworker.deploy.supersede import group_in_order
from deployworker.errors import AwsError
from deployworker.intake.allowlist_file import AllowlistSource
from deployworker.observe.httpd import Health
from deployworker.outcome import Outcome, Result
from deployworker.queue.groups import GroupRunner
from deployworker.queue.heartbeat import Heartbeat
from deployworker.queue.route import Handler
from deployworker.queue.settle import Settler

log = structlog.get_logger("deployworker.worker")
RECEIVE_ERROR_PAUSE = 2.0
BATCH = 10  # ReceiveMessage returns at most 10 messages


class Worker:
    """Receives and dispatches messages; owns nothing it did not get passed."""

    def __init__(
        self,
        sqs: Sqs,
        queue_url: str,
        pipeline: Handler,
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
        deploy_threads: int = 16,
        receivers: int = 4,
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
        self._receivers = max(1, receivers)
        self._held: dict[str, Message] = {}  # by receipt handle: a replica may hold 2 copies
        self._lost: set[str] = set()  # receipt handles SQS would not extend
        self._jobs = 0
        self._reserved = 0  # slots promised to receives under way
        self._backlog = False  # the last receive came back full: the queue has more
        self._released: list[str] = []
        self._cond = threading.Condition()
        self._stopping = threading.Event()
        self._groups = GroupRunner(
            pipeline, self._finish, self._stopping, self._group_ended, deploy_threads, supersede
        )
        self._threads: list[threading.Thread] = []

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        """Ask the queue once (so readiness waits for no long poll), start the receivers."""
        with suppress(AwsError):  # otherwise the first receive that works makes it ready
            self._sqs.attributes(self._queue_url, ["QueueArn"])
            self._health.answered()
        for index in range(self._receivers):
            loop = partial(self._loop, index)
            self._threads.append(threading.Thread(target=loop, name=f"poller-{index}", daemon=True))
            self._threads[-1].start()

    def stop_receiving(self) -> None:
        """Receive nothing more; jobs under way carry on."""
        self._stopping.set()
        with self._cond:
            self._cond.notify_all()

    def drain(self, grace: float) -> list[str]:
        """Wait up to `grace` seconds for held messages to settle, then hand back the rest
        (abandoned first: no write after the hand-back, a gate's included). Returns the
        ids of every message handed back (visibility 0) since stopping began."""
        deadline = time.monotonic() + grace
        with self._cond:
            while self._held and time.monotonic() < deadline:
                self._cond.wait(timeout=max(0.0, deadline - time.monotonic()))
            leftover = list(self._held.values())
        for message in leftover:
            self._pipeline.abandon(message, "worker shutting down")
            self._finish(message, None)
        self._groups.shutdown()
        with self._cond:
            return list(self._released)

    @property
    def in_flight(self) -> int:
        """Messages currently held."""
        with self._cond:
            return len(self._held)

    # -- polling -----------------------------------------------------------------------------
    def _loop(self, index: int) -> None:
        while not self._stopping.is_set():
            try:
                if index == 0 or self._wait_for_backlog(index):
                    self.poll(self._poll_wait)
            except Exception:  # the loop must survive anything one round throws
                log.exception("poll.crashed")
                time.sleep(RECEIVE_ERROR_PAUSE)

    def _wait_for_backlog(self, index: int) -> bool:
        """Extra receiver `index` runs only while the queue has a backlog and there are
        slots for every receiver up to it; True when it should receive now."""
        with self._cond:
            ready = self._cond.wait_for(
                lambda: (
                    self._stopping.is_set()
                    or (self._backlog and self._free() >= BATCH * (index + 1))
                ),
                timeout=1.0,
            )
            return bool(ready) and not self._stopping.is_set()

    def _free(self) -> int:
        return self._max_in_flight - self._jobs - self._reserved

    def run_once(self, wait_seconds: int = 0) -> int:
        """Receive one batch and process it to the end (for tests and one-shot runs)."""
        futures = self.poll(wait_seconds)
        wait(futures)
        return len(futures)

    def poll(self, wait_seconds: int) -> list[Future[None]]:
        """One receive, dispatched; returns a future per group started (done once settled)."""
        self._allowlist.refresh()
        with self._cond:
            while self._free() <= 0 and not self._stopping.is_set():
                self._cond.wait(timeout=1.0)
                self._health.waiting()
            # At most `free` messages, so a receive can never start more than `free` groups.
            asked = min(BATCH, self._free())
            self._reserved += asked
        try:
            messages = self._receive(asked, wait_seconds)
        except BaseException:
            with self._cond:
                self._reserved -= asked
            raise
        for message in messages:
            self._heartbeat.track(
                message.receipt_handle, message.message_id, partial(self._lose, message)
            )
            self._on_received(message)
        groups = group_in_order(messages)
        with self._cond:
            # Reservation and jobs change together, so no other receiver sees the
            # slots free in between and over-receives.
            self._reserved -= asked
            starting = not self._stopping.is_set()
            self._jobs += len(groups) if starting else 0
            self._backlog = len(messages) == asked == BATCH
            self._held.update((m.receipt_handle, m) for m in messages)
            self._on_in_flight(len(self._held))
            self._cond.notify_all()
        if not starting:
            for message in messages:
                self._finish(message, None)
            return []
        futures: list[Future[None]] = []
        for group in groups:
            future: Future[None] = Future()
            futures.append(future)
            self._groups.run(group, future)
        return futures

    def _receive(self, asked: int, wait_seconds: int) -> list[Message]:
        if self._stopping.is_set():
            return []
        try:
            messages = self._sqs.receive(self._queue_url, asked, wait_seconds, self._visibility)
        except AwsError as exc:
            log.warning("poll.receive_failed", error=str(exc))
            time.sleep(RECEIVE_ERROR_PAUSE)
            return []
        self._health.polled()
        return messages

    def _group_ended(self) -> None:
        with self._cond:
            self._jobs -= 1
            self._cond.notify_all()

    def _lose(self, message: Message, code: str) -> None:
        """SQS refused to extend this copy: its deploy stops acting; redelivery resumes it."""
        with self._cond:
            self._lost.add(message.receipt_handle)
        log.warning("message.lost", message_id=message.message_id, code=code)
        self._pipeline.abandon(message, f"lost the message ({code}): its redelivery resumes it")

    def _finish(self, message: Message, result: Result | None) -> None:
        """Settle one message (None: release it; lost: leave it) and free its slot."""
        self._heartbeat.untrack(message.receipt_handle)
        with self._cond:
            lost = message.receipt_handle in self._lost
        try:
            if lost:
                log.info("message.not_settled", message_id=message.message_id, reason="lost")
            elif result is not None:
                self._settler.settle(message, result)
            else:
                self._settler.release(message)
        except Exception:  # a bug here must not hold the slot: the message reappears anyway
            log.exception("message.settle_crashed", message_id=message.message_id)
        with self._cond:
            handed_back = result is None or result.outcome == Outcome.RELEASED
            if handed_back and self._stopping.is_set():
                self._released.append(message.message_id)
            self._held.pop(message.receipt_handle, None)
            self._lost.discard(message.receipt_handle)
            self._on_in_flight(len(self._held))
            self._cond.notify_all()
