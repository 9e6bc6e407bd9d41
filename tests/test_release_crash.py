"""A release killed (SIGKILL) after its migration, between phases and during its
rollback, then redelivered: it finishes with nothing registered or updated twice."""

from __future__ import annotations

import signal
from collections import Counter
from typing import Any

import pytest

from conftest import REPO, World
from deployworker.deploy.plan import DEPLOY_ID_TAG
from deployworker.local.simulator import Rules
from test_releases import Shop
from workers import WorkerProcess, stop_all, wait_until

MIGRATE = {"service": "web", "container": "app", "command": ["./manage.py", "migrate"]}


def tagged(world: World, family: str, deploy_id: str) -> list[str]:
    return [
        arn
        for arn in world.revisions(family)
        if world.task_definition(arn)[1].get(DEPLOY_ID_TAG) == deploy_id
    ]


def steps(workers: list[WorkerProcess], step: str) -> Counter[str]:
    """How often each member went through `step`, across every worker's log."""
    return Counter(
        e["member"]
        for w in workers
        for e in w.events()
        if e["event"] == "release.member" and e["step"] == step
    )


def crash_then_redeliver(
    world: World, shop: Shop, allowlist: Any, failpoint: str, deploy_id: str
) -> tuple[list[WorkerProcess], dict[str, Any]]:
    first = WorkerProcess(world, allowlist, "first", failpoint=failpoint)
    try:
        assert first.wait_exit(60) == -signal.SIGKILL
    finally:
        first.kill()
    second = WorkerProcess(world, allowlist, "second")
    try:
        finished = second.wait_for_event("release.finished", timeout=60, deploy_id=deploy_id)
        wait_until(lambda: world.queue_depth() == 0, timeout=15)
    finally:
        stop_all([second])
    return [first, second], finished


@pytest.mark.parametrize("failpoint", ["release.migrated", "release.phase"])
def test_a_release_killed_mid_way_completes_on_redelivery_without_repeating_a_write(
    world: World, failpoint: str
) -> None:
    shop = Shop(world)
    world.simulator.rules = Rules(converge_seconds=0.6)
    allowlist = shop.allowlist(migrate=MIGRATE)
    shop.send(f"{REPO}:2.0", "shop-crash")

    workers, finished = crash_then_redeliver(world, shop, allowlist, failpoint, "shop-crash")

    assert finished["outcome"] == "deployed"
    [web] = tagged(world, "prod-web", "shop-crash")
    [jobs] = tagged(world, "prod-jobs", "shop-crash")
    assert world.describe(name="web")["taskDefinition"] == web
    assert world.describe(name="worker")["taskDefinition"] == web
    assert shop.schedule_arn() == jobs
    assert shop.rule_arn() == jobs
    assert world.dead_letters() == []
    # Each member was updated exactly once, whichever delivery did it.
    assert steps(workers, "updated") == {
        "worker": 1,
        "web": 1,
        "nightly-report": 1,
        "cleanup/cleanup-task": 1,
    }
    migrations = [
        e["event"] for w in workers for e in w.events() if e["event"].startswith("migrate.")
    ]
    assert migrations.count("migrate.started") == 1
    assert "migrate.skipped" in migrations
    for name in ("web", "worker"):
        deployments = world.ecs.list_service_deployments(cluster="prod", service=name)
        assert len(deployments["serviceDeployments"]) <= 2  # its creation, and one update


def test_a_release_killed_during_its_rollback_finishes_the_rollback_on_redelivery(
    world: World,
) -> None:
    shop = Shop(world)
    world.simulator.rules = Rules(converge_seconds=0.6)
    # The schedule moves first; the worker's rollout then fails (circuit breaker).
    allowlist = shop.allowlist(phases=[["nightly-report"], ["worker"], ["web", "cleanup"]])
    shop.send(f"{REPO}:2-fail", "shop-undo")

    workers, finished = crash_then_redeliver(
        world, shop, allowlist, "release.rolling_back", "shop-undo"
    )

    assert finished["outcome"] == "rolled_back"
    assert "member worker failed" in finished["reason"]
    assert shop.schedule_arn() == shop.jobs_arn
    assert shop.rule_arn() == shop.jobs_arn
    assert world.describe(name="web")["taskDefinition"] == shop.web_arn
    assert world.describe(name="worker")["taskDefinition"] == shop.web_arn
    assert len(tagged(world, "prod-web", "shop-undo")) == 1
    assert steps(workers, "updated") == {"nightly-report": 1, "worker": 1}
    assert steps(workers, "rolled_back")["nightly-report"] == 1
