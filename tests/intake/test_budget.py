"""One message's time: what an entry's timeout, its migration and its rollback watch
need must fit in the 11 h 30 min SQS holds a message (12 h visibility from receipt)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import REPO, World, default_entry, deploy, drain
from deployworker.cli.main import main
from deployworker.intake.allowlist import AllowlistError, load_allowlist
from deployworker.intake.budget import (
    MESSAGE_BUDGET_SECONDS,
    duration_text,
    message_need,
    over_budget,
)


def allowlist(**changes: Any) -> str:
    return json.dumps({"version": 1, "services": [default_entry(**changes)]})


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"timeout": "5h"}, None),  # with rollback: 10h
        ({"timeout": "20700s"}, None),  # 5h45m twice: exactly 11h30m
        ({"timeout": "20701s"}, "needs 11h30m2s in all"),
        ({"timeout": "6h", "rollback": False}, None),
        ({"timeout": "41400s", "rollback": False}, None),
        ({"timeout": "12h", "rollback": False}, "needs 12h in all"),
        ({"timeout": "24h"}, "the deadline may be at most 5h45m"),
        (
            {"timeout": "6h", "migrate": {"container": "app", "command": ["m"], "timeout": "10m"}},
            "needs 12h10m in all (the 6h rollout deadline, 6h more to follow a rollback, "
            "the 10m migration)",
        ),
        (
            {"migrate": {"container": "app", "command": ["m"], "timeout": "12h"}},
            "migrate.timeout: prod/web needs 12h in all",
        ),
    ],
)
def test_an_entry_that_cannot_fit_one_message_is_refused_at_load(
    changes: dict[str, Any], error: str | None
) -> None:
    if error is None:
        load_allowlist(allowlist(**changes))
        return
    with pytest.raises(AllowlistError, match=error.replace("(", r"\(").replace(")", r"\)")):
        load_allowlist(allowlist(**changes))


@given(
    st.integers(min_value=1, max_value=24 * 3600),
    st.integers(min_value=0, max_value=24 * 3600),
    st.booleans(),
)
def test_over_budget_exactly_when_the_need_exceeds_the_budget(
    deadline: int, migration: int, rollback: bool
) -> None:
    reason = over_budget(deadline, migration, rollback)
    fits = message_need(deadline, migration, rollback) <= MESSAGE_BUDGET_SECONDS
    assert (reason is None) == fits
    if reason is not None:
        assert duration_text(deadline) in reason and "11h30m" in reason


@pytest.mark.parametrize(
    ("seconds", "text"), [(0, "0s"), (90, "1m30s"), (600, "10m"), (41400, "11h30m"), (7201, "2h1s")]
)
def test_duration_text(seconds: int, text: str) -> None:
    assert duration_text(seconds) == text


def test_check_allowlist_rejects_a_timeout_that_cannot_fit(
    tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "allowlist.yaml"
    path.write_text(allowlist(timeout="24h"))
    assert main(["check-allowlist", str(path)]) == 1
    assert "the deadline may be at most 5h45m" in capsys.readouterr().err


def test_a_pause_hook_that_cannot_fit_is_refused_before_any_write(world: World) -> None:
    # A PAUSE hook without a timeout waits up to ECS's default, 24 hours.
    hook = {"targetType": "PAUSE", "lifecycleStages": ["POST_SCALE_UP"]}
    before = world.service(
        deploymentConfiguration={"strategy": "ROLLING", "lifecycleHooks": [hook]}
    )
    app = world.app()
    world.send(deploy(f"{REPO}:2.0", deploy_id="too-long"))
    drain(app)
    (dead,) = world.dead_letters()
    reason = dead["MessageAttributes"]["deployworker.reason"]["StringValue"]
    assert reason.startswith("prod/web: its deploymentConfiguration raises the deadline to 24h15m")
    assert "pause_hook[POST_SCALE_UP] 24h5m" in reason
    assert "the deadline may be at most 5h45m" in reason
    assert world.revisions() == [before]  # nothing registered, nothing updated
    assert world.describe()["taskDefinition"] == before
    assert world.queue_depth() == 0


def test_a_pause_before_every_linear_step_counts_every_time_and_is_refused_before_any_write(
    world: World,
) -> None:
    # PRE_PRODUCTION_TRAFFIC_SHIFT waits before each of LINEAR's ten 10 % steps (botocore
    # 1.44: "this stage is invoked before every traffic shift step"): ten 90-minute hooks
    # are 15 hours, though one of them alone would fit.
    hook = {
        "targetType": "PAUSE",
        "lifecycleStages": ["PRE_PRODUCTION_TRAFFIC_SHIFT"],
        "timeoutConfiguration": {"timeoutInMinutes": 90, "action": "ROLLBACK"},
    }
    linear = {"stepPercent": 10.0, "stepBakeTimeInMinutes": 1}
    before = world.service(
        deploymentConfiguration={
            "strategy": "LINEAR",
            "linearConfiguration": linear,
            "lifecycleHooks": [hook],
        }
    )
    app = world.app()
    world.send(deploy(f"{REPO}:2.0", deploy_id="ten-pauses"))
    drain(app)
    (dead,) = world.dead_letters()
    reason = dead["MessageAttributes"]["deployworker.reason"]["StringValue"]
    # 10 x (90 min + 5 min margin) + 9 x 1 min of step bake + 10 min of work: 16h09m.
    assert reason.startswith("prod/web: its deploymentConfiguration raises the deadline to 16h9m")
    assert "pause_hook[PRE_PRODUCTION_TRAFFIC_SHIFT] x10 15h50m" in reason
    assert world.revisions() == [before]  # nothing registered, nothing updated
    assert world.describe()["taskDefinition"] == before
