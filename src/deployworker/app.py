"""Wiring: the one module that builds every part from `Settings` and connects them.

`build` does the start-up I/O (resolving the DLQ, loading the allowlist) in the
open, so no constructor anywhere talks to AWS. `App.start`/`App.shutdown` run and
stop the threads in a safe order.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from wsgiref.simple_server import WSGIServer

import structlog

from deployworker.aws._ratelimit import Limiter
from deployworker.aws._retry import RetryPolicy
from deployworker.aws.ecr import Ecr
from deployworker.aws.ecs import Ecs
from deployworker.aws.factory import Factory
from deployworker.aws.identity import Sts, own_scope
from deployworker.aws.sns import Sns
from deployworker.aws.sqs import Sqs
from deployworker.board.web import Board, build_board
from deployworker.deploy.act import Actor
from deployworker.deploy.approvals.wiring import build_approvals
from deployworker.deploy.gates.wiring import gates_for
from deployworker.deploy.migrate import Migrator
from deployworker.deploy.pipeline import Pipeline
from deployworker.deploy.release.build import build_releases
from deployworker.deploy.targets import Targets
from deployworker.deploy.targetwiring import build_accounts, build_targets
from deployworker.errors import AwsError, ConfigError
from deployworker.intake.admit import Intake
from deployworker.intake.allowlist_file import AllowlistSource, open_allowlist
from deployworker.intake.keys import load_signing, load_tag_key
from deployworker.observe.events import SnsEvents, discard
from deployworker.observe.httpd import Health, serve
from deployworker.observe.metrics import Metrics
from deployworker.queue.heartbeat import Heartbeat
from deployworker.queue.ledgerwiring import RecordedEvents, build_recorder, on_received
from deployworker.queue.route import Router
from deployworker.queue.settle import Settler
from deployworker.queue.worker import Worker
from deployworker.rollout.eventqueue import EventConsumer, build_watcher, consume_events
from deployworker.rollout.watch import Watcher
from deployworker.settings import Settings

log = structlog.get_logger("deployworker.app")


@dataclass
class App:
    """A built worker and everything it runs alongside."""

    settings: Settings
    metrics: Metrics
    health: Health
    allowlist: AllowlistSource
    ecs: Ecs
    sqs: Sqs
    watcher: Watcher
    heartbeat: Heartbeat
    worker: Worker
    queue_url: str
    dlq_url: str
    targets: Targets  # routes messages to home's pipeline and other targets' pipelines
    events: SnsEvents | None = None
    settler: Settler | None = None
    http: WSGIServer | None = None
    resumes: ThreadPoolExecutor = field(default_factory=ThreadPoolExecutor)
    ecs_events: EventConsumer | None = None
    board: Board | None = None  # the deploy board, mounted at /board beside /metrics

    @property
    def http_port(self) -> int:
        """The port the HTTP endpoint listens on."""
        return self.http.server_address[1] if self.http else 0

    def start(self, serve_http: bool = True) -> None:
        """Start the HTTP endpoint, the watcher, the heartbeat and the poll loop."""
        if serve_http:
            s, m = self.settings, {"/board": self.board} if self.board else {}
            self.http = serve(s.metrics_host, s.metrics_port, self.metrics.registry, self.health, m)
        if self.events is not None:
            self.events.start()
        self.watcher.start()
        if self.ecs_events is not None:
            self.ecs_events.start()
        self.heartbeat.start()
        self.worker.start()
        log.info(
            "worker.started",
            queue_url=self.queue_url,
            dlq_url=self.dlq_url,
            max_in_flight=self.settings.max_in_flight,
            http_port=self.http_port,
        )

    def shutdown(self) -> list[str]:
        """Stop receiving, hand in-flight messages back (returns their ids), stop every thread."""
        self.worker.stop_receiving()
        if self.ecs_events is not None:
            self.ecs_events.stop()
        # Waiters wake with no verdict and settle as `released` (visibility 0).
        self.watcher.stop()
        self.targets.stop()
        released = self.worker.drain(self.settings.shutdown_grace_seconds)
        self.targets.stop_gates()  # their steps run on the resume pool, shut down next
        self.resumes.shutdown(wait=False, cancel_futures=True)
        self.heartbeat.stop()
        if self.events is not None:
            self.events.stop()
        if self.http is not None:
            self.http.shutdown()
            self.http.server_close()
        log.info("worker.stopped", released_message_ids=released)
        return released


def build(
    settings: Settings, clients: Callable[[str], Any] | None = None, limiter: Limiter | None = None
) -> App:
    """Build a worker from settings; raises `ConfigError` when it cannot run. `clients`
    (service name to a boto3-shaped client) and `limiter` replace the boto3 clients and
    the ECS token buckets (benchmarks run the worker against in-memory fakes)."""
    if not settings.queue_url:
        raise ConfigError("DEPLOYWORKER_QUEUE_URL is not set: the worker needs a work queue")
    metrics = Metrics()
    aws = Factory(
        RetryPolicy(attempts=settings.aws_attempts, max_seconds=settings.aws_retry_max_seconds),
        metrics.aws_request,
        settings.region,
        settings.endpoint_url,
        settings.deploy_threads + settings.resume_threads + settings.receivers + 8,
        clients,
    )
    ecs_client = aws.client("ecs")
    # Messages may name ARNs: the worker must know its own account and region to deny others.
    own = own_scope(
        settings.region, settings.account_id, ecs_client, lambda: aws.adapter(Sts, "sts")
    )
    accounts = build_accounts(settings, aws, own[1], metrics.api_budget)
    ecs = Ecs(ecs_client, aws.caller("ecs", limiter or accounts.limiter(own[1], own[0])))
    sqs = aws.adapter(Sqs, "sqs")
    queue_url = settings.queue_url
    try:
        dlq_url = settings.dlq_url or sqs.dead_letter_queue_url(queue_url)
    except AwsError as exc:
        raise ConfigError(f"cannot read the work queue {queue_url}: {exc}") from exc
    if not dlq_url:
        raise ConfigError(
            f"the work queue {queue_url} has no redrive policy and DEPLOYWORKER_DLQ_URL is "
            "not set: rejected messages need a dead-letter queue"
        )
    allowlist = open_allowlist(
        settings.allowlist_yaml,
        settings.allowlist_path,
        settings.allowlist_reload_seconds,
        metrics.allowlist_loaded,
    )
    health = Health(
        settings.health_poll_window_seconds,
        allowlist_loaded=lambda: allowlist.loaded,
        on_poll=metrics.polled,
    )
    signing_key = load_signing(settings, aws.caller("secretsmanager"), queue_url)
    intake = Intake(allowlist.current, *own, signing_key, settings.signing_max_age_seconds)
    events = None
    if settings.events_topic_arn:
        sns = aws.adapter(Sns, "sns")
        drop, format = metrics.events_dropped.inc, settings.events_format
        events = SnsEvents(sns, settings.events_topic_arn, on_drop=drop, format=format)
    if (recorder := build_recorder(settings, aws, intake, metrics.registry)) is not None:
        events = RecordedEvents(events, recorder)  # every event is told to the ledger too
    watcher = build_watcher(settings, ecs, metrics.watch_round, metrics.paused.set)
    # Deploys resume here after their verdicts, never on the watcher's own thread.
    resumes = ThreadPoolExecutor(settings.resume_threads, thread_name_prefix="resume")
    heartbeat = Heartbeat(sqs, queue_url, settings.visibility_timeout, settings.heartbeat_interval)
    tag_key = load_tag_key(settings, aws.caller("secretsmanager"))
    actor = Actor(
        ecs,
        Migrator(ecs, settings.watch_interval_seconds, tag_key=tag_key),
        aws.adapter(Ecr, "ecr"),
        *own,  # region, account
        non_ecr=settings.non_ecr_pinning,
        default_timeout=settings.deploy_timeout_seconds,
        tag_key=tag_key,
        replay_window=2 * settings.signing_max_age_seconds if signing_key else 0.0,
    )
    emit = events.emit if events is not None else discard
    pipeline = Pipeline(
        ecs,
        actor,
        watcher,
        allowlist.current,
        settings.deploy_timeout_seconds,
        region=own[0],
        account=own[1],
        emit=emit,
        releases=build_releases(aws, watcher, actor, allowlist, settings, events, signing_key),
        signing_key=signing_key,
        signing_max_age=settings.signing_max_age_seconds,
        dispatch=resumes.submit,
        gates=gates_for(settings, aws, ecs, resumes.submit, watcher.wake, emit, metrics, tag_key),
    )
    targets = build_targets(settings, accounts, pipeline, intake, emit, resumes.submit, actor)
    settled, record = [lambda _, r: metrics.settled(r)], recorder.final if recorder else None
    settler = Settler(sqs, queue_url, dlq_url, settings.retry_backoff_seconds, settled, record)
    approvals = build_approvals(
        settings, aws, targets, allowlist.current, events, metrics, targets.wake_gates, tag_key
    )
    worker = Worker(
        sqs,
        queue_url,
        Router(targets, approvals),
        settler,
        heartbeat,
        allowlist,
        health,
        settings.max_in_flight,
        settings.poll_wait_seconds,
        settings.visibility_timeout,
        on_received=on_received(metrics.message_received, recorder),
        on_in_flight=metrics.set_in_flight,
        supersede=settings.supersede,
        deploy_threads=settings.deploy_threads,
        receivers=settings.receivers,
    )
    return App(
        settings,
        metrics,
        health,
        allowlist,
        ecs,
        sqs,
        watcher,
        heartbeat,
        worker,
        queue_url,
        dlq_url,
        targets,
        events,
        settler,
        resumes=resumes,
        ecs_events=consume_events(settings, sqs, targets.watchers, health, metrics.ecs_event, aws),
        board=build_board(settings, recorder.writer.table if recorder else None),
    )
