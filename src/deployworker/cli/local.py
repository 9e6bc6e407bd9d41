"""`deployworker local`: the whole product on one machine, with no AWS account."""

from __future__ import annotations

import secrets
import shlex
import threading

import structlog
from pydantic import SecretStr

from deployworker.app import build
from deployworker.cli.publish import publish
from deployworker.intake.allowlist import load_allowlist
from deployworker.local import DEFAULT_REGION, use_fake_credentials
from deployworker.local.environment import LocalAws
from deployworker.local.seed import (
    create_events_topic,
    create_ledger,
    create_queues,
    create_services,
)
from deployworker.local.simulator import Rules
from deployworker.settings import Settings

log = structlog.get_logger("deployworker.local")


def replica_command(joined: dict[str, str]) -> str:
    """A shell command that runs one more replica against this local mode (moto takes
    any credentials; the metrics port is the OS's choice, so it never clashes)."""
    env = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local", **joined}
    env["DEPLOYWORKER_METRICS_PORT"] = "0"
    return " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items()) + " deployworker run"


def run_local(settings: Settings, stop: threading.Event, sample: bool = True) -> None:
    """Start moto, seed it from the allowlist, run the worker until `stop` is set."""
    use_fake_credentials()
    region = settings.region or DEFAULT_REGION
    allowlist = load_allowlist(settings.allowlist_path.read_text(encoding="utf-8"))
    rules = Rules(
        settings.local_converge_seconds,
        settings.local_fail_pattern,
        settings.local_hang_pattern,
        # DEPLOYWORKER_LOCAL_MINUTE_SECONDS: bakes and hook timeouts are given in minutes.
        minute_seconds=settings.local_minute_seconds,
    )
    aws = LocalAws(settings.local_port, rules)
    endpoint = aws.start()
    try:
        resources = create_queues(endpoint, region)
        services = create_services(endpoint, region, allowlist)
        # ECS's events through EventBridge, as in AWS: the watcher learns a rollout's end
        # and a hook's pause from them, and its rounds are the safety net. They go to a
        # topic every replica subscribes a queue of its own to, so a second `deployworker
        # run` can join. The rule covers every service here, so services an allowlist
        # reload adds are covered too.
        events_topic_arn = create_events_topic(endpoint, region)
        joined = {
            "DEPLOYWORKER_QUEUE_URL": resources.queue_url,
            "DEPLOYWORKER_DLQ_URL": resources.dlq_url,
            "DEPLOYWORKER_DEPLOY_TOPIC_ARN": resources.topic_arn,
            "DEPLOYWORKER_ECS_EVENTS_TOPIC_ARN": events_topic_arn,
            "DEPLOYWORKER_ENDPOINT_URL": endpoint,
            "DEPLOYWORKER_REGION": region,
            "DEPLOYWORKER_ALLOWLIST_PATH": str(settings.allowlist_path.resolve()),
        }
        ledger = settings.ledger_table or create_ledger(endpoint, region)
        joined["DEPLOYWORKER_LEDGER_TABLE"] = ledger  # `status` and `--wait` see every replica
        # One tag key for every replica: each must verify the seals the others wrote (a
        # revision another replica registered is reused, or rolled back to). A key made
        # for this run on an emulator is printed for the replica; one the user gave is
        # in their environment already, and is never printed. In AWS the replicas'
        # shared task definition names the secret.
        tag_key = settings.tag_key
        if tag_key is None or not tag_key.get_secret_value().strip():
            tag_key = SecretStr(secrets.token_hex(32))
            joined["DEPLOYWORKER_TAG_KEY"] = tag_key.get_secret_value()
        worker_settings = settings.model_copy(
            update={
                "queue_url": resources.queue_url,
                "dlq_url": resources.dlq_url,
                "deploy_topic_arn": resources.topic_arn,
                "endpoint_url": endpoint,
                "region": region,
                "ecs_events_topic_arn": events_topic_arn,
                "ledger_table": ledger,
                "watch_interval_seconds": min(settings.watch_interval_seconds, 1.0),
                "tag_key": tag_key,  # generated for this run unless one is given
            }
        )
        app = build(worker_settings)
        app.start()
        log.info(
            "local.ready",
            endpoint_url=endpoint,
            topic_arn=resources.topic_arn,
            queue_url=resources.queue_url,
            dlq_url=resources.dlq_url,
            ecs_events_topic_arn=events_topic_arn,
            services=services,
            metrics_url=f"http://{settings.metrics_host}:{app.http_port}/metrics",
            try_it="deployworker publish --local --cluster C --service S --container N "
            "--image REPO:TAG",
            # Every setting a second worker needs to join as a replica (docs/replicas.md).
            replica_settings=joined,
            join_as_replica=replica_command(joined),
        )
        if sample and allowlist.services:
            entry = allowlist.services[0]
            sent = publish(
                {
                    "cluster": entry.cluster,
                    "service": entry.service,
                    "container": entry.containers[0],
                    "image": f"{entry.images[0]}:sample-1",
                    "deploy_id": "local-sample-1",
                    "source": {"actor": "deployworker-local"},
                },
                topic_arn=resources.topic_arn,
                queue_url=None,
                region=region,
                endpoint_url=endpoint,
            )
            log.info("local.sample_published", deploy_id=sent.deploy_id, group_id=sent.group_id)
        if app.board is not None and app.http is not None:
            # Last, where a new user looks: the sample deploy appears there and converges.
            url = f"http://{settings.metrics_host}:{app.http_port}/board"
            log.info("local.board", board_url=url, hint=f"open {url} to watch deploys")
        stop.wait()
        app.shutdown()
    finally:
        aws.stop()
