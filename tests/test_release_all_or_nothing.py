"""A release is all or nothing whatever fails after its first change: a refused
UpdateSchedule, a rule target someone repointed, a crash between two members."""

from __future__ import annotations

import signal
from typing import Any

import pytest
from moto.core.exceptions import JsonRESTError
from moto.events.models import EventsBackend
from moto.scheduler.models import EventBridgeSchedulerBackend

from conftest import REPO, World, drain, metric
from deployworker.local.simulator import Rules
from test_release_crash import steps
from test_releases import Shop
from workers import WorkerProcess, stop_all, wait_until


class Refused(JsonRESTError):  # type: ignore[misc]
    def __init__(self, code: str, status: int) -> None:
        super().__init__(code, f"UpdateSchedule refused ({code})")
        self.code = status


@pytest.fixture
def refuse_update_schedule(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Make moto's Scheduler refuse every UpdateSchedule with the code the test appends
    (AWS answers AccessDeniedException with 403, ValidationException with 400)."""
    codes: list[str] = []

    def refuse(self: Any, **kwargs: Any) -> Any:
        raise Refused(codes[0], 403 if codes[0] == "AccessDeniedException" else 400)

    monkeypatch.setattr(EventBridgeSchedulerBackend, "update_schedule", refuse)
    return codes


def assert_all_back(world: World, shop: Shop) -> None:
    assert world.describe(name="web")["taskDefinition"] == shop.web_arn
    assert world.describe(name="worker")["taskDefinition"] == shop.web_arn
    assert shop.schedule_arn() == shop.jobs_arn
    assert shop.targets() == shop.targets_before


@pytest.mark.parametrize(
    ("code", "phases"),
    [
        # The services converged; the schedule is the first non-service member to move.
        ("AccessDeniedException", [["worker"], ["web"], ["nightly-report", "cleanup"]]),
        # The rule moved first in the last phase; the schedule after it is refused.
        ("ValidationException", [["worker", "web"], ["cleanup", "nightly-report"]]),
    ],
)
def test_a_refused_update_schedule_after_the_services_converged_rolls_every_member_back(
    world: World, refuse_update_schedule: list[str], code: str, phases: list[list[str]]
) -> None:
    refuse_update_schedule.append(code)
    shop = Shop(world)
    world.simulator.rules = Rules(converge_seconds=0.3)
    app = world.app(shop.allowlist(phases=phases))
    shop.send(f"{REPO}:2.0", "shop-refused")

    drain(app)

    assert world.queue_depth() == 0
    assert world.dead_letters() == []
    assert_all_back(world, shop)
    new_web = world.revisions("prod-web")[-1]
    tags = world.task_definition(new_web)[1]
    assert tags["deployworker:release-state"] == "rolled_back"
    assert "member nightly-report" in tags["deployworker:release-reason"]
    assert code in tags["deployworker:release-reason"]
    assert metric(app, "deployworker_releases_total", release="shop", outcome="rolled_back") == 1


def test_a_rule_target_repointed_to_a_non_ecs_target_rolls_the_release_back(
    world: World,
) -> None:
    shop = Shop(world)
    world.simulator.rules = Rules(converge_seconds=0.3)
    app = world.app(shop.allowlist(phases=[["nightly-report"], ["worker", "web"], ["cleanup"]]))
    sqs_target = {"Id": "cleanup-task", "Arn": "arn:aws:sqs:eu-west-1:123456789012:other"}

    def repoint(params: dict[str, Any], **_: Any) -> None:
        # While the services roll out, someone points the rule's ECS target elsewhere.
        if params.get("service") == "web" and params.get("taskDefinition") != shop.web_arn:
            shop.events.put_targets(Rule="cleanup", Targets=[sqs_target])

    app.ecs._client.meta.events.register("before-parameter-build.ecs.UpdateService", repoint)
    shop.send(f"{REPO}:2.0", "shop-repointed")

    drain(app)

    assert world.queue_depth() == 0
    assert world.dead_letters() == []
    assert world.describe(name="web")["taskDefinition"] == shop.web_arn
    assert world.describe(name="worker")["taskDefinition"] == shop.web_arn
    assert shop.schedule_arn() == shop.jobs_arn  # moved in phase one, put back
    # The repointed target is not ours to overwrite: it stays as its owner set it.
    assert shop.targets()[0] == sqs_target
    tags = world.task_definition(world.revisions("prod-web")[-1])[1]
    assert tags["deployworker:release-state"] == "rolled_back"
    assert "no ECS target" in tags["deployworker:release-reason"]
    assert metric(app, "deployworker_releases_total", release="shop", outcome="rolled_back") == 1


def test_a_restore_refused_ends_failed_naming_exactly_that_member(
    world: World, refuse_update_schedule: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    shop = Shop(world)
    world.simulator.rules = Rules(converge_seconds=0.3)
    # The rule moves in phase one; the schedule's move is refused in phase two, and
    # every member goes back but the rule, whose PutTargets is refused from then on.
    refuse_update_schedule.append("AccessDeniedException")
    original = EventsBackend.put_targets
    calls: list[str] = []

    def put_targets(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append("PutTargets")
        if len(calls) > 1:
            raise Refused("AccessDeniedException", 403)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(EventsBackend, "put_targets", put_targets)
    app = world.app(shop.allowlist(phases=[["cleanup"], ["worker", "web", "nightly-report"]]))
    shop.send(f"{REPO}:2.0", "shop-stuck")

    drain(app)

    assert world.describe(name="web")["taskDefinition"] == shop.web_arn
    assert world.describe(name="worker")["taskDefinition"] == shop.web_arn
    assert shop.schedule_arn() == shop.jobs_arn
    assert shop.rule_arn() != shop.jobs_arn  # the one member that could not go back
    tags = world.task_definition(world.revisions("prod-web")[-1])[1]
    assert tags["deployworker:release-state"] == "failed"
    reason = tags["deployworker:release-reason"]
    assert reason.endswith("the rollback failed for cleanup/cleanup-task"), reason
    assert metric(app, "deployworker_releases_total", release="shop", outcome="failed") == 1


def test_a_crash_between_two_members_then_a_refusal_on_redelivery_puts_all_back(
    world: World, refuse_update_schedule: list[str]
) -> None:
    refuse_update_schedule.append("AccessDeniedException")
    shop = Shop(world)
    world.simulator.rules = Rules(converge_seconds=0.6)
    allowlist = shop.allowlist(phases=[["worker", "web"], ["nightly-report", "cleanup"]])
    shop.send(f"{REPO}:2.0", "shop-crash")

    # The first delivery dies (SIGKILL) after the worker service was updated, before web.
    first = WorkerProcess(world, allowlist, "first", failpoint="release.member")
    try:
        assert first.wait_exit(60) == -signal.SIGKILL
    finally:
        first.kill()
    assert world.describe(name="web")["taskDefinition"] == shop.web_arn
    assert world.describe(name="worker")["taskDefinition"] != shop.web_arn
    second = WorkerProcess(world, allowlist, "second")
    try:
        finished = second.wait_for_event("release.finished", timeout=60, deploy_id="shop-crash")
        wait_until(lambda: world.queue_depth() == 0, timeout=15)
    finally:
        stop_all([second])

    assert finished["outcome"] == "rolled_back"
    assert "member nightly-report" in finished["reason"]
    assert_all_back(world, shop)
    assert world.dead_letters() == []
    workers = [first, second]
    assert steps(workers, "updated") == {"worker": 1, "web": 1}
    assert steps(workers, "resumed") == {"worker": 1}
