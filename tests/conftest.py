"""Shared fixtures: one in-process moto server with the rollout simulator, reset per test."""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from deployworker.app import App, build
from deployworker.aws._retry import Caller, RetryPolicy
from deployworker.aws.clients import make_client
from deployworker.aws.dynamodb import LedgerTable
from deployworker.local.environment import LocalAws
from deployworker.local.seed import (
    Resources,
    container_definition,
    create_ledger,
    create_queues,
)
from deployworker.local.simulator import RolloutSimulator, Rules
from deployworker.observe.logs import configure_logging
from deployworker.settings import Settings
from promserver import Exporter, PrometheusServer

REGION = "eu-west-1"
REPO = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/web"
OTHER_REPO = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/api"
FAST = Rules(converge_seconds=0.6)

configure_logging("info")  # JSON to stderr, as in production; stdout stays for command output
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.pop("AWS_PROFILE", None)


@pytest.fixture(autouse=True)
def _logs_to_stderr() -> None:
    """Every test starts with logs at info on stderr, whatever an earlier test or a
    benchmark run in-process (which sends them to /dev/null) left configured."""
    configure_logging("info")


@pytest.fixture(scope="session")
def local_aws() -> Iterator[LocalAws]:
    """moto's server on 127.0.0.1 (a free port) with the rollout simulator installed."""
    aws = LocalAws(0, FAST)
    aws.start()
    yield aws
    aws.stop()


@pytest.fixture(scope="session")
def exporter() -> Iterator[Exporter]:
    """An application's metrics endpoint the test controls (`exporter.set(name, value)`)."""
    served = Exporter()
    yield served
    served.stop()


@pytest.fixture(scope="session")
def prometheus(
    exporter: Exporter, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PrometheusServer]:
    """A real Prometheus server on 127.0.0.1 scraping `exporter` every second."""
    server = PrometheusServer(tmp_path_factory.mktemp("prometheus"), [exporter.target])
    server.wait_ready()
    # Prometheus holds its first target list back for 5 s; pay that here, once.
    server.wait_value(f'up{{instance="{exporter.target}"}}', 1)
    yield server
    server.stop()


@pytest.fixture
def endpoint(local_aws: LocalAws) -> str:
    """A freshly reset emulated AWS endpoint."""
    request = urllib.request.Request(f"{local_aws.endpoint_url}/moto-api/reset", method="POST")
    urllib.request.urlopen(request).close()
    local_aws.simulator.rules = FAST
    local_aws.simulator.clock = time.monotonic  # whatever clock an earlier test held
    return local_aws.endpoint_url


@dataclass
class World:
    """An emulated account: clients, queues and helpers to build a worker against it."""

    endpoint: str
    tmp: Path
    resources: Resources
    simulator: RolloutSimulator
    ecs: Any = field(init=False)
    sqs: Any = field(init=False)
    sns: Any = field(init=False)
    apps: list[App] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.ecs = make_client("ecs", REGION, self.endpoint)
        self.sqs = make_client("sqs", REGION, self.endpoint)
        self.sns = make_client("sns", REGION, self.endpoint)

    # -- ECS --------------------------------------------------------------------------------
    def service(
        self,
        cluster: str = "prod",
        name: str = "web",
        containers: tuple[str, ...] = ("app",),
        image: str = f"{REPO}:1.0",
        circuit_breaker: bool = False,
        **create: Any,
    ) -> str:
        """Create a cluster, a task definition and a 2-task service; returns the TD ARN.

        `create` goes to CreateService as is (deploymentConfiguration, deploymentController).
        """
        self.ecs.create_cluster(clusterName=cluster)
        definitions = [container_definition(c, image) for c in containers]
        if len(containers) > 1:
            definitions[1]["image"] = image.replace(REPO, OTHER_REPO)
        arn: str = self.ecs.register_task_definition(
            family=f"{cluster}-{name}",
            containerDefinitions=definitions,
            cpu="256",
            memory="512",
            executionRoleArn="arn:aws:iam::123456789012:role/exec",
            volumes=[{"name": "scratch", "host": {"sourcePath": "/tmp"}}],
            tags=[{"key": "team", "value": "platform"}],
        )["taskDefinition"]["taskDefinitionArn"]
        self.ecs.create_service(
            cluster=cluster, serviceName=name, taskDefinition=arn, desiredCount=2, **create
        )
        if circuit_breaker:
            self.ecs.update_service(
                cluster=cluster,
                service=name,
                deploymentConfiguration={
                    "deploymentCircuitBreaker": {"enable": True, "rollback": True}
                },
            )
        return arn

    def register(self, image: str, family: str = "prod-web") -> str:
        """A new revision of `family` with its first container on `image`; returns its ARN."""
        td = self.ecs.describe_task_definition(taskDefinition=family)["taskDefinition"]
        containers = [{**td["containerDefinitions"][0], "image": image}]
        arn: str = self.ecs.register_task_definition(
            family=family, containerDefinitions=containers
        )["taskDefinition"]["taskDefinitionArn"]
        return arn

    def service_deployment(self, arn: str) -> dict[str, Any]:
        """A service deployment as DescribeServiceDeployments returns it."""
        found: dict[str, Any] = self.ecs.describe_service_deployments(serviceDeploymentArns=[arn])[
            "serviceDeployments"
        ][0]
        return found

    def wait_deployment(self, arn: str, predicate: Any, limit: float = 20) -> dict[str, Any]:
        """Poll a service deployment until `predicate(deployment)` holds (bounded)."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            found = self.service_deployment(arn)
            if predicate(found):
                return found
            time.sleep(0.02)
        raise AssertionError(f"service deployment never got there: {found}")

    def describe(self, cluster: str = "prod", name: str = "web") -> dict[str, Any]:
        """The service as DescribeServices returns it."""
        service: dict[str, Any] = self.ecs.describe_services(cluster=cluster, services=[name])[
            "services"
        ][0]
        return service

    def task_definition(self, arn: str) -> tuple[dict[str, Any], dict[str, str]]:
        """A task definition and its tags as a dict."""
        response = self.ecs.describe_task_definition(taskDefinition=arn, include=["TAGS"])
        return response["taskDefinition"], {t["key"]: t["value"] for t in response["tags"]}

    def images(self, cluster: str = "prod", name: str = "web") -> dict[str, str]:
        """Container name to image of the revision the service runs."""
        td, _ = self.task_definition(self.describe(cluster, name)["taskDefinition"])
        return {c["name"]: c["image"] for c in td["containerDefinitions"]}

    def revisions(self, family: str = "prod-web") -> list[str]:
        """Every registered revision of a family."""
        arns: list[str] = self.ecs.list_task_definitions(familyPrefix=family)["taskDefinitionArns"]
        return arns

    # -- queues -----------------------------------------------------------------------------
    def send(self, body: dict[str, Any] | str, group: str = "prod/web", dedup: str = "") -> str:
        """Send a message straight to the work queue."""
        text = body if isinstance(body, str) else json.dumps(body)
        message_id: str = self.sqs.send_message(
            QueueUrl=self.resources.queue_url,
            MessageBody=text,
            MessageGroupId=group,
            MessageDeduplicationId=dedup or str(abs(hash((text, group)))),
        )["MessageId"]
        return message_id

    def queue_depth(self, url: str | None = None) -> int:
        """Visible plus in-flight messages in a queue."""
        attrs = self.sqs.get_queue_attributes(
            QueueUrl=url or self.resources.queue_url,
            AttributeNames=[
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
            ],
        )["Attributes"]
        return int(attrs["ApproximateNumberOfMessages"]) + int(
            attrs["ApproximateNumberOfMessagesNotVisible"]
        )

    def dead_letters(self) -> list[dict[str, Any]]:
        """Take everything out of the DLQ, with message attributes.

        Each batch is deleted as it is read: in a FIFO queue, a group's later messages
        are not delivered while earlier ones are in flight.
        """
        found: list[dict[str, Any]] = []
        for _ in range(100):
            got = self.sqs.receive_message(
                QueueUrl=self.resources.dlq_url,
                MaxNumberOfMessages=10,
                MessageAttributeNames=["All"],
                VisibilityTimeout=30,
            ).get("Messages", [])
            if not got:
                break
            found.extend(got)
            for message in got:
                self.sqs.delete_message(
                    QueueUrl=self.resources.dlq_url, ReceiptHandle=message["ReceiptHandle"]
                )
        return found

    def publish_args(self, via: str = "queue") -> list[str]:
        """`deployworker publish` arguments for prod/web against this world."""
        target = (
            ["--queue-url", self.resources.queue_url]
            if via == "queue"
            else ["--topic-arn", self.resources.topic_arn]
        )
        return [
            "publish",
            *target,
            "--endpoint-url",
            self.endpoint,
            "--region",
            REGION,
            "--cluster",
            "prod",
            "--service",
            "web",
        ]

    # -- the ledger -------------------------------------------------------------------------
    def ledger(self) -> LedgerTable:
        """The deploy ledger's table, created as local mode creates it."""
        name = create_ledger(self.endpoint, REGION)
        client = make_client("dynamodb", REGION, self.endpoint)
        return LedgerTable(client, Caller("dynamodb", RetryPolicy(attempts=3)), name)

    # -- worker -----------------------------------------------------------------------------
    def allowlist(self, entries: list[dict[str, Any]], name: str = "allowlist.yaml") -> Path:
        """Write an allowlist file."""
        path = self.tmp / name
        path.write_text(yaml.safe_dump({"version": 1, "services": entries}))
        return path

    def app(self, allowlist: Path | None = None, **overrides: Any) -> App:
        """Build a worker against this world, with watcher and heartbeat started."""
        if allowlist is None:
            allowlist = self.allowlist([default_entry()])
        values: dict[str, Any] = {
            "queue_url": self.resources.queue_url,
            "region": REGION,
            "endpoint_url": self.endpoint,
            "allowlist_path": allowlist,
            "allowlist_reload_seconds": 0.01,
            "poll_wait_seconds": 0,
            "visibility_timeout": 30,
            "watch_interval_seconds": 0.2,
            "deploy_timeout_seconds": 30,
            "metrics_port": 0,
            "aws_attempts": 3,
            "tag_key": "worker-only-tag-key",
        }
        settings = Settings(**{**values, **overrides})
        app = build(settings)
        app.watcher.start()
        app.heartbeat.start()
        if app.events is not None:
            app.events.start()
        self.apps.append(app)
        return app


def default_entry(**changes: Any) -> dict[str, Any]:
    """The allowlist entry for prod/web."""
    entry: dict[str, Any] = {
        "cluster": "prod",
        "service": "web",
        "containers": ["app", "worker"],
        "images": [REPO, OTHER_REPO],
        "rollback": True,
    }
    entry.update(changes)
    return entry


def deploy(image: str | None = f"{REPO}:2.0", **changes: Any) -> dict[str, Any]:
    """A valid deploy message for prod/web's app container."""
    body: dict[str, Any] = {
        "cluster": "prod",
        "service": "web",
        "container": "app",
        "image": image,
        "deploy_id": f"build-{abs(hash(image)) % 100000}",
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


def http_get(url: str) -> tuple[int, str]:
    """GET a loopback URL: (status, body), errors included."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def drain(app: App, rounds: int = 20) -> int:
    """Process batches until the queue has nothing visible; returns jobs run."""
    total = 0
    for _ in range(rounds):
        jobs = app.worker.run_once(wait_seconds=0)
        if jobs == 0:
            break
        total += jobs
    return total


def metric(app: App, name: str, **labels: str) -> float:
    """A sample's value from the worker's registry (0 when absent)."""
    value = app.metrics.registry.get_sample_value(name, labels)
    return value or 0.0


class HeldClock:
    """The simulator's monotonic clock, moved only by `advance`: a test that must see
    a stage or status that lasts a fraction of a second describes between two moves,
    so a busy machine cannot let it pass unseen."""

    def __init__(self, world: World) -> None:
        self.now = time.monotonic()
        self._simulator = world.simulator

    def advance(self, seconds: float) -> None:
        """Move the clock on and every deployment with it."""
        self.now += seconds
        self._simulator.step()

    def release(self) -> None:
        """Let real time move deployments again, on from where the clock was held."""
        offset = self.now - time.monotonic()
        self._simulator.clock = lambda: time.monotonic() + offset

    def walk(self, probe: Callable[[], Any], step: float = 0.02, limit: float = 30.0) -> Any:
        """Call `probe`, moving the clock `step` s after each call, until it returns
        something truthy (returned); at most `limit` simulated seconds."""
        for _ in range(round(limit / step)):
            if found := probe():
                return found
            self.advance(step)
        raise AssertionError(f"condition not reached in {limit:g} simulated seconds")


@pytest.fixture
def sim_clock(world: World) -> Iterator[HeldClock]:
    """Hold the simulator's clock for the test; real time moves no deployment."""
    held = HeldClock(world)
    world.simulator.clock = lambda: held.now
    try:
        yield held
    finally:
        world.simulator.clock = time.monotonic


@pytest.fixture
def world(endpoint: str, tmp_path: Path, local_aws: LocalAws) -> Iterator[World]:
    """A reset account with the work queue (visibility 30 s), DLQ and SNS topic."""
    w = World(endpoint, tmp_path, create_queues(endpoint, REGION), local_aws.simulator)
    yield w
    for app in w.apps:
        app.shutdown()


def events_queue(world: World) -> tuple[str, str]:
    """An SNS topic for deploy events and the SQS queue subscribed to it (raw delivery)."""
    topic: str = world.sns.create_topic(Name="deploy-events")["TopicArn"]
    url: str = world.sqs.create_queue(QueueName="events")["QueueUrl"]
    arn = world.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    world.sns.subscribe(
        TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"}
    )
    return topic, url


def read_events(world: World, url: str) -> list[dict[str, Any]]:
    """Every event on the queue so far, oldest first."""
    events: list[dict[str, Any]] = []
    for _ in range(20):
        got = world.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not got:
            break
        events.extend(json.loads(m["Body"]) for m in got)
    return sorted(events, key=lambda e: e["time"])


def wait_for(probe: Callable[[], Any], limit: float = 20.0) -> Any:
    """Poll `probe` until it returns something truthy, and return that (bounded)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.02)
    raise AssertionError("condition not reached in time")
