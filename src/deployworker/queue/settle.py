"""Stage 6, settle: act on a message's outcome in the queue, then tell the listeners.

Final outcomes delete the message; rejections first copy it to the dead-letter
queue with the reason in message attributes; `retried` leaves it for redelivery
after a back-off; `released` hands it back at once.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress

import structlog

from deployworker.aws.sqs import Message, Sqs
from deployworker.errors import AwsError
from deployworker.intake.approval import without_proof
from deployworker.outcome import Outcome, Result

log = structlog.get_logger("deployworker.settle")

MAX_MESSAGE_BYTES = 256 * 1024
_ATTRIBUTE_ALLOWANCE = 8 * 1024
MAX_REASON = 1024


def dead_letter_attributes(message: Message, result: Result) -> dict[str, str]:
    """The attributes a dead-lettered message carries, so an operator can act on it."""
    return {
        "deployworker.outcome": result.outcome.value,
        "deployworker.reason": result.reason[:MAX_REASON] or "unknown",
        "deployworker.message_id": message.message_id,
        "deployworker.group_id": message.group_id,
        "deployworker.deploy_id": result.deploy_id or "",
        "deployworker.receive_count": str(message.receive_count),
    }


def dead_letter_body(body: str) -> tuple[str, bool]:
    """The body to dead-letter, cut to fit beside the attributes; (body, was_truncated)."""
    limit = MAX_MESSAGE_BYTES - _ATTRIBUTE_ALLOWANCE
    encoded = body.encode("utf-8")
    if len(encoded) <= limit:
        return body, False
    return encoded[:limit].decode("utf-8", errors="ignore"), True


class Settler:
    """Applies outcomes to the work queue and the DLQ."""

    def __init__(
        self,
        sqs: Sqs,
        queue_url: str,
        dlq_url: str,
        retry_backoff: int,
        listeners: list[Callable[[Message, Result], None]],
        record: Callable[[Message, Result], bool] | None = None,
    ) -> None:
        self._sqs = sqs
        self._queue_url = queue_url
        self._dlq_url = dlq_url
        self._retry_backoff = retry_backoff
        self._listeners = listeners
        self._record = record  # the ledger: False leaves the message for redelivery

    def add_listener(self, listener: Callable[[Message, Result], None]) -> None:
        """Also tell `listener` about every settled message."""
        self._listeners.append(listener)

    def settle(self, message: Message, result: Result) -> None:
        """Delete, dead-letter, or hand back `message` according to `result`.

        A failing SQS call is logged, not raised: the message then reappears after
        its visibility timeout and redelivery finishes the same deploy idempotently.
        The outcome is written to the ledger first: a message whose outcome could not
        be written stays, and its redelivery writes it.
        """
        if self._record is not None and not self._record(message, result):
            log.error("message.not_settled", message_id=message.message_id, reason="ledger")
            with suppress(AwsError):  # else it reappears after its visibility timeout
                self._sqs.change_visibility(
                    self._queue_url, message.receipt_handle, self._retry_backoff
                )
            return
        try:
            if result.dead_letters:
                self._dead_letter(message, result)
            if result.deletes:
                self._sqs.delete(self._queue_url, message.receipt_handle)
            elif result.outcome == Outcome.RELEASED:
                self._sqs.change_visibility(self._queue_url, message.receipt_handle, 0)
            else:
                self._sqs.change_visibility(
                    self._queue_url, message.receipt_handle, self._retry_backoff
                )
        except AwsError as exc:
            log.error(
                "message.settle_failed",
                message_id=message.message_id,
                outcome=result.outcome.value,
                error=str(exc),
            )
            return
        for listener in self._listeners:
            listener(message, result)

    def release(self, message: Message) -> None:
        """Hand an untouched message back for immediate redelivery (visibility 0)."""
        self.settle(message, Result(Outcome.RELEASED, "not started"))

    def _dead_letter(self, message: Message, result: Result) -> None:
        body, truncated = dead_letter_body(without_proof(message.body))
        attributes = dead_letter_attributes(message, result)
        if truncated:
            attributes["deployworker.truncated"] = "true"
        self._sqs.send(
            self._dlq_url,
            body or "(empty body)",
            group_id=message.group_id or "deployworker-rejected",
            # The message id is stable across redeliveries, so a repeated dead-letter
            # within the deduplication window stores nothing twice.
            dedup_id=message.message_id,
            attributes=attributes,
        )
        log.warning(
            "message.dead_lettered",
            message_id=message.message_id,
            outcome=result.outcome.value,
            reason=result.reason,
        )
