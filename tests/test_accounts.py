"""Deploys in another account and region, end to end through moto (real HTTP).

moto keeps one backend per account and region, and STS AssumeRole hands out
credentials that act in the role's account: the worker's assumed-role session lands
its calls in 222222222222/us-west-2, and the same-named service at home stays put.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from moto.sts.models import sts_backends

from conftest import REPO, World, default_entry, deploy, drain, metric
from deployworker.aws.accounts.sessions import Role
from deployworker.cli.main import main
from deployworker.cli.publish import home_of, publish
from deployworker.cli.status import EXIT_CODES, DeployState
from deployworker.intake.allowlist import load_allowlist
from deployworker.local.seed import container_definition, create_services
from deployworker.local.simulator import Rules

TARGET = "222222222222"
TARGET_REGION = "us-west-2"
ROLE = f"arn:aws:iam::{TARGET}:role/deployworker-target"


def target_ecs(world: World) -> Any:
    """An ECS client acting in the target account and region (as the target's own admin)."""
    sts = boto3.client("sts", region_name=TARGET_REGION, endpoint_url=world.endpoint)
    creds = sts.assume_role(RoleArn=f"arn:aws:iam::{TARGET}:role/admin", RoleSessionName="setup")
    c = creds["Credentials"]
    return boto3.client(
        "ecs",
        region_name=TARGET_REGION,
        endpoint_url=world.endpoint,
        aws_access_key_id=c["AccessKeyId"],
        aws_secret_access_key=c["SecretAccessKey"],
        aws_session_token=c["SessionToken"],
    )


def target_service(ecs: Any, image: str = f"{REPO}:1.0") -> str:
    """prod/web in the target account: a cluster, a revision and a 2-task service."""
    ecs.create_cluster(clusterName="prod")
    arn: str = ecs.register_task_definition(
        family="prod-web",
        containerDefinitions=[container_definition("app", image)],
        cpu="256",
        memory="512",
    )["taskDefinition"]["taskDefinitionArn"]
    ecs.create_service(cluster="prod", serviceName="web", taskDefinition=arn, desiredCount=2)
    return arn


def image_of(ecs: Any) -> str:
    service = ecs.describe_services(cluster="prod", services=["web"])["services"][0]
    td = ecs.describe_task_definition(taskDefinition=service["taskDefinition"])
    image: str = td["taskDefinition"]["containerDefinitions"][0]["image"]
    return image


def accounts_allowlist(world: World) -> Path:
    path = world.tmp / "accounts.yaml"
    document = {
        "version": 1,
        "accounts": {
            "prod": {"account_id": TARGET, "role_arn": ROLE, "external_id": "deployworker-prod"}
        },
        "services": [
            default_entry(),
            default_entry(account="prod", region=TARGET_REGION),
        ],
    }
    path.write_text(yaml.safe_dump(document))
    return path


def assumed_sessions(name: str) -> list[Any]:
    """The AssumeRole calls moto saw for `ROLE` under session `name`."""
    return [
        role
        for backend in sts_backends.values()
        for regional in backend.values()
        for role in regional.assumed_roles
        if role.role_arn == ROLE and role.session_name == name
    ]


def dead_letter_reasons(world: World) -> list[str]:
    return [
        m["MessageAttributes"]["deployworker.reason"]["StringValue"] for m in world.dead_letters()
    ]


def test_an_entry_in_another_account_and_region_deploys_there_and_home_is_untouched(
    world: World,
) -> None:
    home_before = world.service()
    ecs = target_ecs(world)
    target_service(ecs)
    app = world.app(accounts_allowlist(world), session_name="replica-a")

    body = deploy(f"{REPO}:2.0", deploy_id="cross-1", account="prod", region=TARGET_REGION)
    world.send(body, group=f"{TARGET}/{TARGET_REGION}/prod/web")
    drain(app)

    assert image_of(ecs) == f"{REPO}:2.0"
    assert world.describe()["taskDefinition"] == home_before
    assert world.revisions() == [home_before]
    assert world.dead_letters() == []
    assert metric(app, "deployworker_messages_total", outcome="deployed") == 1
    (assumed,) = assumed_sessions("replica-a")[:1]
    assert assumed.external_id == "deployworker-prod"
    rate = metric(
        app,
        "deployworker_api_budget_requests_per_second",
        account=TARGET,
        region=TARGET_REGION,
        operation="UpdateService",
    )
    assert rate == app.settings.update_rate


def test_a_service_arn_in_another_account_names_the_target(world: World) -> None:
    world.service()
    ecs = target_ecs(world)
    target_service(ecs)
    app = world.app(accounts_allowlist(world))
    arn = f"arn:aws:ecs:{TARGET_REGION}:{TARGET}:service/prod/web"
    world.send(deploy(f"{REPO}:3.0", service=arn), group=f"{TARGET}/{TARGET_REGION}/prod/web")
    drain(app)
    assert image_of(ecs) == f"{REPO}:3.0"
    assert world.images()["app"] == f"{REPO}:1.0"


def test_a_message_naming_an_account_without_an_entry_is_rejected_with_the_reason(
    world: World,
) -> None:
    home_before = world.service()
    app = world.app(accounts_allowlist(world))
    world.send(deploy(f"{REPO}:4.0", account="333333333333", region=TARGET_REGION))
    drain(app)
    (reason,) = dead_letter_reasons(world)
    assert (
        reason == "account '333333333333' has no entry in the allowlist's accounts (listed: prod)"
    )
    assert world.describe()["taskDefinition"] == home_before


def test_the_home_group_is_refused_for_another_target(world: World) -> None:
    world.service()
    ecs = target_ecs(world)
    before = target_service(ecs)
    app = world.app(accounts_allowlist(world))
    world.send(deploy(f"{REPO}:5.0", account=TARGET, region=TARGET_REGION), group="prod/web")
    drain(app)
    (reason,) = dead_letter_reasons(world)
    assert f"sent with MessageGroupId '{TARGET}/{TARGET_REGION}/prod/web'" in reason
    assert (
        ecs.describe_services(cluster="prod", services=["web"])["services"][0]["taskDefinition"]
        == before
    )


def test_credentials_refresh_during_a_long_deploy(world: World) -> None:
    """Sessions of 15 minutes refreshed 898 s before expiry: botocore's advisory window
    opens 2 s after each AssumeRole, so a 6-second rollout outlives its first credentials."""
    world.service()
    ecs = target_ecs(world)
    target_service(ecs)
    world.simulator.rules = Rules(converge_seconds=6)
    app = world.app(
        accounts_allowlist(world),
        session_name="replica-long",
        assume_role_seconds=900,
        credentials_refresh_seconds=898,
    )
    world.send(
        deploy(f"{REPO}:7.0", account="prod", region=TARGET_REGION),
        group=f"{TARGET}/{TARGET_REGION}/prod/web",
    )
    drain(app)

    assert image_of(ecs) == f"{REPO}:7.0"
    assert metric(app, "deployworker_messages_total", outcome="deployed") == 1
    assert len(assumed_sessions("replica-long")) >= 2  # refreshed during the deploy
    assert len(app.targets.built()) == 1
    role = Role(ROLE, "deployworker-prod")
    assert app.targets.accounts is not None
    sessions = app.targets.accounts.sessions
    assert sessions is not None
    # Reading the credentials refreshes them again when the advisory window (2 s) has
    # opened since the last AssumeRole, as it may on a slow machine: list the sessions
    # STS handed out only afterwards, so the latest is the one the worker now holds.
    current = sessions.credentials(role, TARGET_REGION).get_frozen_credentials()
    assumed = assumed_sessions("replica-long")
    assert current.access_key == assumed[-1].access_key_id != assumed[0].access_key_id


def test_publish_sends_another_target_in_its_canonical_group(world: World) -> None:
    world.service()
    ecs = target_ecs(world)
    target_service(ecs)
    app = world.app(accounts_allowlist(world))
    accounts = dict(load_allowlist(accounts_allowlist(world).read_text()).accounts)
    fields = {"cluster": "prod", "service": "web", "container": "app", "image": f"{REPO}:8.0"}
    sent = publish(
        {**fields, "account": "prod", "region": TARGET_REGION},
        topic_arn=None,
        queue_url=world.resources.queue_url,
        region="eu-west-1",
        endpoint_url=world.endpoint,
        accounts=accounts,
    )
    assert sent.group_id == f"{TARGET}/{TARGET_REGION}/prod/web"
    home = publish(
        fields,
        topic_arn=None,
        queue_url=world.resources.queue_url,
        region="eu-west-1",
        endpoint_url=world.endpoint,
    )
    assert home.group_id == "prod/web"
    drain(app)
    assert image_of(ecs) == f"{REPO}:8.0"
    assert world.images()["app"] == f"{REPO}:8.0"
    assert world.dead_letters() == []


HOMES = [
    ("arn:aws:sns:eu-west-1:123456789012:deploys.fifo", None, None, "123456789012/eu-west-1"),
    (
        None,
        "https://sqs.us-east-2.amazonaws.com/123456789012/q.fifo",
        None,
        "123456789012/us-east-2",
    ),
    (None, "http://127.0.0.1:4566/123456789012/q.fifo", "eu-west-1", "123456789012/eu-west-1"),
    (None, "http://127.0.0.1:4566/123456789012/q.fifo", None, None),
]


@pytest.mark.parametrize(("topic", "queue", "region", "home"), HOMES)
def test_publish_reads_the_workers_home_off_its_topic_or_queue(
    topic: str | None, queue: str | None, region: str | None, home: str | None
) -> None:
    found = home_of(topic, queue, region)
    assert (str(found) if found else None) == home


def test_status_reads_the_deploy_in_the_target_account(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.service()
    ecs = target_ecs(world)
    target_service(ecs)
    allowlist = accounts_allowlist(world)
    app = world.app(allowlist)
    body = deploy(f"{REPO}:9.0", deploy_id="cross-9", account="prod", region=TARGET_REGION)
    world.send(body, group=f"{TARGET}/{TARGET_REGION}/prod/web")
    drain(app)
    monkeypatch.setenv("DEPLOYWORKER_ALLOWLIST_PATH", str(allowlist))
    where = ["--cluster", "prod", "--service", "web", "--deploy-id", "cross-9"]
    flags = ["--endpoint-url", world.endpoint, "--region", "eu-west-1"]
    there = ["--target-account", "prod", "--target-region", TARGET_REGION]
    assert main(["status", *where, *flags, *there]) == EXIT_CODES[DeployState.SUCCEEDED]
    # At home, no deploy has that id.
    assert main(["status", *where, *flags]) != EXIT_CODES[DeployState.SUCCEEDED]


def test_promote_from_staging_at_home_to_production_in_another_account(world: World) -> None:
    world.service(cluster="staging", name="web", image=f"{REPO}:6.1")
    ecs = target_ecs(world)
    target_service(ecs)
    home = {"account": "123456789012", "region": "eu-west-1"}
    path = world.tmp / "promote.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "version": 1,
                "accounts": {"prod": {"account_id": TARGET, "role_arn": ROLE}},
                "services": [
                    default_entry(
                        account="prod",
                        region=TARGET_REGION,
                        promote_from=[{"cluster": "staging", "service": "web", **home}],
                    )
                ],
            }
        )
    )
    app = world.app(path)
    body = {
        "cluster": "prod",
        "service": "web",
        "action": "promote",
        "account": "prod",
        "region": TARGET_REGION,
        "deploy_id": "promote-1",
        "from": {"cluster": "staging", "service": "web", **home},
    }
    world.send(body, group=f"{TARGET}/{TARGET_REGION}/prod/web")
    # The same source named without its account is the target account's staging: not listed.
    world.send(
        {**body, "deploy_id": "promote-2", "from": {"cluster": "staging", "service": "web"}},
        group=f"{TARGET}/{TARGET_REGION}/prod/web",
    )
    drain(app)
    assert image_of(ecs) == f"{REPO}:6.1"
    (reason,) = dead_letter_reasons(world)
    assert reason == "prod/web does not list staging/web in promote_from"


def test_local_mode_seeds_entries_in_other_accounts_and_regions(world: World) -> None:
    allowlist = load_allowlist(accounts_allowlist(world).read_text())
    created = create_services(world.endpoint, "eu-west-1", allowlist)
    assert created == ["prod/web", f"prod/{TARGET_REGION}/prod/web"]
    ecs = target_ecs(world)
    assert image_of(ecs) == f"{REPO}:initial"
    assert world.images() == {"app": f"{REPO}:initial", "worker": f"{REPO}:initial"}


def test_made_up_regions_build_no_pipeline(world: World) -> None:
    world.service()
    app = world.app(accounts_allowlist(world))
    for n, region in enumerate(["ap-south-1", "sa-east-1", "eu-north-1"]):
        body = deploy(f"{REPO}:{n}.9", account="prod", region=region)
        world.send(body, group=f"{TARGET}/{region}/prod/web")
    drain(app)
    reasons = sorted(dead_letter_reasons(world))
    assert reasons == sorted(
        f"service prod/web in {TARGET}/{r} is not in the allowlist"
        for r in ["ap-south-1", "sa-east-1", "eu-north-1"]
    )
    assert app.targets.built() == []


def test_an_entry_naming_the_home_account_and_region_matches_home_deploys(world: World) -> None:
    world.service()
    home = {"account_id": "123456789012", "role_arn": "arn:aws:iam::123456789012:role/dw"}
    path = world.tmp / "explicit-home.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "version": 1,
                "accounts": {"here": home},
                "services": [default_entry(account="here", region="eu-west-1")],
            }
        )
    )
    app = world.app(path, account_id="123456789012")
    world.send(deploy(f"{REPO}:2.0", deploy_id="explicit-home"))
    drain(app)
    assert dead_letter_reasons(world) == []
    assert world.images()["app"] == f"{REPO}:2.0"
