"""`publish --release` and `status --release` against the emulator."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from conftest import REGION, REPO, World, drain
from deployworker.cli.iam import Scope, worker_policy
from deployworker.cli.main import main
from deployworker.intake.allowlist import load_allowlist
from test_releases import Shop


def target(world: World) -> list[str]:
    return [
        "--queue-url",
        world.resources.queue_url,
        "--endpoint-url",
        world.endpoint,
        "--region",
        REGION,
    ]


def test_publish_release_then_status_shows_every_member(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    shop = Shop(world)
    allowlist = shop.allowlist()
    app = world.app(allowlist)
    publish = ["publish", *target(world), "--release", "shop", "--image", f"{REPO}:2.0"]
    assert main([*publish, "--deploy-id", "cli-1"]) == 0
    sent = json.loads(capsys.readouterr().out)
    assert sent["group_id"] == "release/shop"
    status = ["status", "--endpoint-url", world.endpoint, "--region", REGION]
    status += ["--release", "shop", "--deploy-id", "cli-1", "--allowlist", str(allowlist)]
    assert main(status) == 3  # pending: nothing registered yet

    drain(app)

    assert main(status) == 0
    assert len(world.revisions("prod-web")) == 2
    assert main([*status[:-4], "--deploy-id", "other", "--allowlist", str(allowlist)]) == 3


def test_publish_of_a_member_with_release_uses_the_release_group(world: World) -> None:
    shop = Shop(world)
    app = world.app(shop.allowlist())
    member = ["--cluster", "prod", "--service", "web", "--container", "app"]
    args = ["publish", *target(world), *member, "--image", f"{REPO}:4.0", "--release", "shop"]
    assert main(args) == 0

    drain(app)

    assert world.images(name="web") == {"app": f"{REPO}:4.0"}
    assert world.dead_letters() == []


def test_iam_policy_grants_exactly_the_schedules_and_rules_releases_name(tmp_path: Path) -> None:
    release = {
        "name": "shop",
        "cluster": "prod",
        "images": [REPO],
        "members": [
            {"service": "web", "containers": ["app"]},
            {"service": "jobs", "cluster": "batch", "containers": ["app"]},
            {"schedule": "nightly", "schedule_group": "reports", "containers": ["app"]},
            {"rule": "cleanup", "containers": ["app"]},
            {"rule": "sweep", "event_bus": "ops", "containers": ["app"]},
        ],
    }
    allowlist = load_allowlist(yaml.safe_dump({"version": 1, "releases": [release]}))
    role = "arn:aws:iam::123456789012:role/scheduler"
    scope = Scope("eu-west-1", "123456789012", families=["prod-web"], release_role_arns=[role])
    statements = {s["Sid"]: s for s in worker_policy(allowlist, scope)["Statement"]}

    # A release's services are granted like any allowlisted service: their clusters.
    assert statements["DeployAllowlistedServices"]["Resource"] == [
        "arn:aws:ecs:eu-west-1:123456789012:service/prod/*",
        "arn:aws:ecs:eu-west-1:123456789012:service/batch/*",
    ]
    assert statements["UpdateReleaseSchedules"]["Action"] == [
        "scheduler:GetSchedule",
        "scheduler:UpdateSchedule",
    ]
    assert statements["UpdateReleaseSchedules"]["Resource"] == [
        "arn:aws:scheduler:eu-west-1:123456789012:schedule/reports/nightly"
    ]
    assert statements["UpdateReleaseRules"]["Action"] == [
        "events:ListTargetsByRule",
        "events:PutTargets",
    ]
    assert statements["UpdateReleaseRules"]["Resource"] == [
        "arn:aws:events:eu-west-1:123456789012:rule/cleanup",
        "arn:aws:events:eu-west-1:123456789012:rule/ops/sweep",
    ]
    assert statements["PassReleaseRoles"]["Resource"] == [role]
    assert statements["PassReleaseRoles"]["Condition"] == {
        "StringEquals": {"iam:PassedToService": ["scheduler.amazonaws.com", "events.amazonaws.com"]}
    }
    assert statements["MarkReleaseRevisions"]["Resource"] == [
        "arn:aws:ecs:eu-west-1:123456789012:task-definition/prod-web:*"
    ]
    no_releases = worker_policy(load_allowlist("version: 1\nservices: []\n"), scope)
    release_sids = {"MarkReleaseRevisions", "UpdateReleaseSchedules", "UpdateReleaseRules"}
    assert release_sids | {"PassReleaseRoles"} <= set(statements)
    assert not {s["Sid"] for s in no_releases["Statement"]} & (release_sids | {"PassReleaseRoles"})
