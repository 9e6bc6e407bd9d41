"""Strategy-aware deadlines: the configured timeout is raised to what the service's own
deploymentConfiguration needs, and never lowered."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from deployworker.rollout.deadline import HOOK_MARGIN, WORK_MARGIN, effective_timeout, minimum


def pause(stage: str, minutes: int | None = None) -> dict[str, Any]:
    hook: dict[str, Any] = {"targetType": "PAUSE", "lifecycleStages": [stage]}
    if minutes is not None:
        hook["timeoutConfiguration"] = {"timeoutInMinutes": minutes, "action": "ROLLBACK"}
    return hook


@pytest.mark.parametrize(
    ("configuration", "seconds"),
    [
        (None, 0),
        ({}, 0),
        ({"strategy": "ROLLING"}, 0),
        ({"strategy": "ROLLING", "bakeTimeInMinutes": 30}, 0),  # ROLLING does not bake
        ({"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 5}, 300 + WORK_MARGIN),
        # ECS's LINEAR defaults: 10 % steps, 6 min apart, no bake after 100 %: 9 x 6 min.
        ({"strategy": "LINEAR"}, 9 * 360 + WORK_MARGIN),
        (
            {
                "strategy": "LINEAR",
                "bakeTimeInMinutes": 10,
                "linearConfiguration": {"stepPercent": 25.0, "stepBakeTimeInMinutes": 2},
            },
            600 + 3 * 120 + WORK_MARGIN,
        ),
        ({"strategy": "CANARY"}, 600 + WORK_MARGIN),  # default canary bake: 10 minutes
        (
            {
                "strategy": "CANARY",
                "bakeTimeInMinutes": 3,
                "canaryConfiguration": {"canaryPercent": 5.0, "canaryBakeTimeInMinutes": 2},
            },
            180 + 120 + WORK_MARGIN,
        ),
        (
            {"strategy": "ROLLING", "lifecycleHooks": [pause("POST_SCALE_UP", 30)]},
            1800 + HOOK_MARGIN + WORK_MARGIN,
        ),
        (
            {"strategy": "BLUE_GREEN", "lifecycleHooks": [pause("POST_TEST_TRAFFIC_SHIFT")]},
            1440 * 60 + HOOK_MARGIN + WORK_MARGIN,  # the hook's default timeout: 24 h
        ),
        (
            {
                "strategy": "ROLLING",
                "lifecycleHooks": [{"targetType": "AWS_LAMBDA", "lifecycleStages": ["SCALE_UP"]}],
            },
            0,  # a Lambda hook does not pause
        ),
    ],
)
def test_minimum_covers_the_strategy(configuration: Any, seconds: float) -> None:
    assert minimum(configuration).seconds == seconds


def test_the_parts_say_where_the_time_goes() -> None:
    parts = minimum(
        {"strategy": "CANARY", "bakeTimeInMinutes": 3, "lifecycleHooks": [pause("BAKE_TIME", 5)]}
    ).parts
    assert parts == {
        "bake_time": 180,
        "canary_bake": 600,
        "pause_hook[BAKE_TIME]": 300 + HOOK_MARGIN,
        "margin": WORK_MARGIN,
    }


@pytest.mark.parametrize(
    ("strategy", "linear", "times"),
    [
        ("BLUE_GREEN", {}, 1),
        ("CANARY", {}, 2),
        ("LINEAR", {"stepPercent": 25.0}, 4),
        ("LINEAR", {}, 10),
    ],
)
def test_a_pre_production_hook_waits_before_every_traffic_step(
    strategy: str, linear: dict[str, Any], times: int
) -> None:
    hooks = [pause("PRE_PRODUCTION_TRAFFIC_SHIFT", 30), pause("POST_TEST_TRAFFIC_SHIFT", 30)]
    config = {"strategy": strategy, "linearConfiguration": linear, "lifecycleHooks": hooks}
    parts = minimum(config).parts
    key = "pause_hook[PRE_PRODUCTION_TRAFFIC_SHIFT]" + (f" x{times}" if times > 1 else "")
    assert parts[key] == times * (1800 + HOOK_MARGIN)
    assert parts["pause_hook[POST_TEST_TRAFFIC_SHIFT]"] == 1800 + HOOK_MARGIN


configs = st.fixed_dictionaries(
    {
        "strategy": st.sampled_from(["ROLLING", "BLUE_GREEN", "LINEAR", "CANARY"]),
        "bakeTimeInMinutes": st.integers(0, 1440),
        "linearConfiguration": st.fixed_dictionaries(
            {
                "stepPercent": st.floats(3.0, 100.0),
                "stepBakeTimeInMinutes": st.integers(0, 1440),
            }
        ),
        "canaryConfiguration": st.fixed_dictionaries(
            {"canaryBakeTimeInMinutes": st.integers(0, 1440)}
        ),
    }
)


@given(configs, st.floats(1, 86_400))
def test_the_deadline_is_raised_never_lowered(configuration: Any, configured: float) -> None:
    deadline = effective_timeout(configured, configuration)
    assert deadline >= configured
    assert deadline >= minimum(configuration).seconds
    assert deadline in (configured, minimum(configuration).seconds)


@given(configs)
def test_the_minimum_is_at_least_the_bake_time(configuration: Any) -> None:
    need = minimum(configuration).seconds
    if configuration["strategy"] != "ROLLING":
        assert need >= configuration["bakeTimeInMinutes"] * 60
    else:
        assert need == 0
