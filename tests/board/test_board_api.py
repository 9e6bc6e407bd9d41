"""The board's JSON API over a real ledger (moto's DynamoDB through ThreadedMotoServer),
served by the worker's HTTP endpoint: the schema, the shared cache, redaction, headers."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from importlib import resources
from typing import Any

import jsonschema
import pytest

from conftest import REPO, HeldClock, World, deploy, drain
from deployworker.aws.dynamodb import LedgerTable
from deployworker.board.cache import BoardData
from deployworker.board.web import Board
from deployworker.ledger.record import Transition
from deployworker.ledger.states import State
from deployworker.ledger.write import LedgerWriter
from deployworker.local.rules import Rules
from deployworker.observe.httpd import Health, serve
from deployworker.observe.metrics import Metrics

SCHEMA = json.loads((resources.files("deployworker.board") / "schema.json").read_text())


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def ledger(world: World) -> LedgerTable:
    return world.ledger()


@pytest.fixture
def served(ledger: LedgerTable) -> Iterator[tuple[str, BoardData, Clock]]:
    clock = Clock()
    data = BoardData(ledger, "eu-west-1", ttl=3.0, clock=clock)
    server = serve("127.0.0.1", 0, Metrics().registry, Health(60), {"/board": Board(data)})
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", data, clock
    finally:
        server.shutdown()
        server.server_close()


def get(url: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def board(base: str) -> dict[str, Any]:
    status, _, body = get(f"{base}/board/api/board.json")
    assert status == 200, body
    doc: dict[str, Any] = json.loads(body)
    jsonschema.validate(doc, SCHEMA)
    return doc


def ids(section: list[dict[str, Any]]) -> list[str]:
    return [d["deploy_id"] for d in section]


def test_the_api_serves_what_the_ledger_holds_through_a_shared_cache(
    ledger: LedgerTable, served: tuple[str, BoardData, Clock]
) -> None:
    base, data, clock = served
    service = uuid.uuid4().hex[:8]
    target = f"prod/{service}"
    writer = LedgerWriter(ledger, "replica-a")
    writer.record(Transition(target, "d-1", State.IN_PROGRESS, cluster="prod", service=service))
    writer.record(Transition(target, "d-0", State.QUEUED, cluster="prod", service=service))
    first = board(base)
    assert "d-1" in ids(first["now"])
    assert ("d-0", "d-1") in {(d["deploy_id"], d["behind"]) for d in first["waiting"]}
    reads = data.reads
    # A second viewer, and a change written by another replica, within the cache's time:
    # no ledger read, the same document.
    LedgerWriter(ledger, "replica-b").record(
        Transition(target, "d-1", State.DEPLOYED, reason="service deployment successful")
    )
    assert board(base) == first
    assert data.reads == reads
    clock.now += 3.5
    after = board(base)
    assert data.reads == reads + 3
    assert "d-1" not in ids(after["now"])
    ended = next(d for d in after["recent"] if d["deploy_id"] == "d-1")
    assert (ended["state"], ended["mark"], ended["replica"]) == ("deployed", "ok", "replica-b")
    # A service's history, as `deployworker history` reads it.
    status, _, body = get(f"{base}/board/api/service.json?target=prod%2F{service}")
    history = json.loads(body)
    jsonschema.validate(history, SCHEMA)
    assert status == 200 and ids(history["history"]) == ["d-0", "d-1"]


def test_a_rejection_shows_its_reason_and_what_the_allowlist_would_need(
    ledger: LedgerTable, served: tuple[str, BoardData, Clock]
) -> None:
    base, _, _ = served
    deploy_id = f"ci-{uuid.uuid4().hex[:8]}"
    reason = "image repository 'evil.example.com/web' is not allowlisted for prod/web"
    LedgerWriter(ledger, "r").record(
        Transition(
            "prod/web", deploy_id, State.REJECTED, message_id="m", reason=reason, rejected=True
        )
    )
    shown = next(d for d in board(base)["rejected"] if d["deploy_id"] == deploy_id)
    assert shown["reason"] == reason
    assert (
        shown["allowlist_needs"] == "add evil.example.com/web to `images` of the entry for prod/web"
    )


def test_no_environment_value_secret_or_proof_is_served(
    ledger: LedgerTable, served: tuple[str, BoardData, Clock]
) -> None:
    base, _, _ = served
    evidence = {
        "stopped_tasks": [{"reason": "Essential container exited", "exit_code": 1}],
        "environment": [{"name": "DB_PASSWORD", "value": "hunter2"}],
        "register_input": {"containerDefinitions": [{"secrets": [{"valueFrom": "arn:sm:db"}]}]},
        "proof": "AWS4-HMAC-SHA256 Credential=AKIA Signature=deadbeef",
    }
    deploy_id = f"f-{uuid.uuid4().hex[:8]}"
    LedgerWriter(ledger, "r").record(
        Transition("prod/web", deploy_id, State.FAILED, evidence=evidence, reason="exit 1")
    )
    _, _, body = get(f"{base}/board/api/board.json")
    for secret in ("hunter2", "arn:sm:db", "deadbeef", "AKIA"):
        assert secret.encode() not in body
    shown = next(d for d in json.loads(body)["recent"] if d["deploy_id"] == deploy_id)
    assert shown["evidence"]["stopped_tasks"][0]["exit_code"] == 1


def test_the_page_and_its_files_come_from_the_worker_with_a_strict_policy(
    served: tuple[str, BoardData, Clock],
) -> None:
    base, _, _ = served
    status, headers, page = get(f"{base}/board")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    policy = headers["Content-Security-Policy"]
    assert "connect-src 'self'" in policy and "default-src 'none'" in policy
    assert "frame-ancestors 'none'" in policy
    for path in ("/board/board.js", "/board/board.css", "/board/api/schema.json"):
        assert get(base + path)[0] == 200, path
        assert f'"{path}"'.encode() in page or path.endswith("schema.json")
    assert b"http://" not in page.replace(b"http://www.w3.org", b"")
    assert b"https://" not in page
    js = get(f"{base}/board/board.js")[2]
    assert b"innerHTML" not in js and b"http" not in js  # text only, and only the worker
    assert get(f"{base}/board/api/board.json", "POST")[0] in (405, 501)  # read-only
    assert get(f"{base}/board/nothing")[0] == 404
    assert get(f"{base}/metrics")[0] == 200  # still beside it


def test_service_pages_cannot_drive_the_ledger_harder_than_a_few_reads_a_second(
    served: tuple[str, BoardData, Clock],
) -> None:
    base, data, clock = served
    statuses = [get(f"{base}/board/api/service.json?target=prod%2Fs{n}")[0] for n in range(8)]
    assert statuses == [200] * 5 + [429] * 3
    assert data.reads == 5
    clock.now += 1.5
    assert get(f"{base}/board/api/service.json?target=prod%2Fs7")[0] == 200
    assert get(f"{base}/board/api/service.json?target=prod%2Fs0")[0] == 200  # from the cache
    assert data.reads == 6


def test_a_canary_shows_its_traffic_deadline_images_before_and_service_deployment(
    world: World, ledger: LedgerTable, served: tuple[str, BoardData, Clock], sim_clock: HeldClock
) -> None:
    base, _, clock = served
    world.simulator.rules = Rules(converge_seconds=0.6, minute_seconds=0.5)
    canary = {"canaryPercent": 10.0, "canaryBakeTimeInMinutes": 4}  # 10 % for 2 s here
    configuration = {"strategy": "CANARY", "bakeTimeInMinutes": 0, "canaryConfiguration": canary}
    world.service(deploymentConfiguration=configuration)
    app = world.app(ledger_table=ledger.table, watch_interval_seconds=0.1)
    world.send(deploy(f"{REPO}:2.0", deploy_id="canary-b"))
    running = threading.Thread(target=drain, args=(app,))
    running.start()

    def canary_step() -> bool:
        found = world.service_deployment(world.describe()["currentServiceDeployment"])
        weight = found["targetServiceRevision"].get("requestedProductionTrafficWeight")
        return bool(weight == 10.0)

    # The simulator's clock is held at the canary step until the board shows it: the
    # worker and the board see it however slow the machine (it lasts 2 s otherwise).
    sim_clock.walk(canary_step)
    shifting: list[dict[str, Any]] = []
    deadline = time.monotonic() + 20
    while running.is_alive() and not shifting and time.monotonic() < deadline:
        clock.now += 5  # past the cache's time: each look reads the ledger
        now = [d for d in board(base)["now"] if d["deploy_id"] == "canary-b"]
        shifting = [d for d in now if d["traffic"] == 10.0]
        time.sleep(0.1)
    sim_clock.release()
    running.join(30)
    assert shifting, "the board never showed the canary's 10 % of production traffic"
    shown = shifting[0]
    assert shown["images_before"] == {"app": f"{REPO}:1.0"}
    assert shown["images"] == {"app": f"{REPO}:2.0"}
    assert ":service-deployment/prod/web/" in shown["deployment"]
    assert shown["timeout"] >= 600  # raised to what a 4-minute canary bake needs
    assert shown["deadline_at"] > shown["created_at"]
    assert app.events is not None
    app.events.stop()  # writes what is queued
    clock.now += 5
    ended = next(d for d in board(base)["recent"] if d["deploy_id"] == "canary-b")
    assert ended["state"] == "deployed"
    assert ended["deployment"] == world.describe()["currentServiceDeployment"]
    assert ended["images_before"] == {"app": f"{REPO}:1.0"}
    assert ended["timeout"] == shown["timeout"]
