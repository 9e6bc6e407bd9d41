"""Waiting for several service deployments at once, on the release's own thread.

A release is long and rare, so it blocks one thread of its own while the watcher
follows its services' deployments; the watcher's callbacks only record verdicts.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping

from deployworker.rollout.assess import Assessment
from deployworker.rollout.watch import Watcher


class Released(Exception):
    """The worker is shutting down or lost the message: stop, write nothing more."""


class Follower:
    """Follows a release's deployments; `cancel` ends every wait with `Released`."""

    def __init__(self, watcher: Watcher) -> None:
        self._watcher = watcher
        self._lock = threading.Lock()
        self._handles: list[object] = []
        self.lost: str | None = None

    def all(
        self,
        deployments: Mapping[str, str],
        timeout: float,
        progress: Callable[[str, Assessment], None] | None = None,
    ) -> dict[str, Assessment]:
        """Slot id to the verdict on its deployment (ARN), once every one has one.
        Raises `Released` when the watcher stops or the message is lost."""
        done = threading.Event()
        verdicts: dict[str, Assessment | None] = {}

        def on_verdict(key: str) -> Callable[[Assessment | None], None]:
            def record(verdict: Assessment | None) -> None:
                with self._lock:
                    verdicts[key] = verdict
                    if len(verdicts) == len(deployments):
                        done.set()

            return record

        for key, arn in deployments.items():
            tell = (lambda now, k=key: progress(k, now)) if progress is not None else None
            handle = self._watcher.follow(arn, timeout, on_verdict(key), tell)
            with self._lock:
                self._handles.append(handle)
        if deployments:
            done.wait()
        if self.lost is not None or any(v is None for v in verdicts.values()):
            raise Released(self.lost or "worker shutting down")
        return {k: v for k, v in verdicts.items() if v is not None}

    def cancel(self, reason: str) -> None:
        """The message is no longer ours: end every wait now."""
        self.lost = reason
        with self._lock:
            handles = list(self._handles)
        for handle in handles:
            self._watcher.cancel(handle)
