"""The heartbeat: batched visibility extensions, and untracking that never waits a round."""

from __future__ import annotations

import threading
from collections.abc import Mapping

from deployworker.queue.heartbeat import Heartbeat


class GatedSqs:
    """ChangeMessageVisibilityBatch that blocks each call until the test lets it go."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.entered = threading.Semaphore(0)
        self.release = threading.Semaphore(0)

    def change_visibility_batch(
        self, queue_url: str, receipts: Mapping[str, str], seconds: int, retry: bool = True
    ) -> dict[str, tuple[str, bool]]:
        self.calls.append(list(receipts))
        self.entered.release()
        assert self.release.acquire(timeout=10)
        return {}


def test_untrack_does_not_wait_for_the_round() -> None:
    sqs = GatedSqs()
    heartbeat = Heartbeat(sqs, "q", visibility=60, interval=3600)  # type: ignore[arg-type]
    ids = [f"m{i:02d}" for i in range(30)]
    for message_id in ids:
        heartbeat.track(message_id)  # its receipt handle
    beat = threading.Thread(target=heartbeat.beat)
    beat.start()
    assert sqs.entered.acquire(timeout=10)  # the first of three calls is under way
    untracked = threading.Event()

    def untrack() -> None:
        heartbeat.untrack("m25")  # in the third call's range
        untracked.set()

    threading.Thread(target=untrack).start()
    assert untracked.wait(timeout=10)  # not in the call under way: no wait at all
    sqs.release.release()  # let the first call finish
    assert sqs.entered.acquire(timeout=10)
    sqs.release.release()
    sqs.release.release()
    beat.join(timeout=10)
    assert [len(c) for c in sqs.calls] == [10, 10, 9]
    assert all("m25" not in call for call in sqs.calls)


def test_every_tracked_message_is_extended_ten_per_call() -> None:
    sqs = GatedSqs()
    for _ in range(3):
        sqs.release.release()
    heartbeat = Heartbeat(sqs, "q", visibility=60, interval=3600)  # type: ignore[arg-type]
    for i in range(25):
        heartbeat.track(f"m{i}")
    heartbeat.beat()
    assert sorted(len(c) for c in sqs.calls) == [5, 10, 10]
    assert sorted(m for c in sqs.calls for m in c) == sorted(f"m{i}" for i in range(25))


def test_untrack_of_a_message_in_the_call_under_way_waits_for_that_call() -> None:
    sqs = GatedSqs()
    heartbeat = Heartbeat(sqs, "q", visibility=60, interval=3600)  # type: ignore[arg-type]
    heartbeat.track("m1")
    beat = threading.Thread(target=heartbeat.beat)
    beat.start()
    assert sqs.entered.acquire(timeout=10)
    untracked = threading.Event()

    def untrack() -> None:
        heartbeat.untrack("m1")
        untracked.set()

    threading.Thread(target=untrack).start()
    # The extension may still land after the settle's own call: untrack must wait.
    assert not untracked.wait(timeout=0.3)
    sqs.release.release()
    assert untracked.wait(timeout=10)
    beat.join(timeout=10)


class BrokenSqs:
    """ChangeMessageVisibilityBatch that fails with something no adapter maps (a bug)."""

    def __init__(self) -> None:
        self.calls = 0

    def change_visibility_batch(
        self, queue_url: str, receipts: Mapping[str, str], seconds: int, retry: bool = True
    ) -> dict[str, tuple[str, bool]]:
        self.calls += 1
        raise RuntimeError("a bug below the heartbeat")


def test_a_beat_that_raises_frees_waiting_untracks_and_the_thread_beats_on() -> None:
    sqs = BrokenSqs()
    heartbeat = Heartbeat(sqs, "q", visibility=60, interval=0.01)  # type: ignore[arg-type]
    heartbeat.track("r1", "m1")
    heartbeat.start()
    untracked = threading.Event()

    def untrack() -> None:
        heartbeat.untrack("r1")
        untracked.set()

    while sqs.calls < 3:  # bounded by the thread beating on after each failure
        assert heartbeat._thread is not None and heartbeat._thread.is_alive()
        threading.Event().wait(0.01)
    threading.Thread(target=untrack, daemon=True).start()
    assert untracked.wait(timeout=5)  # nothing left that could still touch the copy
    heartbeat.stop()
