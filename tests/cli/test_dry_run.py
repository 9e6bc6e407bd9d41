"""`publish --dry-run`: the task-definition diff the worker would register and each
image checked in ECR, with nothing sent."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import REGION, REPO, World
from deployworker.aws.clients import make_client
from deployworker.cli.main import main
from test_registry_account import push


def dry_run(world: World, image: str) -> int:
    where = ["--cluster", "prod", "--service", "web", "--container", "app", "--image", image]
    target = ["--queue-url", world.resources.queue_url, "--region", REGION]
    return main(["publish", "--dry-run", *where, *target, "--endpoint-url", world.endpoint])


def test_dry_run_prints_the_diff_checks_ecr_and_sends_nothing(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    world.service()
    running = world.images()["app"]
    ecr: Any = make_client("ecr", REGION, world.endpoint)
    digest = push(ecr, "2.0")

    assert dry_run(world, f"{REPO}:2.0") == 0
    out = capsys.readouterr().out
    assert f'-      "image": "{running}",' in out
    assert f'+      "image": "{REPO}:2.0",' in out
    assert out.splitlines()[0].startswith("--- prod-web:1 (running)")
    assert f"app: {REPO}:2.0: ok" in out

    assert dry_run(world, f"{REPO}@{digest}") == 0
    assert dry_run(world, f"{REPO}:9.9") == 1
    assert f"app: {REPO}:9.9: MISSING in ECR" in capsys.readouterr().out
    assert world.queue_depth() == 0
    assert len(world.revisions()) == 1  # nothing registered
