"""Scheduling helpers for deploys that outlive a thread: per-key serialisation.

A deploy that must wait for another deploy of the same service is a queue
entry, not a blocked thread; the deploy ahead of it starts it when it ends.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Hashable
from typing import Any

# Runs a continuation somewhere else (usually `ThreadPoolExecutor.submit`).
Dispatch = Callable[[Callable[[], None]], Any]


class KeyedSerial:
    """Runs at most one deploy per key; later ones queue (no thread) until `release`."""

    def __init__(self, dispatch: Dispatch) -> None:
        self._dispatch = dispatch
        self._queues: dict[Hashable, deque[Callable[[], None]]] = {}
        self._lock = threading.Lock()

    def run(self, key: Hashable, fn: Callable[[], None]) -> None:
        """Run `fn` now if `key` is free, else when the deploy holding it is released."""
        with self._lock:
            queue = self._queues.get(key)
            if queue is not None:
                queue.append(fn)
                return
            self._queues[key] = deque()
        fn()

    def release(self, key: Hashable) -> None:
        """Free `key`, starting the next deploy queued for it."""
        with self._lock:
            queue = self._queues.get(key)
            if not queue:
                self._queues.pop(key, None)
                return
            nxt = queue.popleft()
        self._dispatch(nxt)
