"""moto's ReceiveMessage as SQS's: a long poll waits rather than spins, and a message
goes to one receiver.

moto's ReceiveMessage scans the queue, and while it has found nothing and its
WaitTimeSeconds has not run out, it calls `Queue.wait_for_messages`, which waits until
the queue holds *any* visible message. On a FIFO queue a visible message whose group
has a message in flight cannot be delivered (moto's receive skips it, as SQS does),
yet it ends that wait at once: the poll rescans the queue in a tight loop for its
whole wait time, holding the server's interpreter from every other request. With a
hundred groups busy this is most of local mode's CPU, and every AWS call the worker
makes waits behind it. SQS's long poll just waits ("Amazon SQS short and long
polling", SQS Developer Guide: it returns when a message is available or the wait
time ends).

Here, while only undeliverable messages are visible, the wait sleeps until a message
is sent (moto notifies its waiters on every SendMessage) or a short tick passes, and
then the poll scans again. Which messages a poll returns, and when a poll ends, are
unchanged.

moto's scan also checks that a message is visible and then marks it received with no
lock between, so two polls scanning at once (several receivers woken by one send) can
both take it. SQS hands a message to one receiver until its visibility timeout ends
("Amazon SQS visibility timeout", SQS Developer Guide). Scans are serialised here; a
poll gives the lock up while it waits.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

from moto.sqs.models import Queue, SQSBackend

# A message that becomes visible without a send (its visibility timeout ran out) is
# seen by the next scan at most this long after; moto notifies no waiter for it.
TICK_SECONDS = 0.05
_ORIGINAL: dict[str, Any] = {}
_SCAN = threading.Lock()  # held by a receive while it scans, not while it waits


def _receive_message(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def receive(*args: Any, **kwargs: Any) -> Any:
        with _SCAN:
            return original(*args, **kwargs)

    return receive


def _wait_for_messages(self: Queue, timeout: int) -> None:
    _SCAN.release()  # called from a receive's scan loop, which holds it
    try:
        _wait(self, timeout)
    finally:
        _SCAN.acquire()


def _wait(self: Queue, timeout: int) -> None:
    lock = self._messages_lock
    with lock:
        if self.messages:
            # Visible, but none this poll may take (the caller scanned them all): wait
            # for something new rather than return at once to rescan the same messages.
            lock.wait(timeout=min(timeout, TICK_SECONDS))
        else:
            lock.wait_for(lambda: self.messages, timeout=timeout)


def install() -> None:
    """Make moto's long polls wait rather than spin, and its scans one at a time."""
    if "wait_for_messages" not in _ORIGINAL:
        _ORIGINAL["wait_for_messages"] = Queue.wait_for_messages
        _ORIGINAL["receive_message"] = SQSBackend.receive_message
        Queue.wait_for_messages = _wait_for_messages
        SQSBackend.receive_message = _receive_message(_ORIGINAL["receive_message"])


def uninstall() -> None:
    """Put moto's SQS back as it was."""
    if "wait_for_messages" in _ORIGINAL:
        Queue.wait_for_messages = _ORIGINAL.pop("wait_for_messages")
        SQSBackend.receive_message = _ORIGINAL.pop("receive_message")
