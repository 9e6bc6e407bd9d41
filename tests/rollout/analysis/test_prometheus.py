"""The Prometheus provider against a real Prometheus server scraping our exporter."""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from deployworker.errors import ConfigError
from deployworker.rollout.analysis.measure import (
    AlarmsQuery,
    Bounds,
    Phase,
    PrometheusQuery,
    judge,
)
from deployworker.rollout.analysis.prometheus import (
    MAX_BODY,
    PrometheusProvider,
    auth_headers,
    secret_headers,
)
from promserver import TOKEN, AuthProxy, Exporter, PrometheusServer


@pytest.fixture
def provider(prometheus: PrometheusServer) -> Iterator[PrometheusProvider]:
    made = PrometheusProvider(prometheus.url, timeout=5)
    yield made
    made.close()


def test_a_good_and_a_bad_value_are_judged_by_the_range(
    prometheus: PrometheusServer, exporter: Exporter, provider: PrometheusProvider
) -> None:
    bounds = Bounds(max=0.01)
    exporter.set("t_good_error_ratio", 0.002)
    prometheus.wait_value("t_good_error_ratio", 0.002)
    good = provider.measure(PrometheusQuery('t_good_error_ratio{job="app"}'))
    assert (good.value, good.error) == (0.002, None)
    assert "t_good_error_ratio" in good.detail
    assert judge("error-ratio", bounds, 1, 0, [good]).phase is Phase.PASSED

    exporter.set("t_good_error_ratio", 0.25)
    prometheus.wait_value("t_good_error_ratio", 0.25)
    bad = provider.measure(PrometheusQuery("t_good_error_ratio"))
    assert bad.value == 0.25
    assert judge("error-ratio", bounds, 1, 0, [bad]).phase is Phase.FAILED


def test_an_aggregated_ratio_across_series_is_one_value(
    prometheus: PrometheusServer, exporter: Exporter, provider: PrometheusProvider
) -> None:
    exporter.set("t_requests", 90, code="200")
    exporter.set("t_requests", 10, code="500")
    prometheus.wait_value('t_requests{code="500"}', 10)
    ratio = provider.measure(PrometheusQuery('sum(t_requests{code=~"5.."}) / sum(t_requests)'))
    assert ratio.value == pytest.approx(0.1)
    assert ratio.error is None


def test_several_series_are_an_error_that_says_to_aggregate(
    prometheus: PrometheusServer, exporter: Exporter, provider: PrometheusProvider
) -> None:
    exporter.set("t_latency", 0.1, route="/a")
    exporter.set("t_latency", 0.9, route="/b")
    prometheus.wait_value('t_latency{route="/b"}', 0.9)
    measured = provider.measure(PrometheusQuery("t_latency"))
    assert measured.value is None
    assert measured.error is not None
    assert "2 series" in measured.error
    assert 'route="/a"' in measured.error
    assert "aggregate" in measured.error


def test_no_series_and_nan_are_no_data_without_an_error(
    prometheus: PrometheusServer, exporter: Exporter, provider: PrometheusProvider
) -> None:
    empty = provider.measure(PrometheusQuery('t_never_exported{job="app"}'))
    assert (empty.value, empty.error) == (None, None)
    exporter.set("t_zero", 0)
    prometheus.wait_value("t_zero", 0)
    nan = provider.measure(PrometheusQuery("t_zero / t_zero"))
    assert (nan.value, nan.error) == (None, None)
    verdict = judge("m", Bounds(max=1), 2, 0, [empty, nan])
    assert verdict.phase is Phase.INCONCLUSIVE


def test_a_scalar_is_a_value(provider: PrometheusProvider) -> None:
    measured = provider.measure(PrometheusQuery("1 + 2"))
    assert (measured.value, measured.error) == (3.0, None)


@pytest.mark.parametrize(
    ("expr", "words"),
    [
        ("sum(", "bad_data"),
        ("t_good_error_ratio[1m]", "range vector"),
        ('"text"', "'string'"),
    ],
)
def test_a_query_prometheus_refuses_is_an_error(
    provider: PrometheusProvider, expr: str, words: str
) -> None:
    measured = provider.measure(PrometheusQuery(expr))
    assert measured.value is None
    assert measured.error is not None
    assert words in measured.error


def test_auth_headers_reach_the_server_and_wrong_ones_are_refused(
    prometheus: PrometheusServer, exporter: Exporter
) -> None:
    exporter.set("t_auth", 7)
    prometheus.wait_value("t_auth", 7)
    pair = base64.b64encode(b"grafana:pa:ss").decode()
    for expected, headers in [
        (f"Bearer {TOKEN}", auth_headers(bearer_token=TOKEN)),
        (f"Basic {pair}", auth_headers(username="grafana", password="pa:ss")),
        (f"Bearer {TOKEN}", secret_headers(json.dumps({"bearer_token": TOKEN}))),
    ]:
        proxy = AuthProxy(prometheus.url, expected)
        try:
            allowed = PrometheusProvider(proxy.url, headers, timeout=5).measure(
                PrometheusQuery("t_auth")
            )
            denied = PrometheusProvider(proxy.url, {}, timeout=5).measure(PrometheusQuery("t_auth"))
        finally:
            proxy.stop()
        assert allowed.value == 7
        assert proxy.seen == [expected, None]
        assert denied.value is None
        assert denied.error is not None
        assert "HTTP 401" in denied.error
        assert TOKEN not in denied.error


def test_an_unreachable_or_silent_server_is_a_bounded_error() -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    refused = PrometheusProvider(f"http://127.0.0.1:{port}", timeout=2).measure(
        PrometheusQuery("up")
    )
    assert refused.value is None
    assert refused.error is not None
    assert f"127.0.0.1:{port}" in refused.error

    # Listening but never answering: the read must give up at the timeout.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        measured = PrometheusProvider(url, timeout=0.5).measure(PrometheusQuery("up"))
    assert measured.value is None
    assert measured.error is not None
    assert "no answer within 0.5s" in measured.error


class _Canned(BaseHTTPRequestHandler):
    status = 200
    body = b""

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        # Read the request first: closing with it unread resets the connection.
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(self.status)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)


@pytest.mark.parametrize(
    ("status", "body", "words"),
    [
        (
            200,
            b'{"status":"success","data":{"resultType":"vector","result":['
            + b" " * MAX_BODY
            + b"]}}",
            "over 1 MiB",
        ),
        (502, b"<html>Bad Gateway</html>", "HTTP 502"),
        (403, b"forbidden", "HTTP 403"),
    ],
)
def test_answers_that_are_not_one_sample_are_errors(status: int, body: bytes, words: str) -> None:
    handler = type("Handler", (_Canned,), {"status": status, "body": body})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/prefix/"
        measured = PrometheusProvider(url, timeout=5).measure(PrometheusQuery("up"))
    finally:
        server.shutdown()
        server.server_close()
    assert measured.value is None
    assert measured.error is not None
    assert words in measured.error


def test_only_prometheus_queries_are_measured_and_urls_are_checked() -> None:
    measured = PrometheusProvider("http://127.0.0.1:1").measure(AlarmsQuery(("a",)))
    assert measured.error is not None
    for url in ("ftp://prom", "http://user:pw@prom:9090", "prom:9090"):
        with pytest.raises(ConfigError):
            PrometheusProvider(url)


def test_an_oversize_answer_does_not_spoil_the_next_measurement() -> None:
    big = b'{"status":"success","data":{"resultType":"vector","result":[' + b" " * (4 * MAX_BODY)
    good = b'{"status":"success","data":{"resultType":"scalar","result":[1, "1"]}}'
    answers = [big, good]

    class Handler(_Canned):
        protocol_version = "HTTP/1.1"  # keep-alive: the client's pool reuses connections

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            body = answers.pop(0)
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                self.wfile.write(body)
            except OSError:
                pass  # the client hung up on the oversize answer

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        provider = PrometheusProvider(f"http://127.0.0.1:{server.server_address[1]}", timeout=5)
        first = provider.measure(PrometheusQuery("up"))
        second = provider.measure(PrometheusQuery("up"))
    finally:
        server.shutdown()
        server.server_close()
    assert first.error is not None
    assert "over 1 MiB" in first.error
    assert (second.value, second.error) == (1.0, None)


def test_a_server_that_trickles_its_answer_is_cut_off_at_the_timeout() -> None:
    class Trickle(_Canned):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            try:
                for _ in range(100):  # 10 s at most, then it gives up by itself
                    self.wfile.write(b" ")
                    self.wfile.flush()
                    time.sleep(0.1)
            except OSError:
                pass  # the client hung up

    server = ThreadingHTTPServer(("127.0.0.1", 0), Trickle)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        measured = PrometheusProvider(url, timeout=0.5).measure(PrometheusQuery("up"))
    finally:
        server.shutdown()
        server.server_close()
    assert measured.value is None
    assert measured.error is not None
    assert "no answer within 0.5s" in measured.error
