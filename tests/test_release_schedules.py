"""UpdateSchedule is a full PUT that AWS checks: a release moves a schedule whose
StartDate is long past, and local mode refuses a stale StartDate on update as AWS does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError
from moto.scheduler.models import scheduler_backends

from conftest import REGION, REPO, World, drain, metric
from deployworker.local.simulator import Rules
from test_releases import Shop

ACCOUNT = "123456789012"


def age_start_date(days: float) -> None:
    """Move the schedule's StartDate back in time, as if it had been running for days
    (AWS refuses such a StartDate on create, so only time passing produces one)."""
    schedule = scheduler_backends[ACCOUNT][REGION].get_schedule("default", "nightly-report")
    schedule.start_date = (datetime.now(UTC) - timedelta(days=days)).timestamp()


def test_a_release_moves_a_schedule_that_started_long_ago(world: World) -> None:
    shop = Shop(world)
    age_start_date(days=30)
    world.simulator.rules = Rules(converge_seconds=0.3)
    app = world.app(shop.allowlist())
    shop.send(f"{REPO}:2.0", "shop-2")

    drain(app)

    assert metric(app, "deployworker_releases_total", release="shop", outcome="deployed") == 1
    new_jobs = world.revisions("prod-jobs")[-1]
    assert shop.schedule_arn() == new_jobs
    after = shop.schedule()
    # Everything else survived the full PUT; the past StartDate was dropped.
    assert after["ScheduleExpression"] == shop.schedule_before["ScheduleExpression"]
    assert after["FlexibleTimeWindow"] == shop.schedule_before["FlexibleTimeWindow"]
    assert after["Description"] == "the nightly report"
    assert "StartDate" not in after


@pytest.mark.parametrize(
    ("minutes_ago", "refused"), [(60 * 24, True), (6, True), (4, False), (-60, False)]
)
def test_local_update_schedule_refuses_a_start_date_over_five_minutes_old(
    world: World, minutes_ago: int, refused: bool
) -> None:
    # AWS: UpdateSchedule (a full PUT) answers a StartDate more than 5 minutes in the
    # past with `ValidationException: The StartDate you specify cannot be earlier than
    # 5 minutes ago.` as CreateSchedule does (moto checks only CreateSchedule); the
    # API reference's StartDate: "EventBridge Scheduler ignores StartDate for one-time
    # schedules".
    shop = Shop(world)
    current = shop.scheduler.get_schedule(Name="nightly-report")
    start = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    update = {
        "Name": "nightly-report",
        "ScheduleExpression": current["ScheduleExpression"],
        "FlexibleTimeWindow": current["FlexibleTimeWindow"],
        "Target": current["Target"],
        "StartDate": start,
    }
    if refused:
        with pytest.raises(ClientError) as caught:
            shop.scheduler.update_schedule(**update)
        assert caught.value.response["Error"]["Code"] == "ValidationException"
        assert "cannot be earlier than 5 minutes ago" in str(caught.value)
    else:
        shop.scheduler.update_schedule(**update)
        assert shop.scheduler.get_schedule(Name="nightly-report")["StartDate"] is not None
    # A one-time schedule's StartDate is ignored, so never refused.
    once = {**update, "ScheduleExpression": "at(2030-01-01T00:00:00)"}
    shop.scheduler.update_schedule(**once)
