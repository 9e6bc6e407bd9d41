"""Concurrency, ordering, hot reload, shutdown and the HTTP endpoint of a running worker."""

from __future__ import annotations

import threading
import time

import pytest

from conftest import (
    REPO,
    HeldClock,
    World,
    default_entry,
    deploy,
    drain,
    http_get,
    metric,
    wait_for,
)
from deployworker.intake.admit import Intake
from deployworker.local.simulator import Rules

SERVICES = ("web", "api", "jobs")


def entry_for(name: str) -> dict[str, object]:
    return default_entry(service=name)


def test_services_deploy_concurrently_and_one_service_in_order(
    world: World, sim_clock: HeldClock
) -> None:
    world.simulator.rules = Rules(converge_seconds=1.5)
    for name in SERVICES:
        world.service(name=name)
    # Superseding off: this test is about order, so both web deploys must run.
    app = world.app(world.allowlist([entry_for(n) for n in SERVICES]), supersede=False)
    for name in SERVICES:
        world.send(deploy(f"{REPO}:2.0", service=name, deploy_id=f"{name}-2"), group=f"prod/{name}")
    world.send(deploy(f"{REPO}:3.0", deploy_id="web-3"), group="prod/web")

    updates: list[tuple[float, str]] = []

    def record(params: dict[str, object], **_: object) -> None:
        updates.append((time.monotonic(), str(params["service"])))

    app.ecs._client.meta.events.register("provide-client-params.ecs.UpdateService", record)
    running = threading.Thread(target=lambda: [app.worker.run_once() for _ in range(2)])
    running.start()
    # While the simulator's clock is held no rollout can converge: all three services
    # updated meanwhile, and nothing else, shows the three ran at once, however slow
    # the machine (a wall-clock bound on their spread would depend on its speed).
    wait_for(lambda: len(updates) >= 3)
    assert sorted(name for _, name in updates) == sorted(SERVICES)
    sim_clock.release()
    running.join(60)
    assert not running.is_alive()

    assert [name for _, name in updates].count("web") == 2
    # web's second deploy waited for its first to converge (1.5 s once released).
    web = [t for t, name in updates if name == "web"]
    assert web[1] - web[0] >= 1.5
    # The two web deploys applied in publish order.
    assert world.images(name="web")["app"] == f"{REPO}:3.0"
    web_revisions = world.revisions("prod-web")
    assert [
        world.task_definition(arn)[1].get("deployworker:deploy-id") for arn in web_revisions
    ] == [
        None,
        "web-2",
        "web-3",
    ]
    assert metric(app, "deployworker_messages_total", outcome="deployed") == 4


def test_allowlist_hot_reload_and_invalid_edit_keeps_last_good(world: World) -> None:
    world.service(name="web")
    path = world.allowlist([default_entry(containers=["worker"])])
    app = world.app(path)
    world.send(deploy(f"{REPO}:2.0", deploy_id="first"), dedup="1")
    drain(app)
    assert world.images()["app"] == f"{REPO}:1.0"  # app was not allowlisted yet

    world.allowlist([default_entry(containers=["app"])])
    world.send(deploy(f"{REPO}:3.0", deploy_id="second"), dedup="2")
    drain(app)
    assert world.images()["app"] == f"{REPO}:3.0"

    path.write_text("version: 1\nservices:\n  - cluster: prod\n    bogus: true\n")
    world.send(deploy(f"{REPO}:4.0", deploy_id="third"), dedup="3")
    drain(app)
    assert world.images()["app"] == f"{REPO}:4.0"  # the last good allowlist still applies
    assert metric(app, "deployworker_allowlist_reloads_total", result="error") == 1
    assert metric(app, "deployworker_allowlist_reloads_total", result="ok") == 2
    assert app.allowlist.last_error == (
        "line 3: services[0].service: is required; line 3: services[0].containers: is required; "
        "line 3: services[0].images: is required; line 4: services[0].bogus: is not a field here"
    )
    assert metric(app, "deployworker_allowlist_last_reload_successful") == 0
    assert metric(app, "deployworker_messages_total", outcome="rejected_not_allowed") == 1


def test_running_worker_serves_health_and_metrics_and_stops_cleanly(world: World) -> None:
    world.service()
    app = world.app(poll_wait_seconds=1)
    app.start()
    base = f"http://127.0.0.1:{app.http_port}"
    world.send(deploy(f"{REPO}:2.0", deploy_id="live"))
    deadline = time.monotonic() + 20
    while not metric(app, "deployworker_messages_total", outcome="deployed"):
        assert time.monotonic() < deadline, "the deploy did not finish"
        time.sleep(0.2)
    assert world.images()["app"] == f"{REPO}:2.0"
    assert http_get(f"{base}/healthz")[0] == 200
    assert http_get(f"{base}/readyz")[0] == 200
    status, text = http_get(f"{base}/metrics")
    assert status == 200
    assert 'deployworker_messages_total{outcome="deployed"} 1.0' in text
    assert "deployworker_deploys_in_flight 0.0" in text
    assert http_get(f"{base}/nope")[0] == 404
    started = time.monotonic()
    assert app.shutdown() == []
    assert time.monotonic() - started < 5


def test_shutdown_hands_in_flight_messages_back(world: World) -> None:
    world.service()
    world.simulator.rules = Rules(converge_seconds=60)
    app = world.app(poll_wait_seconds=1, shutdown_grace_seconds=2)
    app.start()
    message_id = world.send(deploy(f"{REPO}:2.0", deploy_id="interrupted"))
    wait_for(lambda: app.watcher.watching == 1)  # applied, and its deployment followed
    started = time.monotonic()
    app.shutdown()
    assert time.monotonic() - started < 5
    # The message is visible again at once, for another replica to resume.
    got = world.sqs.receive_message(QueueUrl=world.resources.queue_url, WaitTimeSeconds=1)
    assert [m["MessageId"] for m in got["Messages"]] == [message_id]
    assert metric(app, "deployworker_messages_total", outcome="released") == 1


def test_inline_allowlist_from_the_environment(world: World) -> None:
    import pytest
    import yaml

    from deployworker.errors import ConfigError

    world.service()
    inline = yaml.safe_dump({"version": 1, "services": [default_entry()]})
    app = world.app(world.tmp / "does-not-exist.yaml", allowlist_yaml=inline)
    world.send(deploy(f"{REPO}:2.0", deploy_id="inline"))
    drain(app)
    assert world.images()["app"] == f"{REPO}:2.0"
    assert metric(app, "deployworker_allowlist_entries") == 1
    with pytest.raises(ConfigError, match="DEPLOYWORKER_ALLOWLIST_YAML is invalid: line 1"):
        world.app(allowlist_yaml="version: 2\nservices: []\n")


def test_a_bug_before_the_deploy_starts_frees_the_slot_and_leaves_the_message_for_redelivery(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.service()
    app = world.app()

    def broken(self: Intake, message: object) -> None:
        raise RuntimeError("a bug in parsing")

    monkeypatch.setattr(Intake, "parse", broken)
    world.send(deploy(f"{REPO}:2.0", deploy_id="bug-1"))
    app.worker.poll(0)
    deadline = time.monotonic() + 10
    while app.worker.in_flight:
        assert time.monotonic() < deadline, "the message is stranded in flight"
        time.sleep(0.05)
    assert metric(app, "deployworker_messages_total", outcome="retried") == 1
    assert world.images()["app"] == f"{REPO}:1.0"


def test_a_bug_while_settling_frees_the_slot_and_the_group_goes_on(world: World) -> None:
    world.service()
    app = world.app(supersede=False)

    def broken(message: object, result: object) -> None:
        raise RuntimeError("a bug in a settle listener")

    assert app.settler is not None
    app.settler.add_listener(broken)
    world.send(deploy(f"{REPO}:2.0", deploy_id="s-1"), dedup="1")
    world.send(deploy(f"{REPO}:3.0", deploy_id="s-2"), dedup="2")
    app.start(serve_http=False)
    deadline = time.monotonic() + 20
    while world.images()["app"] != f"{REPO}:3.0" or app.worker.in_flight:
        assert time.monotonic() < deadline, "the group stopped after the first settle"
        time.sleep(0.1)
    assert metric(app, "deployworker_messages_total", outcome="deployed") == 2
