"""Error classification and the retry policy shared by every adapter.

botocore's own retries are switched off (see `clients.py`) so that every attempt
passes through here: each one is classified, counted, and retried with
exponential backoff and full jitter only when retrying can help.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import structlog
from botocore.exceptions import ClientError, ConnectionError, HTTPClientError
from tenacity import (
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    stop_after_delay,
    wait_random_exponential,
)

from deployworker.aws._ratelimit import Limiter
from deployworker.aws.held import before_write
from deployworker.errors import AwsError, NotFoundError, PermanentAwsError, RetryableAwsError

T = TypeVar("T")
log = structlog.get_logger("deployworker.aws")

THROTTLE_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "SlowDown",
        # DynamoDB (the ledger): a table or partition over its capacity.
        "ProvisionedThroughputExceededException",
        "AWS.SimpleQueueService.RequestThrottled",
    }
)
TRANSIENT_CODES = frozenset(
    {
        "InternalError",
        "InternalFailure",
        "InternalServerError",
        "ServerException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "RequestTimeout",
        "RequestTimeoutException",
        "AWS.SimpleQueueService.ServiceUnavailable",
    }
)
NOT_FOUND_CODES = frozenset(
    {
        "ServiceNotFoundException",
        "ServiceDeploymentNotFoundException",
        "ClusterNotFoundException",
        "AWS.SimpleQueueService.NonExistentQueue",
        "QueueDoesNotExist",
        "NotFound",
        "NotFoundException",
        "ResourceNotFoundException",
        "RepositoryNotFoundException",
        "ImageNotFoundException",
    }
)
# Errors whose code is generic but whose message names a transient condition. ECS
# answers a burst of RegisterTaskDefinition calls on one family with a plain
# ClientException; the same call succeeds once the other registrations land.
TRANSIENT_MESSAGES: dict[str, tuple[str, ...]] = {
    "ClientException": ("Too many concurrent attempts to create a new revision",),
}

# Observer signature: (aws service, operation, result) with result ok | throttled | error.
Observer = Callable[[str, str, str], None]


def classify(operation: str, exc: Exception) -> AwsError:
    """Map a botocore exception to a retryable or permanent `AwsError`."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "Unknown"))
        message = str(error.get("Message", ""))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        if code in THROTTLE_CODES or code in TRANSIENT_CODES or status >= 500 or status == 429:
            return RetryableAwsError(operation, code, message)
        if any(text in message for text in TRANSIENT_MESSAGES.get(code, ())):
            return RetryableAwsError(operation, code, message)
        if code in NOT_FOUND_CODES:
            return NotFoundError(operation, code, message)
        return PermanentAwsError(operation, code, message)
    if isinstance(exc, ConnectionError | HTTPClientError):
        return RetryableAwsError(operation, type(exc).__name__, str(exc))
    return PermanentAwsError(operation, type(exc).__name__, str(exc))


def _result_label(error: AwsError) -> str:
    return "throttled" if error.code in THROTTLE_CODES else "error"


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard to retry one call: attempts, total time, and the backoff curve."""

    attempts: int = 6
    max_seconds: float = 60.0
    initial_wait: float = 0.2
    max_wait: float = 10.0
    sleep: Callable[[float], None] = time.sleep


class Caller:
    """Runs adapter calls for one AWS service under a `RetryPolicy`, counting each attempt."""

    def __init__(
        self,
        service: str,
        policy: RetryPolicy,
        observer: Observer | None = None,
        limiter: Limiter | None = None,
    ) -> None:
        self.service = service
        self.policy = policy
        self.observer = observer
        self.limiter = limiter

    def _observe(self, operation: str, result: str) -> None:
        if self.observer is not None:
            self.observer(self.service, operation, result)

    def once(self, operation: str, fn: Callable[[], T]) -> T:
        """Run `fn` once (after its rate-limit token); classify and count the outcome,
        raising `AwsError` on failure."""
        if self.limiter is not None:
            self.limiter.acquire(operation)
        before_write(self.service, operation)  # a lost copy writes nothing (`held`)
        try:
            result = fn()
        except (ClientError, ConnectionError, HTTPClientError) as exc:
            error = classify(operation, exc)
            label = _result_label(error)
            self._observe(operation, label)
            if label == "throttled" and self.limiter is not None:
                self.limiter.throttled(operation)
            raise error from exc
        self._observe(operation, "ok")
        return result

    def call(self, operation: str, fn: Callable[[], T]) -> T:
        """Run `fn`, retrying `RetryableAwsError` with jittered exponential backoff.

        Raises the last `RetryableAwsError` when attempts or time run out, and any
        `PermanentAwsError` at once.
        """
        # Almost every call succeeds at once; only a failure pays for building the
        # retry machinery (about 20 us a call), into which the failure is then replayed
        # as attempt 1, so attempts, waits and logging are tenacity's as before.
        try:
            return self.once(operation, fn)
        except RetryableAwsError as exc:
            first: RetryableAwsError | None = exc

        def attempt() -> T:
            nonlocal first
            if first is not None:
                failed, first = first, None
                raise failed
            return self.once(operation, fn)

        policy = self.policy
        retrying = Retrying(
            stop=stop_after_attempt(policy.attempts) | stop_after_delay(policy.max_seconds),
            wait=wait_random_exponential(multiplier=policy.initial_wait, max=policy.max_wait),
            retry=retry_if_exception_type(RetryableAwsError),
            sleep=policy.sleep,
            reraise=True,
            before_sleep=lambda state: log.warning(
                "aws.retry",
                service=self.service,
                operation=operation,
                attempt=state.attempt_number,
                error=str(state.outcome.exception()) if state.outcome else None,
            ),
        )
        result: T = retrying(attempt)
        return result
