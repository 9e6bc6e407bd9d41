"""Which PAUSE hook waits, by hookId and the deployment's stage, never by position."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from deployworker.deploy.gates.fit import PAUSE_ORDER
from deployworker.deploy.gates.hookid import HOOKS_TAG, attribute, decode, encode, hook_key

POST_TEST, PRE_PRODUCTION = "POST_TEST_TRAFFIC_SHIFT", "PRE_PRODUCTION_TRAFFIC_SHIFT"


def config(*stages: str) -> dict[str, Any]:
    return {"lifecycleHooks": [{"targetType": "PAUSE", "lifecycleStages": [s]} for s in stages]}


BOTH = config(POST_TEST, PRE_PRODUCTION)


@pytest.mark.parametrize(
    ("lifecycle_stage", "configuration", "seen", "expected"),
    [
        ("POST_SCALE_UP", config("POST_SCALE_UP"), {}, ("POST_SCALE_UP", False)),
        # PRE_PRODUCTION_TRAFFIC_SHIFT is no ServiceDeploymentLifecycleStage: its hooks
        # wait while the deployment still reports the stage before.
        (POST_TEST, config(PRE_PRODUCTION), {}, (PRE_PRODUCTION, False)),
        (POST_TEST, config(POST_TEST), {}, (POST_TEST, False)),
        ("PRODUCTION_TRAFFIC_SHIFT", BOTH, {}, (PRE_PRODUCTION, False)),
        # both configured: the first id seen is POST_TEST's, and must be remembered
        (POST_TEST, BOTH, {}, (POST_TEST, True)),
        # another id after it (the first one answered and gone from the active list)
        (POST_TEST, BOTH, {hook_key("first"): POST_TEST}, (PRE_PRODUCTION, True)),
        # the same id again: what was recorded
        (POST_TEST, BOTH, {hook_key("this"): POST_TEST}, (POST_TEST, False)),
        ("BAKE_TIME", BOTH, {}, (None, False)),
        ("POST_SCALE_UP", BOTH, {}, (None, False)),
    ],
)
def test_attribute(
    lifecycle_stage: str,
    configuration: dict[str, Any],
    seen: dict[str, str],
    expected: tuple[str | None, bool],
) -> None:
    assert attribute(lifecycle_stage, "this", configuration, seen) == expected


@given(st.dictionaries(st.text(min_size=1, max_size=80), st.sampled_from(PAUSE_ORDER), max_size=30))
def test_the_record_is_a_legal_tag_and_reads_back(ids: dict[str, str]) -> None:
    seen = {hook_key(i): stage for i, stage in ids.items()}
    tags = encode(seen)
    assert len(tags[HOOKS_TAG]) <= 256
    back = decode(tags)
    assert back.items() <= seen.items()
    assert list(back.items()) == list(seen.items())[len(seen) - len(back) :]  # newest kept


def test_a_damaged_record_is_skipped_word_by_word() -> None:
    key = hook_key("x")
    assert decode({HOOKS_TAG: f"99={key} 3=short junk 4={key}"}) == {key: PRE_PRODUCTION}
