"""The shipped alert rules, loaded by a real Prometheus server that scrapes a live worker:
a service's very first failed deploy raises `DeployworkerDeployFailed`.

The worker creates the `failed` and `rolled_back` series of every allowlisted service at
0 when the allowlist loads, so the first failure is a step `increase()` can see. Without
that the series would be born at 1 and the alert would stay silent (the `_ _ 1 1 1`
cases in deploy/prometheus/alerts.test.yaml show the same with promtool).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import REPO, World, default_entry, deploy, metric
from deployworker.app import App
from promserver import PrometheusServer

RULES = Path("deploy/prometheus/alerts.yaml")


@pytest.fixture
def served(world: World, tmp_path: Path) -> Iterator[tuple[App, PrometheusServer]]:
    world.service()
    app = world.app(world.allowlist([default_entry(rollback=False)]))
    app.start()
    target = f"127.0.0.1:{app.http_port}"
    server = PrometheusServer(tmp_path, [target], (RULES,), job="deployworker")
    server.wait_ready()
    yield app, server
    server.stop()


def alerts(server: PrometheusServer, name: str) -> list[dict[str, Any]]:
    found = server.query(f'ALERTS{{alertname="{name}"}}')["data"]["result"]
    return [s["metric"] for s in found]


def test_the_first_failed_deploy_of_a_service_raises_the_alert(
    served: tuple[App, PrometheusServer], world: World
) -> None:
    app, server = served
    # Prometheus has scraped the worker before its first deploy.
    server.wait_value("deployworker_allowlist_entries", 1, limit=40)
    failed = 'deployworker_deploys_total{cluster="prod",service="web",outcome="failed"}'
    world.send(deploy(f"{REPO}:2-fail", deploy_id="first"))
    deadline = time.monotonic() + 30
    while (
        metric(app, "deployworker_deploys_total", cluster="prod", service="web", outcome="failed")
        < 1
    ):
        assert time.monotonic() < deadline, "the deploy did not fail"
        time.sleep(0.2)
    server.wait_value(failed, 1)
    deadline = time.monotonic() + 20
    while not (seen := alerts(server, "DeployworkerDeployFailed")):
        assert time.monotonic() < deadline, "DeployworkerDeployFailed never became active"
        time.sleep(0.5)
    (active,) = seen
    # No `for:`: a failure is active at once (ALERTS says firing; with a `for:` it
    # would first be pending).
    assert active["alertstate"] in ("pending", "firing")
    assert (active["cluster"], active["service"], active["severity"]) == ("prod", "web", "critical")
    assert alerts(server, "DeployworkerRolledBack") == []
