"""`/metrics` as prometheus_client serves it (HEAD, gzip, `name[]`, OpenMetrics), the
probes beside it, and the series the allowlist's loads create and remove."""

from __future__ import annotations

import gzip
import urllib.error
import urllib.request
from collections.abc import Iterator
from wsgiref.simple_server import WSGIServer

import pytest

from deployworker.intake.allowlist import load_allowlist
from deployworker.observe.httpd import Health, serve
from deployworker.observe.metrics import Metrics

OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8"
ALLOWLIST = """
version: 1
services:
  - {cluster: prod, service: web, containers: [app], images: [r.example/web]}
  - cluster: prod
    service: api
    containers: [api]
    images: [r.example/api]
    gates:
      - at: POST_TEST_TRAFFIC_SHIFT
        approval: {approvers: ["arn:aws:iam::123456789012:role/a"]}
"""


@pytest.fixture
def server() -> Iterator[tuple[WSGIServer, Metrics]]:
    metrics = Metrics()
    health = Health(60, allowlist_loaded=lambda: True)
    served = serve("127.0.0.1", 0, metrics.registry, health)
    yield served, metrics
    served.shutdown()
    served.server_close()


def request(
    served: WSGIServer, path: str, method: str = "GET", **headers: str
) -> tuple[int, dict[str, str], bytes]:
    url = f"http://127.0.0.1:{served.server_address[1]}{path}"
    req = urllib.request.Request(url, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=5) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def test_metrics_negotiates_like_prometheus_client(server: tuple[WSGIServer, Metrics]) -> None:
    served, _ = server
    status, headers, body = request(served, "/metrics")
    text = body.decode()
    assert status == 200 and headers["Content-Type"].startswith("text/plain; version=0.0.4")
    for family in ("process_resident_memory_bytes", "process_open_fds", "python_info"):
        assert f"\n{family}" in text, family
    assert "process_start_time_seconds" in text and "python_gc_objects_collected_total" in text
    assert "_created" not in text
    # HEAD: GET's headers, no body.
    status, headers, body = request(served, "/metrics", "HEAD")
    assert (status, body) == (200, b"") and int(headers["Content-Length"]) > 1000
    # gzip when asked.
    status, headers, body = request(served, "/metrics", **{"Accept-Encoding": "gzip"})
    assert headers["Content-Encoding"] == "gzip"
    assert b"deployworker_allowlist_entries" in gzip.decompress(body)
    # name[] picks families.
    _, _, body = request(served, "/metrics?name[]=deployworker_allowlist_entries")
    assert [line for line in body.decode().splitlines() if not line.startswith("#")] == [
        "deployworker_allowlist_entries 0.0"
    ]
    # OpenMetrics when the scraper prefers it.
    _, headers, body = request(served, "/metrics", Accept=OPENMETRICS)
    assert headers["Content-Type"].startswith("application/openmetrics-text")
    assert body.endswith(b"# EOF\n")


def test_probes_stay_beside_metrics(server: tuple[WSGIServer, Metrics]) -> None:
    served, _ = server
    assert request(served, "/healthz")[::2] == (200, b"ok\n")
    assert request(served, "/readyz")[::2] == (503, b"queue has not answered yet\n")
    assert request(served, "/readyz", "HEAD")[0] == 503
    assert request(served, "/nope")[0] == 404


def value(metrics: Metrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def test_allowlist_loads_create_and_drop_the_alerted_series() -> None:
    metrics = Metrics()
    metrics.allowlist_loaded(True, load_allowlist(ALLOWLIST))
    deploys = "deployworker_deploys_total"
    for service in ("web", "api"):
        for outcome in ("failed", "rolled_back"):
            assert value(metrics, deploys, cluster="prod", service=service, outcome=outcome) == 0
    gates = "deployworker_gate_evaluations_total"
    assert value(metrics, gates, cluster="prod", service="api", result="failed") == 0
    assert value(metrics, gates, cluster="prod", service="web", result="failed") is None
    assert value(metrics, "deployworker_allowlist_last_reload_successful") == 1
    loaded_at = value(metrics, "deployworker_allowlist_last_reload_success_timestamp_seconds")
    assert loaded_at is not None and loaded_at > 0

    metrics.allowlist_loaded(False, None)  # a broken edit: the last good one stays
    assert value(metrics, "deployworker_allowlist_last_reload_successful") == 0
    assert value(metrics, deploys, cluster="prod", service="api", outcome="failed") == 0
    assert (
        value(metrics, "deployworker_allowlist_last_reload_success_timestamp_seconds") == loaded_at
    )

    metrics.allowlist_loaded(
        True, load_allowlist(ALLOWLIST.split("  - cluster: prod\n", maxsplit=1)[0])
    )
    assert value(metrics, deploys, cluster="prod", service="api", outcome="failed") is None
    assert value(metrics, gates, cluster="prod", service="api", result="failed") is None
    assert value(metrics, deploys, cluster="prod", service="web", outcome="failed") == 0
    assert value(metrics, "deployworker_allowlist_last_reload_successful") == 1
