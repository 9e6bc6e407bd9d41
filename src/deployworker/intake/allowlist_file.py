"""Where the running worker's allowlist comes from: a file that can change under it,
or inline text from the environment (`DEPLOYWORKER_ALLOWLIST_YAML`, for read-only
containers).

`refresh` is cheap (one `stat`) and is called from the poll loop; a changed file
is reloaded, and an invalid one is reported while the last good allowlist stays
in force. The file is stat'ed again after it is read: one that changed meanwhile (a
write under way) is not loaded, but read again at the next refresh, so a half-written
allowlist never takes effect because it happens to parse.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import structlog

from deployworker.errors import ConfigError
from deployworker.intake.allowlist import AllowlistError, load_allowlist
from deployworker.intake.entries import Allowlist

log = structlog.get_logger("deployworker.allowlist")
# (ok, the allowlist that took effect or None) after every load attempt.
LoadObserver = Callable[[bool, Allowlist | None], None]


class AllowlistSource(Protocol):
    """What the worker needs from wherever the allowlist lives."""

    last_error: str | None

    @property
    def loaded(self) -> bool:
        """Whether an allowlist is in force."""
        ...

    def current(self) -> Allowlist:
        """The allowlist in force."""
        ...

    def refresh(self, force: bool = False) -> bool:
        """Pick up a change; True if a new allowlist took effect."""
        ...


class InlineAllowlist:
    """An allowlist given as text at start-up; it cannot change while running."""

    def __init__(self, text: str, observer: LoadObserver | None = None) -> None:
        self._allowlist = load_allowlist(text)  # raises AllowlistError: a start-up error
        self.last_error: str | None = None
        if observer:
            observer(True, self._allowlist)

    @property
    def loaded(self) -> bool:
        """Always: an invalid inline allowlist fails at start-up."""
        return True

    def current(self) -> Allowlist:
        """The allowlist."""
        return self._allowlist

    def refresh(self, force: bool = False) -> bool:
        """Nothing to pick up."""
        return False


class AllowlistFile:
    """Holds the last good allowlist read from `path`."""

    def __init__(
        self,
        path: Path,
        min_interval: float = 5.0,
        observer: LoadObserver | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._path = path
        self._min_interval = min_interval
        self._observer = observer
        self._clock = clock
        self._current: Allowlist | None = None
        self._signature: tuple[float, int, int] | None = None
        self._checked_at = float("-inf")
        self._lock = threading.Lock()
        self.last_error: str | None = None

    @property
    def loaded(self) -> bool:
        """Whether any allowlist has loaded yet."""
        return self._current is not None

    def current(self) -> Allowlist:
        """The allowlist in force; empty (deny everything) until one has loaded."""
        return self._current or Allowlist(version=1)

    def refresh(self, force: bool = False) -> bool:
        """Reload when the file changed; returns True if a new allowlist took effect."""
        with self._lock:
            now = self._clock()
            if not force and now - self._checked_at < self._min_interval:
                return False
            self._checked_at = now
            # Remember a bad file's signature too, so it is reported once, not every check.
            signature: tuple[float, int, int] | None = None
            try:
                stat = os.stat(self._path)
                signature = (stat.st_mtime, stat.st_size, stat.st_ino)
                if not force and signature == self._signature:
                    return False
                data = self._path.read_bytes()
                after = os.stat(self._path)
                if (after.st_mtime, after.st_size, after.st_ino) != signature or len(data) != (
                    after.st_size
                ):
                    # Written while we read (a torn read): load it once it stands still.
                    log.warning("allowlist.changing", path=str(self._path))
                    return False
                allowlist = load_allowlist(data.decode("utf-8"))
            except (OSError, UnicodeDecodeError, AllowlistError) as exc:
                self._signature = signature
                self._fail(str(exc))
                return False
            self._signature = signature
            self._current = allowlist
            self.last_error = None
            log.info("allowlist.loaded", path=str(self._path), entries=len(allowlist.services))
            if self._observer:
                self._observer(True, allowlist)
            return True

    def _fail(self, reason: str) -> None:
        self.last_error = reason
        log.error(
            "allowlist.invalid",
            path=str(self._path),
            reason=reason,
            kept_entries=len(self._current.services) if self._current else 0,
        )
        if self._observer:
            self._observer(False, None)


def open_allowlist(
    inline: str | None, path: Path, reload_seconds: float, observer: LoadObserver
) -> AllowlistSource:
    """The worker's allowlist, loaded once: inline text when given, else the file.

    Raises `ConfigError` when inline text is invalid (it cannot be fixed under a
    running worker); a bad file is reported by `refresh` and retried on change.
    """
    source: AllowlistSource
    if inline:
        try:
            source = InlineAllowlist(inline, observer)
        except AllowlistError as exc:
            raise ConfigError(f"DEPLOYWORKER_ALLOWLIST_YAML is invalid: {exc}") from exc
    else:
        source = AllowlistFile(path, reload_seconds, observer)
    source.refresh(force=True)
    return source
