"""One message group, in order, without holding a thread between its deploys.

The worker receives; this runs what it received. Each group's messages start one
after another on a small pool of deploy threads, each as soon as the one before has
an outcome. When a message is retried or released, the rest of its group is released
behind it, so order holds and nothing waits on a group that cannot progress.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

import structlog

from deployworker.aws.sqs import Message
from deployworker.deploy.supersede import Waiting, split_superseded
from deployworker.outcome import Outcome, Result
from deployworker.queue.route import Handler

log = structlog.get_logger("deployworker.worker")

REJECTED = frozenset({Outcome.REJECTED_INVALID, Outcome.REJECTED_NOT_ALLOWED})
# Settle one message (None: hand it back untouched) and free what it held.
Finish = Callable[[Message, Result | None], None]


class GroupRunner:
    """Runs groups of messages in order on `deploy_threads` threads.

    `finish` settles each message, `on_group_end` runs once per group when its last
    message is settled, before the group's future completes. Once `stopping` is set,
    messages not yet started are handed back untouched.
    """

    def __init__(
        self,
        pipeline: Handler,
        finish: Finish,
        stopping: threading.Event,
        on_group_end: Callable[[], None],
        deploy_threads: int = 16,
        supersede: bool = True,
    ) -> None:
        self._pipeline = pipeline
        self._finish = finish
        self._stopping = stopping
        self._on_group_end = on_group_end
        self._supersede = supersede
        self._pool = ThreadPoolExecutor(deploy_threads, thread_name_prefix="deploy")

    def run(self, messages: list[Message], future: Future[None]) -> None:
        """Start a group; `future` completes when every message in it is settled."""
        waiting: Waiting = {}
        try:
            if self._supersede and len(messages) > 1:
                messages, waiting = split_superseded(messages, self._pipeline)
        except Exception:  # superseding is an optimisation: on a bug, deploy them all
            log.exception("poll.supersede_failed")
        self._step(messages, 0, future, waiting)

    def shutdown(self) -> None:
        """Start nothing more; deploys queued for a thread are dropped (their groups
        were released by `_begin` or are handed back by the worker's drain)."""
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _step(
        self, messages: list[Message], index: int, future: Future[None], waiting: Waiting
    ) -> None:
        """Start message `index` of a group, or end the group."""
        if index < len(messages) and self._stopping.is_set():
            self._release_rest(messages, index)
            index = len(messages)
        if index == len(messages):  # olders still waiting (the group stopped): hand back
            for olders in waiting.values():
                self._release_rest([older for older, _ in olders], 0)
            waiting.clear()
        if index == len(messages):
            self._on_group_end()
            future.set_result(None)
            return
        message = messages[index]

        def done(result: Result) -> None:
            self._finish(message, result)
            olders = waiting.pop(message.message_id, [])
            if result.outcome in REJECTED:  # it never ran: what it replaced runs now
                messages[index + 1 : index + 1] = [older for older, _ in olders]
            elif result.outcome not in (Outcome.RETRIED, Outcome.RELEASED):
                for older, request in olders:  # it ran: they are superseded, for good
                    self._finish(older, self._pipeline.supersede(older, request, message))
            else:
                self._release_rest([older for older, _ in olders], 0)  # back, in order
            if result.outcome in (Outcome.RETRIED, Outcome.RELEASED):
                self._release_rest(messages, index + 1)
                self._step(messages, len(messages), future, waiting)
            else:
                self._step(messages, index + 1, future, waiting)

        try:
            self._pool.submit(self._begin, message, done)
        except RuntimeError:  # the pool is shut down: the worker is stopping
            self._release_rest(messages, index)
            self._step(messages, len(messages), future, waiting)

    def _begin(self, message: Message, done: Callable[[Result], None]) -> None:
        # A burst queues hundreds of starts behind the deploy threads: once stopping,
        # hand those back untouched instead of registering revisions on the way out.
        if self._stopping.is_set():
            done(Result(Outcome.RELEASED, "worker shutting down"))
            return
        self._pipeline.start(message, done)

    def _release_rest(self, messages: list[Message], start: int) -> None:
        for rest in messages[start:]:
            self._finish(rest, None)
