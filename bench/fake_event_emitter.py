"""ECS's events, as EventBridge would put them on the worker's events queue, from the fake.

`EventEmitter` watches the fake ECS's service deployments on its own thread and, for
each change of status, puts the event (`bench.fake_events`) on the fake SQS events
queue after a delivery delay of 0.5 to 2 simulated seconds, drawn from a seeded
random stream. `Faults` loses a share of the events, delivers a share twice (the copy
up to 10 s later), or has the queue hand them out in random order. Every event, and
when it arrived, is recorded for the report. Nothing it does is a worker's call: it
is not counted, and its CPU is charged to the fakes.
"""

from __future__ import annotations

import heapq
import json
import random
import threading
import time
from dataclasses import dataclass

from bench.fake_deployments import TERMINAL
from bench.fake_ecs import FakeEcs
from bench.fake_events import Change, changes, message
from bench.fake_sqs import FakeSqs
from bench.fakeaws import ACCOUNT, REGION

DELAY = (0.5, 2.0)  # simulated seconds from a change to its event on the queue
DUPLICATE_LAG = (0.5, 10.0)  # a duplicate's further delay
TICK = 0.1  # simulated seconds between looks at the deployments


@dataclass(frozen=True)
class Faults:
    """What goes wrong on the way: EventBridge and SQS promise at-least-once, best-effort
    ordering, and a rule's target can fail."""

    drop: float = 0.0  # share of events lost
    duplicate: float = 0.0  # share of events delivered twice
    reorder: bool = False  # the queue hands visible events out in random order


@dataclass
class Delivery:
    """One event, for the report: times are simulated seconds."""

    service: str
    name: str
    rollback: bool
    changed: float  # when the change happened
    delivered: float | None = None  # when it reached the queue; None: lost (or not yet)
    copy: bool = False


class EventEmitter:
    """Puts the fake ECS's deployment events on the fake SQS events queue."""

    def __init__(self, ecs: FakeEcs, sqs: FakeSqs, faults: Faults, seed: int = 11) -> None:
        self._ecs, self._sqs, self._faults = ecs, sqs, faults
        self._random = random.Random(seed)
        self._status: dict[str, str] = {}  # ARN -> the status last noticed, until terminal
        self._seen = 0  # deployments looked at so far (the fake only appends)
        self._due: list[tuple[float, int, str]] = []  # (deliver at, index in log, body)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.log: list[Delivery] = []
        self.cpu = 0.0

    def start(self) -> None:
        """Follow deployments created from now on (the seeded ones send nothing)."""
        with self._ecs.lock:
            self._seen = len(self._ecs._deployments)
        self._thread = threading.Thread(target=self._loop, name="ecs-event-bus", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _loop(self) -> None:
        clock = self._ecs.clock
        begin = time.thread_time()
        while not self._stop.is_set():
            now = clock.now()
            self.step(now)
            wake = min(now + TICK, self._due[0][0]) if self._due else now + TICK
            self._stop.wait(max(0.001, (wake - clock.now()) / clock.scale))
        self.cpu = time.thread_time() - begin

    def step(self, now: float) -> None:
        """Notice the changes up to `now` and deliver the events due by then."""
        self._scan(now)
        self._deliver(now)

    def _scan(self, now: float) -> None:
        with self._ecs.lock:
            found = self._ecs._deployments
            for arn in list(found)[self._seen :]:
                self._status[arn] = "PENDING"
            self._seen = len(found)
            for arn, before in list(self._status.items()):
                sd = found[arn]
                after = sd.status(now)
                if after == before:
                    continue
                service = sd.service_arn.rsplit("/", 1)[-1]
                for change in changes(sd, before, after):
                    body = message(change, sd, ACCOUNT, REGION, self._ecs._stamp(change.at))
                    self._schedule(change, json.dumps(body), service)
                if after in TERMINAL:
                    del self._status[arn]
                else:
                    self._status[arn] = after

    def _schedule(self, change: Change, body: str, service: str) -> None:
        # Four draws per event, whatever the faults, so runs differ only where they fault.
        lost, delay, twice, lag = (self._random.random() for _ in range(4))
        entry = Delivery(service, change.name, change.rollback, change.at)
        self.log.append(entry)
        if lost < self._faults.drop:
            return
        at = change.at + DELAY[0] + delay * (DELAY[1] - DELAY[0])
        heapq.heappush(self._due, (at, len(self.log) - 1, body))
        if twice < self._faults.duplicate:
            copy = Delivery(service, change.name, change.rollback, change.at, copy=True)
            self.log.append(copy)
            later = at + DUPLICATE_LAG[0] + lag * (DUPLICATE_LAG[1] - DUPLICATE_LAG[0])
            heapq.heappush(self._due, (later, len(self.log) - 1, body))

    def _deliver(self, now: float) -> None:
        while self._due and self._due[0][0] <= now:
            _, index, body = heapq.heappop(self._due)
            self._sqs.put_event(body)
            self.log[index].delivered = self._ecs.clock.now()
