"""A small timer for gate steps: at their time, steps run on the resume pool.

A gate waits `interval` seconds between measurements and polls its votes while an
approval is open; those waits must hold no thread and must never run on the
watcher's. One thread sleeps until the earliest step is due and hands it to
`dispatch` (the pool deploys resume on), so a slow provider delays only its own
gate. The thread starts with the first step and ends when none is left, or at `stop`.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable

import structlog

log = structlog.get_logger("deployworker.gates")

Dispatch = Callable[[Callable[[], None]], object]


class Scheduler:
    """Runs callables at monotonic times, on `dispatch`."""

    def __init__(self, dispatch: Dispatch, clock: Callable[[], float] = time.monotonic) -> None:
        self._dispatch = dispatch
        self._clock = clock
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._order = itertools.count()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopped = False

    @property
    def pending(self) -> int:
        """Steps waiting for their time."""
        with self._cond:
            return len(self._heap)

    def after(self, seconds: float, step: Callable[[], None]) -> None:
        """Run `step` on `dispatch` once `seconds` have passed (never, once stopped)."""
        with self._cond:
            if self._stopped:
                return
            heapq.heappush(self._heap, (self._clock() + max(0.0, seconds), next(self._order), step))
            self._cond.notify_all()
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="gates", daemon=True)
                self._thread.start()

    def stop(self) -> None:
        """Drop every waiting step and end the thread, before `dispatch`'s pool shuts
        down: no step is handed to it afterwards, and later `after`s are dropped."""
        with self._cond:
            self._stopped = True
            self._heap.clear()
            self._cond.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    def _loop(self) -> None:
        while True:
            with self._cond:
                while self._heap and self._heap[0][0] > self._clock():
                    self._cond.wait(self._heap[0][0] - self._clock())
                if not self._heap:
                    self._thread = None
                    return
                _, _, step = heapq.heappop(self._heap)
            try:
                self._dispatch(step)
            except Exception:  # a pool shut down: the step's deploy is released anyway
                log.warning("gate.dispatch_failed", exc_info=True)
