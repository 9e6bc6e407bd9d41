"""Metrics, health, alerts, dashboard, deploy events and `status`, against a live worker."""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from conftest import (
    REPO,
    World,
    default_entry,
    deploy,
    drain,
    events_queue,
    http_get,
    metric,
    read_events,
    wait_for,
)
from deployworker.aws.sqs import Message
from deployworker.cli.main import main
from deployworker.local.simulator import Rules


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("promtool is missing; .ci/run installs Debian's prometheus package")
        pytest.skip("promtool not installed")
    return found


def scrape_after_some_deploys(world: World) -> str:
    world.service()
    app = world.app(supersede=False)  # both deploys must run, whatever the batching
    app.start()
    world.send(deploy(f"{REPO}:2.0", deploy_id="m1"), dedup="1")
    world.send(deploy(f"{REPO}:2-fail", deploy_id="m2"), dedup="2")
    world.send("not json", dedup="3")
    deadline = time.monotonic() + 30
    # The three share one message group, so the invalid one settles last.
    while metric(app, "deployworker_messages_total", outcome="rejected_invalid") < 1:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    return http_get(f"http://127.0.0.1:{app.http_port}/metrics")[1]


def test_live_metrics_pass_promtool_and_cover_the_contract(world: World) -> None:
    text = scrape_after_some_deploys(world)
    checked = subprocess.run(
        [promtool(), "check", "metrics"], input=text, capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout + checked.stderr == ""
    for family in (
        "deployworker_messages_received_total",
        'deployworker_messages_total{outcome="deployed"} 1.0',
        'deployworker_messages_total{outcome="rolled_back"} 1.0',
        'deployworker_messages_total{outcome="rejected_invalid"} 1.0',
        'deployworker_deploys_total{cluster="prod",outcome="deployed",service="web"} 1.0',
        'deployworker_deploy_duration_seconds_bucket{cluster="prod",le="3600.0",outcome="deployed",service="web"} 1.0',
        'deployworker_last_deploy_timestamp_seconds{cluster="prod",outcome="rolled_back",service="web"}',
        "deployworker_deploys_in_flight",
        "deployworker_message_age_seconds_count 3.0",
        'deployworker_aws_requests_total{operation="UpdateService",result="ok",service="ecs"}',
        "deployworker_allowlist_entries 1.0",
        'deployworker_allowlist_reloads_total{result="ok"} 1.0',
        "deployworker_allowlist_last_reload_successful 1.0",
        "deployworker_allowlist_last_reload_success_timestamp_seconds",
        'deployworker_deploys_total{cluster="prod",outcome="failed",service="web"} 0.0',
        "process_resident_memory_bytes",
        "deployworker_poll_last_success_timestamp_seconds",
        "deployworker_watched_deployments",
        "deployworker_watch_describe_calls_total",
        "deployworker_watch_cadence_seconds 0.2",
        'deployworker_build_info{version="',
        'deployworker_analysis_measurement_duration_seconds_count{provider="prometheus"} 0.0',
    ):
        assert family in text, family


def test_dashboard_queries_only_metrics_the_worker_exports(world: World) -> None:
    text = scrape_after_some_deploys(world)
    exported = set(re.findall(r"^(deployworker_\w+)", text, re.MULTILINE))
    # Its series exist only for gated services (none in this allowlist).
    exported |= {"deployworker_gate_evaluations_total"}
    dashboard = json.loads(Path("deploy/grafana/deployworker.json").read_text())
    titles = [p["title"] for p in dashboard["panels"]]
    for wanted in (
        "outcome",
        "duration",
        "in flight",
        "age",
        "AWS requests",
        "throttles",
        "Last deploy",
        "Allowlist",
        "Gates ended",
    ):
        assert any(wanted.lower() in t.lower() for t in titles), wanted
    used = {
        m
        for p in dashboard["panels"]
        for t in p["targets"]
        for m in re.findall(r"deployworker_\w+", t["expr"])
    }
    assert used and used <= exported, used - exported
    assert dashboard["templating"]["list"][0]["type"] == "datasource"


def test_alert_rules_are_valid_and_their_unit_tests_pass() -> None:
    tool = promtool()
    rules = Path("deploy/prometheus/alerts.yaml")
    checked = subprocess.run(
        [tool, "check", "rules", str(rules)], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout
    tested = subprocess.run(
        [tool, "test", "rules", "deploy/prometheus/alerts.test.yaml"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr
    names = set(re.findall(r"alert: (\w+)", rules.read_text()))
    tested_names = set(
        re.findall(r"alertname: (\w+)", Path("deploy/prometheus/alerts.test.yaml").read_text())
    )
    assert names == tested_names  # every alert has a unit test
    assert "aws_sqs_approximate_number_of_messages_visible_average" in rules.read_text()


def series_count(registry: Any) -> int:
    return sum(len(family.samples) for family in registry.collect())


def test_flood_of_unknown_services_does_not_grow_series(world: World) -> None:
    world.service()
    app = world.app()
    world.send(deploy(f"{REPO}:2.0", deploy_id="baseline"))
    drain(app)
    before = series_count(app.metrics.registry)
    rng = random.Random(7)
    pipeline = app.worker._groups._pipeline
    for i in range(1000):
        cluster = "".join(rng.choices("abcdefghijklmnopqrstuvwxyz-", k=rng.randint(1, 20)))
        service = "".join(
            rng.choices("abcdefghijklmnopqrstuvwxyz0123456789_", k=rng.randint(1, 20))
        )
        body = json.dumps(
            {"cluster": cluster, "service": service, "container": "app", "image": f"{REPO}:{i}"}
        )
        if i % 10 == 0:
            body = body[:-3]  # some invalid ones too
        message = Message(
            f"m{i}", f"r{i}", body, group_id=f"{cluster}/{service}", sent_at=time.time()
        )
        app.metrics.message_received(message.sent_at)
        app.metrics.settled(pipeline.handle(message))
    assert series_count(app.metrics.registry) == before
    assert metric(app, "deployworker_messages_total", outcome="rejected_not_allowed") == 900
    assert metric(app, "deployworker_messages_total", outcome="rejected_invalid") == 100


def test_healthz_fails_when_the_poll_loop_stalls(world: World) -> None:
    stall = threading.Event()

    def stall_receive(**_: Any) -> None:
        while stall.is_set():
            time.sleep(0.05)

    app = world.app(health_poll_window_seconds=1, poll_wait_seconds=0)
    app.sqs._client.meta.events.register_first("before-send.sqs.ReceiveMessage", stall_receive)
    app.start()
    base = f"http://127.0.0.1:{app.http_port}"
    # Each step waits (bounded) for the answer it needs: a busy machine may take a
    # while to finish the receive under way, or to make the first after the stall.
    healthz = f"{base}/healthz"
    wait_for(lambda: http_get(healthz)[0] == 200, 10)
    stall.set()
    status, body = wait_for(lambda: (got := http_get(healthz))[0] == 503 and got, 10)
    assert status == 503 and "no receive for" in body
    stall.clear()
    wait_for(lambda: http_get(healthz)[0] == 200, 10)


def test_readyz_waits_for_allowlist_and_queue(world: World) -> None:
    path = world.tmp / "later.yaml"
    app = world.app(path, poll_wait_seconds=0)
    app.start(serve_http=True)
    base = f"http://127.0.0.1:{app.http_port}"
    status, body = http_get(f"{base}/readyz")
    assert status == 503 and "allowlist not loaded" in body
    world.allowlist([default_entry()], name="later.yaml")
    deadline = time.monotonic() + 10
    while http_get(f"{base}/readyz")[0] != 200:
        assert time.monotonic() < deadline
        time.sleep(0.1)


def test_readyz_fails_until_the_queue_answers(world: World) -> None:
    from deployworker.observe.httpd import Health

    health = Health(60, allowlist_loaded=lambda: True)
    assert health.ready() == (False, "queue has not answered yet")
    health.polled()
    assert health.ready() == (True, "ok")


def test_every_event_type_is_published(world: World) -> None:
    topic, url = events_queue(world)
    world.service()
    world.service(cluster="staging", name="api")
    entries = [default_entry(), default_entry(cluster="staging", service="api", rollback=False)]
    app = world.app(world.allowlist(entries), events_topic_arn=topic, supersede=False)
    # Pinned, so running it again is a proven noop (a bare tag would be re-resolved).
    two = f"{REPO}:2.0@sha256:{'2' * 64}"
    world.send(deploy(two, deploy_id="ok", source={"commit": "abc"}), dedup="1")
    world.send(deploy(two, deploy_id="same"), dedup="2")
    world.send(deploy(f"{REPO}:3-fail", deploy_id="rb"), dedup="3")
    world.send(
        deploy(f"{REPO}:3-fail", deploy_id="nrb", cluster="staging", service="api"),
        group="staging/api",
        dedup="4",
    )
    world.send(deploy(f"{REPO}:9", deploy_id="denied", cluster="dev"), group="dev/web", dedup="5")
    world.send("{broken", group="x", dedup="6")
    drain(app)
    app.events.stop()  # type: ignore[union-attr]
    events = read_events(world, url)
    by_deploy: dict[str | None, list[str]] = {}
    for event in events:
        by_deploy.setdefault(event.get("deploy_id"), []).append(event["type"])
    assert by_deploy["ok"] == ["received", "registered", "converged"]
    assert by_deploy["same"] == ["received", "noop"]
    assert by_deploy["rb"] == ["received", "registered", "rolled_back"]
    assert by_deploy["nrb"] == ["received", "registered", "failed"]
    assert by_deploy["denied"] == ["rejected"]  # `received` only once admitted
    assert [e["type"] for e in events if "deploy_id" not in e] == ["rejected"]
    ok = next(e for e in events if e.get("deploy_id") == "ok" and e["type"] == "converged")
    assert ok["cluster"] == "prod" and ok["service"] == "web" and ok["image"] == two
    assert ok["outcome"] == "deployed" and ok["source"] == {"commit": "abc"} and ok["duration"] > 0
    assert ok["task_definition"].endswith("prod-web:2") and ok["version"] == 1
    denied = next(e for e in events if e.get("deploy_id") == "denied" and e["type"] == "rejected")
    assert (
        denied["outcome"] == "rejected_not_allowed" and "not in the allowlist" in denied["reason"]
    )
    failed = next(e for e in events if e.get("deploy_id") == "nrb" and e["type"] == "failed")
    assert "circuit breaker" in failed["reason"]


def status(world: World, *extra: str) -> int:
    return main(
        [
            "status",
            "--cluster",
            "prod",
            "--service",
            "web",
            "--endpoint-url",
            world.endpoint,
            "--region",
            "eu-west-1",
            *extra,
        ]
    )


def test_status_in_each_state(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    world.service()
    world.simulator.rules = Rules(converge_seconds=0.5)
    app = world.app(world.allowlist([default_entry(timeout="3s")]), supersede=False)

    assert status(world, "--deploy-id", "d1") == 3
    assert "pending" in capsys.readouterr().out

    world.send(deploy(f"{REPO}:2.0", deploy_id="d1"), dedup="1")
    drain(app)
    assert status(world, "--deploy-id", "d1") == 0
    assert "prod/web deploy d1: succeeded" in capsys.readouterr().out
    assert status(world) == 0  # the service's newest deployment

    world.send(deploy(f"{REPO}:3-fail", deploy_id="d2"), dedup="2")
    drain(app)
    assert status(world, "--deploy-id", "d2") == 2
    assert "rolled_back" in capsys.readouterr().out
    assert status(world, "--deploy-id", "d1") == 0  # d1's revision runs again

    world.send(deploy(f"{REPO}:4-hang", deploy_id="d3"), dedup="3")
    jobs = app.worker.poll(0)
    deadline = time.monotonic() + 10
    while status(world, "--deploy-id", "d3") != 4:
        assert time.monotonic() < deadline
    assert "in_progress" in capsys.readouterr().out
    for job in jobs:
        job.result(timeout=30)
    assert status(world, "--deploy-id", "d3") == 2  # timed out, rolled back

    app2 = world.app(world.allowlist([default_entry(rollback=False)], name="norb.yaml"))
    world.send(deploy(f"{REPO}:5-fail", deploy_id="d4"), dedup="4")
    drain(app2)
    assert status(world, "--deploy-id", "d4") == 1
    assert "failed" in capsys.readouterr().out


def test_publish_wait_follows_the_deploy_to_its_end(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    world.service()
    world.simulator.rules = Rules(converge_seconds=1.5)
    app = world.app(poll_wait_seconds=1)
    app.start()
    code = main(
        [
            *world.publish_args(),
            "--container",
            "app",
            "--image",
            f"{REPO}:6.0",
            "--deploy-id",
            "waited",
            "--wait",
            "--interval",
            "0.2",
            "--timeout",
            "30",
        ]
    )
    lines = capsys.readouterr().out.splitlines()
    assert code == 0
    assert json.loads(lines[0])["deploy_id"] == "waited"
    states = [line.split(": ")[1] for line in lines[1:]]
    assert states[-1] == "succeeded"
    assert "in_progress" in states
    assert len(states) == len(lines[1:])  # one line per state change, no repeats
    # Waiting ends too when the service already runs the image (a re-resolved tag).
    code = main(
        [
            *world.publish_args(),
            "--container",
            "app",
            "--image",
            f"{REPO}:6.0",
            "--deploy-id",
            "again",
            "--wait",
            "--interval",
            "0.2",
            "--timeout",
            "30",
        ]
    )
    assert code == 0


def test_healthz_counts_waiting_for_a_free_slot_as_alive() -> None:
    from deployworker.observe.httpd import Health

    now = [0.0]
    health = Health(10, clock=lambda: now[0])
    now[0] = 5
    assert health.live() == (True, "ok")
    now[0] = 11  # never completed a first receive
    assert health.live()[0] is False
    health.polled()
    now[0] = 20
    health.waiting()  # every slot taken: no receive, but the loop is alive
    now[0] = 29
    assert health.live() == (True, "ok")
    now[0] = 31
    assert health.live() == (False, "no receive for 11s (window 10s)")


def test_readyz_is_ready_once_the_queue_answers_at_start_not_after_a_long_poll(
    world: World,
) -> None:
    app = world.app(poll_wait_seconds=20)
    app.start(serve_http=True)
    base = f"http://127.0.0.1:{app.http_port}"
    # The receiver is inside a 20 s long poll on an empty queue; the start's
    # GetQueueAttributes already answered.
    assert http_get(f"{base}/readyz") == (200, "ok\n")
    assert metric(app, "deployworker_poll_last_success_timestamp_seconds") == 0


def test_readyz_waits_for_the_events_queue_too(world: World) -> None:
    from deployworker.observe.httpd import Health

    health = Health(60, allowlist_loaded=lambda: True)
    health.expect("events queue")
    health.answered()
    assert health.ready() == (False, "events queue has not answered yet")
    health.answered("events queue")
    assert health.ready() == (True, "ok")
