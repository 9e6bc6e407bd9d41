"""The approval metrics: votes by result, and the window gauges the alert reads."""

from __future__ import annotations

import subprocess

from prometheus_client import generate_latest
from test_observability import promtool

from deployworker.observe.gatemetrics import VOTE_RESULTS
from deployworker.observe.metrics import Metrics


def sample(metrics: Metrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def test_the_window_is_set_while_open_and_removed_when_closed() -> None:
    metrics = Metrics()
    metrics.approval_window("prod", "web", 1000.0, 4600.0)
    opened = "deployworker_approval_opened_timestamp_seconds"
    deadline = "deployworker_approval_deadline_timestamp_seconds"
    assert sample(metrics, opened, cluster="prod", service="web") == 1000.0
    assert sample(metrics, deadline, cluster="prod", service="web") == 4600.0
    metrics.approval_window("prod", "web", None, None)
    assert sample(metrics, opened, cluster="prod", service="web") is None
    assert sample(metrics, deadline, cluster="prod", service="web") is None
    metrics.approval_window("prod", "web", None, None)  # closing twice is harmless


def test_every_vote_result_is_exported_from_the_start_and_unknown_ones_count_invalid() -> None:
    metrics = Metrics()
    for result in VOTE_RESULTS:
        assert sample(metrics, "deployworker_approval_votes_total", result=result) == 0
    metrics.approval_vote("counted")
    metrics.approval_vote("made-up")
    assert sample(metrics, "deployworker_approval_votes_total", result="counted") == 1
    assert sample(metrics, "deployworker_approval_votes_total", result="invalid") == 1
    metrics.approval_window("prod", "web", 1.0, 2.0)
    text = generate_latest(metrics.registry).decode()
    checked = subprocess.run(
        [promtool(), "check", "metrics"], input=text, capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
