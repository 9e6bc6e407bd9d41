"""Worker processes for the crash, shutdown and replica tests: `deployworker run` for real."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from conftest import REGION, World


class WorkerProcess:
    """One `python -m deployworker run` against the test's moto endpoint."""

    def __init__(self, world: World, allowlist: Path, name: str, **settings: str) -> None:
        self.name = name
        self.log_path = world.tmp / f"{name}.log"
        env = {
            **os.environ,
            "DEPLOYWORKER_QUEUE_URL": world.resources.queue_url,
            "DEPLOYWORKER_REGION": REGION,
            "DEPLOYWORKER_ENDPOINT_URL": world.endpoint,
            "DEPLOYWORKER_ALLOWLIST_PATH": str(allowlist),
            "DEPLOYWORKER_METRICS_PORT": "0",
            "DEPLOYWORKER_POLL_WAIT_SECONDS": "1",
            "DEPLOYWORKER_VISIBILITY_TIMEOUT": "5",
            "DEPLOYWORKER_WATCH_INTERVAL_SECONDS": "0.2",
            "DEPLOYWORKER_RETRY_BACKOFF_SECONDS": "1",
        }
        env.pop("DEPLOYWORKER_FAILPOINT", None)
        env.update({f"DEPLOYWORKER_{k.upper()}": v for k, v in settings.items()})
        self._log = self.log_path.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "deployworker", "run"],
            stdout=subprocess.DEVNULL,
            stderr=self._log,
            env=env,
        )

    def events(self) -> list[dict[str, Any]]:
        """Every JSON log line written so far."""
        lines = self.log_path.read_text().splitlines()
        return [json.loads(line) for line in lines if line.startswith("{")]

    def wait_for_event(self, name: str, timeout: float = 30, **fields: Any) -> dict[str, Any]:
        """Block until a log line with this event (and fields) appears."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for event in self.events():
                if event["event"] == name and all(event.get(k) == v for k, v in fields.items()):
                    return event
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"{self.name}: no {name} {fields}; exit={self.process.poll()}")

    def wait_exit(self, timeout: float = 30) -> int:
        """Wait for the process to end; returns its exit code."""
        code = self.process.wait(timeout=timeout)
        self._log.close()
        return code

    def terminate(self, timeout: float = 15) -> tuple[int, float]:
        """SIGTERM; returns (exit code, seconds it took to exit)."""
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        code = self.wait_exit(timeout)
        return code, time.monotonic() - started

    def kill(self) -> None:
        """SIGKILL if still running (test cleanup)."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        if not self._log.closed:
            self._log.close()


def stop_all(workers: list[WorkerProcess]) -> None:
    """SIGTERM every worker in parallel, then make sure they are gone."""
    threads = [
        threading.Thread(target=w.process.send_signal, args=(signal.SIGTERM,))
        for w in workers
        if w.process.poll() is None
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for worker in workers:
        try:
            worker.wait_exit(15)
        finally:
            worker.kill()


def wait_until(predicate: Any, timeout: float = 60, interval: float = 0.2) -> None:
    """Poll `predicate` until true or fail."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(interval)
