"""A long poll on a FIFO queue waits, as SQS's does: while the only visible messages
belong to a group with a message in flight, moto's ReceiveMessage no longer rescans the
queue in a tight loop for its whole wait time, and it returns what it returned before."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from moto.sqs.models import Queue

from conftest import World


@pytest.fixture
def scans() -> Iterator[list[int]]:
    """How often moto's receive reads its queue's visible messages (once per scan)."""
    counted = [0]
    visible = Queue.messages

    def messages(self: Queue) -> Any:
        counted[0] += 1
        return visible.fget(self)

    Queue.messages = property(messages)
    try:
        yield counted
    finally:
        Queue.messages = visible


def send(world: World, group: str, body: str) -> None:
    world.sqs.send_message(
        QueueUrl=world.resources.queue_url,
        MessageBody=body,
        MessageGroupId=group,
        MessageDeduplicationId=body,
    )


def receive(world: World, wait: int) -> list[str]:
    got = world.sqs.receive_message(
        QueueUrl=world.resources.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait
    )
    return [m["Body"] for m in got.get("Messages", [])]


def test_a_poll_behind_an_in_flight_group_waits_instead_of_rescanning(
    world: World, scans: list[int]
) -> None:
    send(world, "a", "a-1")
    assert receive(world, 0) == ["a-1"]  # group a now has a message in flight
    send(world, "a", "a-2")  # visible, but not deliverable while a-1 is in flight
    scans[0] = 0

    assert receive(world, 1) == []  # a whole second of long poll, nothing to take
    # A tick is 50 ms: about 20 scans (each reads the queue once or twice). Spinning,
    # the same second was thousands.
    assert scans[0] < 100


def test_a_message_of_a_free_group_sent_during_the_poll_is_returned_by_it(world: World) -> None:
    send(world, "a", "a-1")
    assert receive(world, 0) == ["a-1"]
    send(world, "a", "a-2")
    later = threading.Timer(0.3, lambda: send(world, "b", "b-1"))
    later.start()
    try:
        assert receive(world, 5) == ["b-1"]
    finally:
        later.join()


def test_concurrent_polls_never_deliver_one_message_twice(world: World) -> None:
    # SQS hands a message to one receiver until its visibility timeout ends. moto's
    # receive checks a message's visibility and then marks it received, with no lock:
    # two polls scanning at once could both take it.
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads often: widen moto's window
    try:
        for round_ in range(6):
            sent = [f"r{round_}-{n}" for n in range(40)]
            for body in sent:
                send(world, f"g-{body}", body)
            assert sorted(poll_concurrently(world)) == sorted(sent)  # each once
    finally:
        sys.setswitchinterval(interval)


def poll_concurrently(world: World, receivers: int = 8) -> list[str]:
    """Everything `receivers` threads receive in a few short polls each."""
    got: list[str] = []
    lock = threading.Lock()

    def poll() -> None:
        for _ in range(6):
            bodies = receive(world, 0)
            with lock:
                got.extend(bodies)

    threads = [threading.Thread(target=poll) for _ in range(receivers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return got
