"""`bench.hook_gate` at its smallest: a LINEAR and a CANARY, gated at every PAUSE hook.

Outcomes, never times (the 2 s target is the benchmark's). The hooks time out after
30 s and the safety net describes every 60 s, so every hook ending SUCCEEDED, each
continued once by its gate, shows that the HOOK_AWAITING_ACTION event started every
gate: without it, each hook would time out and ECS would roll the deployment back.
"""

from __future__ import annotations

import pytest

from bench.hook_gate import Run, met, run
from bench.hook_world import delays
from deployworker.local.environment import LocalAws


@pytest.mark.parametrize(
    ("opened", "asked", "expected"),
    [
        ([0.0, 10.0, 20.0], [0.5, 10.2, 25.0], [0.5, 0.2, 5.0]),
        ([20.0, 0.0], [0.1, 20.3], [0.1, 0.3]),  # in any order
        ([0.0, 10.0], [-1.0, 10.4, 11.0], [None, 0.4]),  # none between 0 and the next pause
        ([0.0], [0.2, 0.7], [0.2]),  # a gate's first measurement only
        ([0.0, 10.0], [], [None, None]),
    ],
)
def test_each_pause_is_paired_with_its_gate_s_first_measurement(
    opened: list[float], asked: list[float], expected: list[float | None]
) -> None:
    found = [None if d is None else round(d, 6) for d in delays(opened, asked)]
    assert found == expected


def test_every_pause_of_a_linear_and_a_canary_starts_its_gate_on_ecs_s_event(
    endpoint: str, local_aws: LocalAws
) -> None:
    figures = run(local_aws, Run("smallest", deploys=2, events=True))

    assert figures["outcomes"] == {"deployed": 2}
    assert figures["strategies"] == {"LINEAR": 1, "CANARY": 1}
    # Before each of the LINEAR's four steps and the CANARY's two.
    assert figures["pauses"] == figures["pauses_expected"] == 6
    assert figures["hooks"] == {"SUCCEEDED": 6}
    assert figures["gate_started"] == 6
    assert figures["ecs_calls_per_pause"]["ContinueServiceDeployment"] == 1.0
    assert all(d is not None and d >= 0 for d in figures["delays_s"])


def test_the_check_needs_every_pause_seen_and_every_gate_started_in_time() -> None:
    good = {
        "deploys": 1,
        "outcomes": {"deployed": 1},
        "pauses": 2,
        "pauses_expected": 2,
        "delays_s": [0.1, 1.9],
    }
    assert met(good)
    assert not met({**good, "delays_s": [0.1, 2.1]})
    assert not met({**good, "delays_s": [0.1, None]})
    assert not met({**good, "pauses": 1, "delays_s": [0.1]})
    assert not met({**good, "outcomes": {"rolled_back": 1}})
