"""`deployworker local` as a real process: a busy port ends it with a clear error, and
SIGTERM or SIGINT stop it within its shutdown grace."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

# The installed console script (`deployworker.cli.main:main`), beside the interpreter.
SCRIPT = str(Path(sys.executable).parent / "deployworker")


@pytest.fixture
def held_port() -> Iterator[int]:
    """A port some other program listens on, on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        yield int(sock.getsockname()[1])


def local(*args: str, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [SCRIPT, "local", "--no-sample", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "DEPLOYWORKER_METRICS_PORT": "0", **env},
    )


def test_a_busy_port_ends_local_mode_with_the_port_and_the_setting(held_port: int) -> None:
    process = local("--port", str(held_port))
    try:
        _, err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 78
    assert f"port {held_port} is in use" in err
    assert "DEPLOYWORKER_LOCAL_PORT" in err


def test_a_busy_default_port_names_it_too(held_port: int) -> None:
    process = local(DEPLOYWORKER_LOCAL_PORT=str(held_port))
    try:
        _, err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 78
    assert f"127.0.0.1:{held_port}" in err and "DEPLOYWORKER_LOCAL_PORT" in err


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_signal_ends_local_mode_within_its_grace(signum: int) -> None:
    process = local(
        "--port",
        "0",
        DEPLOYWORKER_SHUTDOWN_GRACE_SECONDS="1",
        DEPLOYWORKER_LOCAL_CONVERGE_SECONDS="1",
    )
    try:
        assert process.stderr is not None
        for line in process.stderr:
            if json.loads(line)["event"] == "local.ready":
                break
        process.send_signal(signum)
        # The grace (1 s) plus the margin for the emulator, with room for a busy machine.
        assert process.wait(timeout=30) == 0
    finally:
        process.kill()


def test_a_stop_signal_takes_no_lock_so_it_cannot_deadlock_the_main_thread() -> None:
    from deployworker.cli.main import _stop_on_signals

    before = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        stop = _stop_on_signals()
        handler = signal.getsignal(signal.SIGTERM)
        assert callable(handler)
        # As if the signal arrived while the main thread was inside stop.wait(),
        # holding the event's own lock: the handler must still return at once.
        with stop._cond:  # type: ignore[attr-defined]
            delivery = threading.Thread(target=handler, args=(signal.SIGTERM, None))
            delivery.start()
            delivery.join(timeout=2)
            assert not delivery.is_alive()
        assert stop.wait(timeout=5)
    finally:
        for signum, previous in before.items():
            signal.signal(signum, previous)


def test_a_signal_delivered_to_another_thread_still_stops_the_main_thread() -> None:
    from deployworker.cli.main import _stop_on_signals

    before = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    hung: list[bool] = []

    def deliver_here_then_watch(stop: threading.Event) -> None:
        # The kernel may hand a process signal to any thread; make it this one, once
        # the main thread is blocked in its wait.
        time.sleep(0.5)
        signal.pthread_kill(threading.get_ident(), signal.SIGTERM)
        if not stop.wait(timeout=5):
            hung.append(True)  # the main thread never ran its handler: release it
            stop.set()

    try:
        stop = _stop_on_signals()
        threading.Thread(target=deliver_here_then_watch, args=(stop,)).start()
        assert stop.wait()  # the main thread, waiting as `deployworker run` does
        assert hung == []
    finally:
        for signum, previous in before.items():
            signal.signal(signum, previous)
