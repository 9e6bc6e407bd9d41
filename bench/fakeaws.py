"""In-memory fakes of the ECS and SQS calls the worker makes, for benchmarks at scale.

They expose the boto3 client methods the adapters call, with the same argument
names and response shapes, so the real worker code runs unchanged. Both run on
a `SimClock` that can go faster than real time by a common `scale`: rate limits,
latencies, rollout durations, visibility timeouts and long-poll waits are all
in simulated seconds, so a run at scale 10 is a 10x time-lapse of the real one.

ECS enforces AWS's account-wide token buckets per operation and answers
`ThrottlingException` when one is empty. Rollouts converge (or fail, for images
whose tag contains "fail") after a random duration; each is visible both as a
legacy deployment of the service and as a service deployment with its revisions. Every call is counted, with
its simulated time, its caller's thread and the CPU the fake itself spent, so
the benchmark can subtract the fake's CPU from the worker's.
"""

from __future__ import annotations

import functools
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from botocore.exceptions import ClientError

# ECS limits (sustained per second, burst); one bucket per operation. The first four are
# AWS's published limits. AWS does not publish limits for the service-deployment calls
# nor for ListTasks/DescribeTasks: the rest are assumptions (the published read limit
# for the reads, UpdateService's for StopServiceDeployment).
ECS_LIMITS: dict[str, tuple[float, float]] = {
    "RegisterTaskDefinition": (1.0, 20),
    "UpdateService": (5.0, 10),
    "DescribeServices": (20.0, 50),
    "DescribeTaskDefinition": (20.0, 50),
    "DescribeServiceDeployments": (20.0, 50),  # assumed
    "ListServiceDeployments": (20.0, 50),  # assumed
    "DescribeServiceRevisions": (20.0, 50),  # assumed
    "StopServiceDeployment": (5.0, 10),  # assumed
    "ListTasks": (20.0, 50),  # assumed
    "DescribeTasks": (20.0, 50),  # assumed
}
# SQS FIFO: 300 transactions per second per API action (without high throughput mode).
SQS_LIMIT = (300.0, 300)
ACCOUNT = "123456789012"
REGION = "eu-west-1"
ECS_ARN = f"arn:aws:ecs:{REGION}:{ACCOUNT}"  # the prefix of every ECS ARN


def client_error(op: str, code: str, message: str) -> ClientError:
    """The exception botocore raises for an error response."""
    response: Any = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": 400},
    }
    return ClientError(response, op)


class SimClock:
    """Simulated seconds since start; runs `scale` times faster than real time."""

    def __init__(self, scale: float) -> None:
        self.scale = scale
        self._start = time.monotonic()

    def now(self) -> float:
        """Simulated seconds since the clock started."""
        return (time.monotonic() - self._start) * self.scale

    def sleep(self, seconds: float) -> None:
        """Sleep `seconds` of simulated time."""
        if seconds > 0:
            time.sleep(seconds / self.scale)


class ManualClock(SimClock):
    """Simulated time that moves only when told to (`sleep`): for tests of the fakes."""

    def __init__(self) -> None:
        super().__init__(1.0)
        self.t = 0.0

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += max(0.0, seconds)


class _Bucket:
    """A non-blocking token bucket on the simulated clock."""

    def __init__(self, clock: SimClock, rate: float, burst: float) -> None:
        self._clock, self._rate, self._burst = clock, rate, burst
        self._tokens, self._at = burst, clock.now()

    def take(self) -> bool:
        now = self._clock.now()
        self._tokens = min(self._burst, self._tokens + (now - self._at) * self._rate)
        self._at = now
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False


@dataclass
class Call:
    """One API call as the fake saw it."""

    op: str
    at: float  # simulated arrival time
    thread: str
    size: int = 1  # services described, messages received, ...
    throttled: bool = False


@dataclass
class Ledger:
    """Counts calls and the fake's own CPU; shared by the ECS and SQS fakes."""

    calls: list[Call] = field(default_factory=list)
    cpu: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def by_op(self, throttled: bool = False) -> Counter[str]:
        with self.lock:
            return Counter(c.op for c in self.calls if c.throttled == throttled)


class _Fake:
    """Latency, throttling and accounting around every call."""

    def __init__(
        self,
        clock: SimClock,
        ledger: Ledger,
        latency: float,
        limits: dict[str, tuple[float, float]],
    ) -> None:
        self.clock, self.ledger, self.latency = clock, ledger, latency
        self._buckets = {op: _Bucket(clock, r, b) for op, (r, b) in limits.items()}
        self._default = limits.get("*")
        self.lock = threading.Lock()

    def _enter(self, op: str, size: int = 1) -> None:
        """Account for a call's arrival and raise ThrottlingException when over the limit."""
        with self.lock:
            bucket = self._buckets.get(op)
            if bucket is None and self._default is not None:
                bucket = self._buckets[op] = _Bucket(self.clock, *self._default)
            allowed = bucket.take() if bucket is not None else True
        call = Call(op, self.clock.now(), threading.current_thread().name, size, not allowed)
        with self.ledger.lock:
            self.ledger.calls.append(call)
        self.clock.sleep(self.latency)
        if not allowed:
            raise client_error(op, "ThrottlingException", "Rate exceeded")


F = TypeVar("F", bound=Callable[..., Any])


def accounted(method: F) -> F:
    """Charge the CPU a fake's API method spends to the fake, not to the worker calling
    it. Sleeping (latency, long polls) costs no CPU, so the whole call is measured."""

    @functools.wraps(method)
    def wrapper(self: _Fake, *args: Any, **kwargs: Any) -> Any:
        started = time.thread_time()
        try:
            return method(self, *args, **kwargs)
        finally:
            spent = time.thread_time() - started
            with self.ledger.lock:
                self.ledger.cpu += spent

    return cast(F, wrapper)


@dataclass
class Deployment:
    """One ECS deployment and when (in simulated time) its rollout ends."""

    id: str
    task_definition: str
    created: float
    finish_at: float
    fails: bool
    registered: bool = True  # False: back to an older revision (a rollback)
    status: str = "PRIMARY"
    state: str = "IN_PROGRESS"
    reason: str = "ECS deployment circuit breaker: tasks failed to start."

    def document(self, desired: int) -> dict[str, Any]:
        done = self.state == "COMPLETED"
        doc: dict[str, Any] = {
            "id": self.id,
            "status": self.status,
            "taskDefinition": self.task_definition,
            "desiredCount": desired,
            "runningCount": desired if done else 0,
            "rolloutState": self.state,
        }
        if self.state == "FAILED":
            doc["rolloutStateReason"] = self.reason
        return doc
