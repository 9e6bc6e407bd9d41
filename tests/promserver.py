"""A real Prometheus server for tests, scraping an exporter the test controls.

`PrometheusServer` runs Debian's `prometheus` binary on 127.0.0.1 with a temporary
config and storage, scraping an `Exporter` (prometheus-client's own HTTP server on
127.0.0.1) every second. A test sets a gauge on the exporter, waits until Prometheus
answers with it (`wait_value`), then measures. The fixtures in `tests/conftest.py`
(`prometheus`, `exporter`) share one server for the whole session, so each test uses
metric names of its own. `AuthProxy` stands in front of it and lets through only
requests that carry the expected `Authorization` header.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, Gauge, start_http_server

HOST = "127.0.0.1"
TOKEN = "s3cret-token"
SCRAPE_SECONDS = 1


def free_port() -> int:
    """A port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def prometheus_binary() -> str:
    """The server binary; skips locally, fails in CI (`.ci/run` installs it)."""
    found = shutil.which("prometheus")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("prometheus is missing; .ci/run installs Debian's prometheus package")
        pytest.skip("the prometheus server binary is not installed (Debian package prometheus)")
    return found


class Exporter:
    """Gauges on prometheus-client's HTTP server, as an application would export them."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._gauges: dict[str, Gauge] = {}
        self._server, self._thread = start_http_server(0, addr=HOST, registry=self.registry)
        self.port = int(self._server.server_port)
        self.target = f"{HOST}:{self.port}"

    def gauge(self, name: str, labelnames: tuple[str, ...] = ()) -> Gauge:
        """The gauge `name` (created on first use, with these label names)."""
        if name not in self._gauges:
            self._gauges[name] = Gauge(name, name, labelnames, registry=self.registry)
        return self._gauges[name]

    def set(self, name: str, value: float, **labels: str) -> None:
        """Set one series of gauge `name`; the next scrape carries it."""
        gauge = self.gauge(name, tuple(sorted(labels)))
        (gauge.labels(**labels) if labels else gauge).set(value)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class PrometheusServer:
    """`prometheus` on 127.0.0.1 scraping `targets` every second (job `app`), evaluating
    `rule_files` every second too."""

    def __init__(
        self, workdir: Path, targets: list[str], rule_files: tuple[Path, ...] = (), job: str = "app"
    ) -> None:
        self.workdir = workdir
        config = workdir / "prometheus.yml"
        config.write_text(
            json.dumps(
                {
                    "global": {
                        "scrape_interval": f"{SCRAPE_SECONDS}s",
                        "evaluation_interval": f"{SCRAPE_SECONDS}s",
                    },
                    "rule_files": [str(path.resolve()) for path in rule_files],
                    "scrape_configs": [{"job_name": job, "static_configs": [{"targets": targets}]}],
                }
            )
        )
        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}"
        self.log = workdir / "prometheus.log"
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [
                    prometheus_binary(),
                    f"--config.file={config}",
                    f"--storage.tsdb.path={workdir / 'data'}",
                    f"--web.listen-address={HOST}:{self.port}",
                    "--log.level=warn",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def wait_ready(self, limit: float = 60.0) -> None:
        """Block until `/-/ready` answers 200 (bounded); fails with the server's log."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.1)
        self.stop()
        raise AssertionError(f"prometheus did not start:\n{self.log.read_text()[-2000:]}")

    def query(self, expr: str) -> dict[str, Any]:
        """The raw `/api/v1/query` answer (errors included)."""
        url = f"{self.url}/api/v1/query?{urllib.parse.urlencode({'query': expr})}"
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                answer: dict[str, Any] = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            answer = json.loads(exc.read())
        return answer

    def wait_value(self, expr: str, value: float, limit: float = 30.0) -> None:
        """Block until `expr` returns one sample equal to `value` (bounded)."""
        deadline = time.monotonic() + limit
        seen: Any = None
        while time.monotonic() < deadline:
            seen = self.query(expr).get("data", {}).get("result")
            if isinstance(seen, list) and len(seen) == 1 and float(seen[0]["value"][1]) == value:
                return
            time.sleep(0.2)
        raise AssertionError(f"{expr} never returned {value}; last: {seen}")

    def stop(self) -> None:
        """Stop the server by its pid: SIGTERM, then SIGKILL after 10 s."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


class AuthProxy(ThreadingHTTPServer):
    """In front of the real server: forwards only requests with `expected` auth."""

    def __init__(self, upstream: str, expected: str) -> None:
        self.upstream = upstream
        self.expected = expected
        self.seen: list[str | None] = []
        super().__init__((HOST, 0), _ProxyHandler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.server_address[1]}"

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


class _ProxyHandler(BaseHTTPRequestHandler):
    server: AuthProxy

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        auth = self.headers.get("Authorization")
        self.server.seen.append(auth)
        if auth != self.server.expected:
            self.send_response(401)
            self.end_headers()
            self.wfile.write(b"Unauthorized")
            return
        request = urllib.request.Request(
            f"{self.server.upstream}{self.path}",
            data=body,
            headers={"Content-Type": self.headers["Content-Type"]},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as upstream:
                status, answer = upstream.status, upstream.read()
        except urllib.error.HTTPError as exc:
            status, answer = exc.code, exc.read()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)
