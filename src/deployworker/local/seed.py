"""The resources the allowlist names, created on the embedded endpoint: the queue,
DLQ, SNS FIFO topic, clusters, task definitions and services, so the worker finds
the same world it would find in a real account. boto3 only: no moto import here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import boto3

from deployworker.aws.clients import make_client
from deployworker.aws.dynamodb import create_table
from deployworker.intake.accounts import account_of
from deployworker.intake.entries import Allowlist, Entry

ACCOUNT_ID = "123456789012"
QUEUE_NAME = "deployworker-deploys.fifo"
DLQ_NAME = "deployworker-dlq.fifo"
TOPIC_NAME = "deployworker-deploys.fifo"
EVENTS_QUEUE_NAME = "deployworker-ecs-events"
EVENTS_RULE_NAME = "deployworker-ecs-events"
LEDGER_TABLE = "deployworker-ledger"
# The ECS events the worker reads (rollout.events.DETAIL_TYPES).
ECS_DETAIL_TYPES = ["ECS Deployment State Change", "ECS Hook State Change", "ECS Service Action"]
INITIAL_TAG = "initial"


@dataclass(frozen=True)
class Resources:
    """What `seed` created."""

    queue_url: str
    dlq_url: str
    topic_arn: str


def create_queues(endpoint_url: str, region: str, max_receive_count: int = 5) -> Resources:
    """The FIFO work queue with its DLQ redrive, and an SNS FIFO topic subscribed to it."""
    sqs = make_client("sqs", region, endpoint_url)
    sns = make_client("sns", region, endpoint_url)
    fifo = {"FifoQueue": "true", "ContentBasedDeduplication": "true"}
    dlq_url = sqs.create_queue(QueueName=DLQ_NAME, Attributes=fifo)["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receive_count)}
    queue_url = sqs.create_queue(
        QueueName=QUEUE_NAME,
        Attributes={**fifo, "VisibilityTimeout": "60", "RedrivePolicy": json.dumps(redrive)},
    )["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    topic_arn = sns.create_topic(
        Name=TOPIC_NAME, Attributes={"FifoTopic": "true", "ContentBasedDeduplication": "true"}
    )["TopicArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    return Resources(queue_url, dlq_url, topic_arn)


def create_ledger(endpoint_url: str, region: str, name: str = LEDGER_TABLE) -> str:
    """The deploy ledger's DynamoDB table (as the Terraform module makes it); its name."""
    create_table(make_client("dynamodb", region, endpoint_url), name)
    return name


def create_events_queue(endpoint_url: str, region: str, clusters: list[str] | None = None) -> str:
    """A standard queue for ECS's events and an EventBridge rule that puts the events of
    `clusters`' services on it, as the Terraform module does; returns the queue's URL.
    Without `clusters`, every service of the account and region: local mode's rule, so
    a service allowlisted by a reload after the start is covered too (the worker drops
    events of services it does not follow)."""
    sqs = make_client("sqs", region, endpoint_url)
    url: str = sqs.create_queue(QueueName=EVENTS_QUEUE_NAME)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    _events_rule(endpoint_url, region, clusters, arn)
    return url


def create_events_topic(endpoint_url: str, region: str, clusters: list[str] | None = None) -> str:
    """An SNS topic for ECS's events, which each replica subscribes a queue of its own
    to, and the EventBridge rule that publishes `clusters`' events to it (without
    `clusters`, every service's, as local mode asks), as the Terraform module does with
    `ecs_events_fanout`; returns the topic's ARN."""
    sns = make_client("sns", region, endpoint_url)
    topic: str = sns.create_topic(Name=EVENTS_QUEUE_NAME)["TopicArn"]
    _events_rule(endpoint_url, region, clusters, topic)
    return topic


def _events_rule(endpoint_url: str, region: str, clusters: list[str] | None, arn: str) -> None:
    events = make_client("events", region, endpoint_url)
    prefix = f"arn:aws:ecs:{region}:{ACCOUNT_ID}:service"
    pattern = {
        "source": ["aws.ecs"],
        "detail-type": ECS_DETAIL_TYPES,
        "resources": [{"prefix": f"{prefix}/{cluster}/"} for cluster in sorted(set(clusters))]
        if clusters is not None
        else [{"prefix": f"{prefix}/"}],
    }
    events.put_rule(Name=EVENTS_RULE_NAME, EventPattern=json.dumps(pattern), State="ENABLED")
    events.put_targets(Rule=EVENTS_RULE_NAME, Targets=[{"Id": "worker", "Arn": arn}])


def container_definition(name: str, image: str) -> dict[str, Any]:
    """A realistic container: environment, secrets and limits the deploy must keep."""
    return {
        "name": name,
        "image": image,
        "essential": True,
        "cpu": 128,
        "memory": 256,
        "environment": [{"name": "APP_MODE", "value": "local"}],
        "secrets": [
            {
                "name": "DB_PASSWORD",
                "valueFrom": f"arn:aws:ssm:eu-west-1:{ACCOUNT_ID}:parameter/{name}/db-password",
            }
        ],
        "portMappings": [{"containerPort": 8080, "protocol": "tcp"}],
    }


def _ecs_where(endpoint_url: str, region: str, allowlist: Allowlist, entry: Entry) -> Any:
    """ECS where `entry` lives: home, or its account through the allowlist's role (moto's
    AssumeRole hands out credentials that act in the role's account)."""
    where = entry.region or region
    listed = account_of(allowlist.accounts, entry.account) if entry.account else None
    if listed is None:
        return make_client("ecs", where, endpoint_url)
    extra = {"ExternalId": listed.external_id} if listed.external_id else {}
    sts = make_client("sts", where, endpoint_url)
    credentials = sts.assume_role(
        RoleArn=listed.role_arn, RoleSessionName="deployworker-local-seed", **extra
    )["Credentials"]
    return boto3.client(
        "ecs",
        region_name=where,
        endpoint_url=endpoint_url,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )


def create_services(endpoint_url: str, region: str, allowlist: Allowlist) -> list[str]:
    """A cluster, task definition and 2-task service for every allowlist entry, in its
    account and region."""
    clients: dict[tuple[str | None, str | None], Any] = {}
    created = []
    for entry in allowlist.services:
        where = (entry.account, entry.region)
        if where not in clients:
            clients[where] = _ecs_where(endpoint_url, region, allowlist, entry)
        ecs = clients[where]
        ecs.create_cluster(clusterName=entry.cluster)
        image = f"{entry.images[0]}:{INITIAL_TAG}"
        registered = ecs.register_task_definition(
            family=f"{entry.cluster}-{entry.service}",
            containerDefinitions=[container_definition(c, image) for c in entry.containers],
            cpu="256",
            memory="512",
            tags=[{"key": "team", "value": "platform"}],
        )
        ecs.create_service(
            cluster=entry.cluster,
            serviceName=entry.service,
            taskDefinition=registered["taskDefinition"]["taskDefinitionArn"],
            desiredCount=2,
        )
        prefix = "/".join(p for p in where if p)
        created.append(f"{prefix + '/' if prefix else ''}{entry.cluster}/{entry.service}")
    return created
