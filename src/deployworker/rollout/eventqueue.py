"""The events queue: ECS's EventBridge events, read to wake the watcher.

An EventBridge rule puts ECS's deployment and service-action events on a standard
SQS queue, or, for several replicas, on an SNS topic that each replica's own queue
subscribes to (`replicaqueue`: every replica sees every event). `EventConsumer`
long-polls the queue on its own thread, deletes every message it read (an event is
worth one look, and a redelivered one is worth nothing more), and wakes the watcher
for the followed deployments an event names, when it can end their verdicts
(`events.match`, `events.Starts`). Every watcher is looked at: home's and each other
target's (an event from another account or region names its deployment's ARN, and
wakes the watcher following it). Events about services nobody here follows are
dropped at once: each is counted by its result, none is logged, since the account
writes them, not the worker.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable

import structlog

from deployworker.aws.ecs import Ecs
from deployworker.aws.factory import Factory
from deployworker.aws.queueadmin import QueueAdmin
from deployworker.aws.sns import Sns
from deployworker.aws.sqs import Sqs
from deployworker.errors import AwsError
from deployworker.observe.httpd import Health
from deployworker.rollout.events import Result, Starts, follow_index, match, parse
from deployworker.rollout.replicaqueue import HEARTBEAT_SECONDS, ReplicaQueue
from deployworker.rollout.watch import Watcher
from deployworker.settings import Settings

log = structlog.get_logger("deployworker.events")
RECEIVE_ERROR_PAUSE = 2.0
# Invisible this long after a receive: deleted long before, unless the worker died.
VISIBILITY = 30
EVENTS_QUEUE = "events queue"  # its name in /readyz


class EventConsumer:
    """Reads the events queue and wakes the watchers; one thread."""

    def __init__(
        self,
        sqs: Sqs,
        queue_url: str,
        watcher: Watcher | Callable[[], Iterable[Watcher]],
        wait_seconds: int = 20,
        on_result: Callable[[str], None] = lambda _: None,
        on_answered: Callable[[], None] = lambda: None,
        replica: ReplicaQueue | None = None,
    ) -> None:
        self._sqs = sqs
        self._queue_url = queue_url  # "" until `replica` made this replica's own queue
        self._replica = replica
        self._beaten = 0.0
        # One watcher, or every watcher there is now (targets build theirs on first use).
        self._watchers = (lambda: (watcher,)) if isinstance(watcher, Watcher) else watcher
        self._wait = wait_seconds
        self._on_result = on_result  # one call per event, with its `events.Result` value
        self._on_answered = on_answered  # the queue answered GetQueueAttributes
        self._starts = Starts()  # touched by the consumer's thread only
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Check the queue answers (make this replica's own first, with a topic), then
        start reading it."""
        try:
            if self._replica is not None:
                self._queue_url = self._replica.open()
                self._beaten = time.monotonic()
            self._sqs.attributes(self._queue_url, ["QueueArn"])
            self._on_answered()
        except AwsError as exc:  # the first receive that works makes it ready instead
            log.warning("events.queue_unavailable", queue_url=self._queue_url, error=str(exc))
        self._thread = threading.Thread(target=self._loop, name="ecs-events", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop reading; a long poll under way is not waited for past a second."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=1.0)
        if self._replica is not None:
            self._replica.close()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._keep_replica_queue()
                self.poll(self._wait)
            except AwsError as exc:
                log.warning("events.receive_failed", error=str(exc))
                self._stop.wait(RECEIVE_ERROR_PAUSE)
            except Exception:  # the consumer must outlive any single bad batch
                log.exception("events.poll_crashed")
                self._stop.wait(RECEIVE_ERROR_PAUSE)

    def _keep_replica_queue(self) -> None:
        """Make this replica's queue if `start` could not, and keep its heartbeat."""
        if self._replica is None:
            return
        if not self._queue_url:
            self._queue_url = self._replica.open()
            self._beaten = time.monotonic()
        elif time.monotonic() - self._beaten >= HEARTBEAT_SECONDS:
            self._replica.beat()
            self._beaten = time.monotonic()

    def poll(self, wait_seconds: int) -> int:
        """One receive: match, wake, delete. Returns the number of events read."""
        messages = self._sqs.receive(self._queue_url, 10, wait_seconds, VISIBILITY)
        self._on_answered()
        if not messages:
            return 0
        watchers = [(w, w.followed()) for w in self._watchers()]
        followed = follow_index(arn for _, arns in watchers for arn in arns)
        self._starts.keep_only(followed.arns)
        woken: set[str] = set()
        for message in messages:
            found = match(parse(message.body), followed)
            wake = self._starts.to_wake(found)
            woken.update(wake)
            quiet = found.arns and not wake
            self._on_result(Result.QUIET.value if quiet else found.result.value)
        for watcher, arns in watchers:
            if mine := woken & arns:
                watcher.wake(mine)
        failed = self._sqs.delete_batch(self._queue_url, [m.receipt_handle for m in messages])
        if failed:  # they come back after VISIBILITY, and cost one more look at most
            log.warning("events.delete_failed", messages=failed)
        return len(messages)


def consume_events(
    settings: Settings,
    sqs: Sqs,
    watcher: Watcher | Callable[[], Iterable[Watcher]],
    health: Health,
    on_result: Callable[[str], None],
    aws: Factory | None = None,
) -> EventConsumer | None:
    """The consumer `DEPLOYWORKER_EVENTS_QUEUE_URL` asks for, or, with
    `DEPLOYWORKER_ECS_EVENTS_TOPIC_ARN`, one reading this replica's own queue subscribed
    to that topic (None when neither is set), waking `watcher` (or each of the watchers
    it returns); readiness then waits for the events queue to answer as well."""
    topic = settings.ecs_events_topic_arn
    if not settings.events_queue_url and not topic:
        return None
    health.expect(EVENTS_QUEUE)
    replica = None
    if topic and aws is not None:
        queues = aws.adapter(QueueAdmin, "sqs")
        replica = ReplicaQueue(queues, aws.adapter(Sns, "sns"), topic, settings.ecs_events_prefix)
    return EventConsumer(
        sqs,
        "" if replica is not None else str(settings.events_queue_url),
        watcher,
        settings.events_wait_seconds,
        on_result=on_result,
        on_answered=lambda: health.answered(EVENTS_QUEUE),
        replica=replica,
    )


def build_watcher(
    settings: Settings,
    ecs: Ecs,
    on_round: Callable[[int, int, float], None],
    on_paused: Callable[[int], None],
) -> Watcher:
    """The watcher the settings ask for: with the events queue, each deployment on its
    own safety-net schedule and wake-ups gathered; without it, polling rounds."""
    return Watcher(
        ecs,
        settings.watch_round_seconds,
        describe_rate=settings.describe_deployments_rate,
        on_round=on_round,
        on_paused=on_paused,
        gather=settings.events_gather_seconds,
        full_rounds=not settings.events_on,
    )
