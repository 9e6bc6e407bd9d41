"""Gates end to end, through moto and the simulator: a PAUSE hook answered by analysis
(CONTINUE or ROLLBACK), a `converged` gate on a ROLLING service rolled back by the
worker, approval gates (approved, or left to their timeout), and `status` showing it
all. Most tests use a provider and a vote book the test controls; others run the real
ones: a Prometheus server scraping an exporter, CloudWatch alarms on moto, and votes
sent as `deployworker approve` sends them, verified with moto's STS."""

from __future__ import annotations

import contextlib
import json
import re
import shlex
import threading
import time
from collections.abc import Sequence
from typing import Any

import pytest
from botocore.credentials import Credentials

from conftest import REPO, World, default_entry, deploy, events_queue, metric, read_events, wait_for
from deployworker.app import App
from deployworker.aws.clients import make_client
from deployworker.cli.approve import send_vote, vote_body
from deployworker.cli.main import main
from deployworker.cli.status import DeployState, lookup
from deployworker.deploy.approvals.votes import Vote, approve_command
from deployworker.deploy.gates.drive import GateDriver
from deployworker.local.simulator import Rules
from deployworker.observe.logs import configure_logging
from deployworker.rollout.analysis.measure import Measurement, PrometheusQuery, Query
from gated import HOOK_STAGE, canary, canary_with_pause, pause_hook, web_service
from promserver import Exporter, PrometheusServer

MANAGERS = "arn:aws:iam::123456789012:role/release-managers"
ALICE = "arn:aws:sts::123456789012:assumed-role/release-managers/alice"
ERRORS = {"name": "error-ratio", "prometheus": "errors", "max": 0.01, "interval": "1s", "count": 3}


class Values:
    """A Prometheus stand-in: each query answers the value the test set for it."""

    def __init__(self, **values: float | None) -> None:
        self.values = values
        self.asked = 0

    def measure(self, query: Query) -> Measurement:
        assert isinstance(query, PrometheusQuery)
        self.asked += 1
        return Measurement(self.values.get(query.expr), time.time())


class Book:
    """A vote book the test writes to."""

    def __init__(self) -> None:
        self.cast: list[Vote] = []
        self.lock = threading.Lock()

    def votes(self, cluster: str, service: str, deploy_id: str) -> Sequence[Vote]:
        with self.lock:
            return list(self.cast)


def gates_of(app: App) -> GateDriver:
    """The gate driver of the worker's home pipeline."""
    return app.targets.home.gates


def ours(world: World) -> dict[str, Any]:
    """The newest service deployment of prod/web."""
    briefs = world.ecs.list_service_deployments(cluster="prod", service="web")["serviceDeployments"]
    found = world.ecs.describe_service_deployments(
        serviceDeploymentArns=[b["serviceDeploymentArn"] for b in briefs]
    )["serviceDeployments"]
    newest: dict[str, Any] = max(found, key=lambda d: d["createdAt"])
    return newest


def continued(app: App) -> list[str]:
    """The ContinueServiceDeployment actions the worker's ECS client sent."""
    sent: list[str] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        sent.append(str(params.get("action")))

    app.ecs._client.meta.events.register(
        "provide-client-params.ecs.ContinueServiceDeployment", record
    )
    return sent


def run(world: World, app: App, deploy_id: str, image: str = f"{REPO}:2.0") -> None:
    world.send(deploy(image, deploy_id=deploy_id))
    for job in app.worker.poll(0):
        job.result(timeout=60)


def gated_app(world: World, gate: dict[str, Any], **settings: Any) -> tuple[App, str]:
    topic, url = events_queue(world)
    allowlist = world.allowlist([default_entry(gates=[gate])])
    return world.app(allowlist, events_topic_arn=topic, **settings), url


def status_line(world: World, deploy_id: str, capfd: pytest.CaptureFixture[str]) -> str:
    args = ["status", "--cluster", "prod", "--service", "web", "--deploy-id", deploy_id]
    main([*args, "--endpoint-url", world.endpoint, "--region", "eu-west-1"])
    out: str = capfd.readouterr().out
    return out


def test_healthy_metrics_at_the_hook_continue_it_and_the_deploy_is_deployed(
    world: World,
) -> None:
    world.simulator.rules = Rules(converge_seconds=0.6, minute_seconds=1.0)
    canary_with_pause(world.ecs)
    app, url = gated_app(world, {"at": HOOK_STAGE, "analysis": [ERRORS]})
    provider = Values(errors=0.001)
    gates_of(app).runner.provider = provider
    sent = continued(app)
    run(world, app, "healthy")
    assert metric(app, "deployworker_messages_total", outcome="deployed") == 1
    assert world.images()["app"] == f"{REPO}:2.0"
    deployment = ours(world)
    assert deployment["status"] == "SUCCESSFUL"
    assert not deployment.get("lifecycleHookDetails")  # answered: no hook is active
    assert sent == ["CONTINUE"]
    assert provider.asked == 3
    assert (
        metric(
            app,
            "deployworker_gate_evaluations_total",
            cluster="prod",
            service="web",
            result="passed",
        )
        == 1
    )
    app.events.stop()  # type: ignore[union-attr]
    kinds = [e["type"] for e in read_events(world, url)]
    assert kinds.index("gate_started") < kinds.index("gate_passed") < kinds.index("converged")


def test_a_bad_error_ratio_rolls_back_at_the_hook_with_the_values_in_the_reason(
    world: World, capfd: pytest.CaptureFixture[str]
) -> None:
    world.simulator.rules = Rules(converge_seconds=0.6, minute_seconds=1.0)
    before = canary_with_pause(world.ecs, action="CONTINUE")  # ECS's own timeout would continue
    app, url = gated_app(world, {"at": HOOK_STAGE, "analysis": [ERRORS]})
    gates_of(app).runner.provider = Values(errors=0.05)
    sent = continued(app)
    run(world, app, "bad-ratio")
    assert metric(app, "deployworker_messages_total", outcome="rolled_back") == 1
    assert world.describe()["taskDefinition"] == before
    assert ours(world)["status"] == "ROLLBACK_SUCCESSFUL"
    assert sent == ["ROLLBACK"]
    assert (
        metric(
            app,
            "deployworker_gate_evaluations_total",
            cluster="prod",
            service="web",
            result="failed",
        )
        == 1
    )
    app.events.stop()  # type: ignore[union-attr]
    events = read_events(world, url)
    [ended] = [e for e in events if e["type"] == "rolled_back"]
    assert "gate at POST_TEST_TRAFFIC_SHIFT failed" in ended["reason"]
    assert "metric error-ratio failed" in ended["reason"]
    assert "values 0.05" in ended["reason"]
    [failed] = [e for e in events if e["type"] == "gate_failed"]
    assert failed["gate"]["measurements"][0]["values"] == [0.05]
    line = status_line(world, "bad-ratio", capfd)
    assert "rolled_back: gate at POST_TEST_TRAFFIC_SHIFT failed: metric error-ratio" in line


def test_a_failing_converged_gate_on_a_rolling_service_is_rolled_back_by_the_worker(
    world: World, capfd: pytest.CaptureFixture[str]
) -> None:
    before = web_service(world.ecs)  # ROLLING, no hooks
    gate = {"at": "converged", "analysis": [{**ERRORS, "count": 3, "failure_limit": 1}]}
    app, url = gated_app(world, gate)
    provider = Values(errors=0.5)
    gates_of(app).runner.provider = provider
    world.send(deploy(f"{REPO}:2.0", deploy_id="verify"))
    jobs = app.worker.poll(0)
    # The rollout converged, but the deploy is not done while its gate runs.
    line = wait_for(
        lambda: (out := status_line(world, "verify", capfd)) and "analysis" in out and out
    )
    assert ours(world)["status"] == "SUCCESSFUL"
    assert re.search(r"in_progress: converged; gate: analysis error-ratio [12]/3 1 failed", line)
    for job in jobs:
        job.result(timeout=60)
    assert "rolled_back: the converged gate failed" in status_line(world, "verify", capfd)
    assert metric(app, "deployworker_messages_total", outcome="rolled_back") == 1
    assert world.describe()["taskDefinition"] == before
    briefs = world.ecs.list_service_deployments(cluster="prod", service="web")
    assert len(briefs["serviceDeployments"]) == 3  # create, ours, the restore
    app.events.stop()  # type: ignore[union-attr]
    [ended] = [e for e in read_events(world, url) if e["type"] == "rolled_back"]
    assert ended["reason"].startswith("gate at converged failed")
    assert "values 0.5" in ended["reason"]


def test_a_passing_converged_gate_deploys(world: World) -> None:
    web_service(world.ecs)
    app, _ = gated_app(world, {"at": "converged", "analysis": [{**ERRORS, "count": 2}]})
    gates_of(app).runner.provider = Values(errors=0.0)
    run(world, app, "verified")
    assert metric(app, "deployworker_messages_total", outcome="deployed") == 1
    assert world.images()["app"] == f"{REPO}:2.0"


class Held:
    """A provider whose measurements wait until the test lets them through."""

    def __init__(self) -> None:
        self.go = threading.Event()
        self.asked = threading.Event()

    def measure(self, query: Query) -> Measurement:
        self.asked.set()
        self.go.wait(30)
        return Measurement(0.0, time.time())


def test_a_forced_redeploy_is_not_succeeded_before_its_converged_gate_ends(world: World) -> None:
    # The first deploy's gate passed and says so on the revision; a forced redeploy
    # registers nothing, so its converged gate must be marked pending on that revision.
    web_service(world.ecs)
    app, _ = gated_app(world, {"at": "converged", "analysis": [{**ERRORS, "count": 1}]})
    gates_of(app).runner.provider = Values(errors=0.0)
    run(world, app, "first")
    held = Held()
    gates_of(app).runner.provider = held
    world.send({"cluster": "prod", "service": "web", "action": "redeploy", "deploy_id": "again"})
    jobs = app.worker.poll(0)
    assert held.asked.wait(30)  # converged; the gate is measuring
    assert ours(world)["status"] == "SUCCESSFUL"
    assert len(world.revisions()) == 2
    images = {"app": f"{REPO}:2.0"}
    for deploy_id, known in ((None, None), ("again", images)):
        status = lookup(app.ecs, "prod", "web", deploy_id, known)
        assert status.state == DeployState.IN_PROGRESS, status
    held.go.set()
    for job in jobs:
        job.result(timeout=60)
    assert metric(app, "deployworker_messages_total", outcome="deployed") == 2
    for deploy_id, known in ((None, None), ("again", images)):
        assert lookup(app.ecs, "prod", "web", deploy_id, known).state == DeployState.SUCCEEDED


def test_an_approval_gate_waits_for_a_listed_approver_then_continues(
    world: World, capfd: pytest.CaptureFixture[str]
) -> None:
    world.simulator.rules = Rules(converge_seconds=0.6, minute_seconds=1.0)
    canary_with_pause(world.ecs)
    gate = {"at": HOOK_STAGE, "approval": {"approvers": [MANAGERS], "timeout": "5m"}}
    app, url = gated_app(world, gate)
    book = Book()
    gates_of(app).runner.votes = book
    world.send(deploy(f"{REPO}:2.0", deploy_id="approve-me"))
    jobs = app.worker.poll(0)
    wait_for(
        lambda: metric(app, "deployworker_approvals_pending", cluster="prod", service="web") == 1
    )
    assert "awaiting 1 approval (release-managers) until" in status_line(world, "approve-me", capfd)
    with book.lock:
        book.cast.append(Vote("approve", ALICE, time.time()))
    gates_of(app).runner.wake("prod", "web", "approve-me")
    for job in jobs:
        job.result(timeout=60)
    assert metric(app, "deployworker_messages_total", outcome="deployed") == 1
    assert metric(app, "deployworker_approvals_pending", cluster="prod", service="web") == 0
    assert world.images()["app"] == f"{REPO}:2.0"
    app.events.stop()  # type: ignore[union-attr]
    events = read_events(world, url)
    [requested] = [e for e in events if e["type"] == "approval_requested"]
    where = ("--region", "eu-west-1", "--queue-url", world.resources.queue_url)
    command = approve_command("prod", "web", "approve-me", "approve", where)
    assert requested["gate"]["command"] == f"{command} --endpoint-url {world.endpoint}"
    assert requested["gate"]["approvers"] == [MANAGERS]
    [passed] = [e for e in events if e["type"] == "gate_passed"]
    assert passed["gate"]["approved_by"] == ["release-managers/alice"]  # kind role


def test_no_approval_before_the_timeout_takes_on_timeout(world: World) -> None:
    world.simulator.rules = Rules(converge_seconds=0.6, minute_seconds=1.0)
    before = canary_with_pause(world.ecs, action="CONTINUE")
    gate = {"at": HOOK_STAGE, "approval": {"approvers": [MANAGERS], "timeout": "2s"}}
    app, url = gated_app(world, gate)
    sent = continued(app)
    run(world, app, "nobody")
    assert sent == ["ROLLBACK"]
    assert metric(app, "deployworker_messages_total", outcome="rolled_back") == 1
    assert world.describe()["taskDefinition"] == before
    assert (
        metric(
            app,
            "deployworker_gate_evaluations_total",
            cluster="prod",
            service="web",
            result="timed_out",
        )
        == 1
    )
    app.events.stop()  # type: ignore[union-attr]
    events = read_events(world, url)
    [ended] = [e for e in events if e["type"] == "rolled_back"]
    assert "timed out" in ended["reason"] and MANAGERS in ended["reason"]
    [failed] = [e for e in events if e["type"] == "gate_failed"]
    assert failed["gate"]["result"] == "timed_out"
    assert failed["gate"]["approvers"] == [MANAGERS]
    assert failed["gate"]["deadline"] <= time.time()


def test_a_gate_at_a_stage_without_a_pause_hook_is_logged_and_the_deploy_goes_on(
    world: World, capfd: pytest.CaptureFixture[str]
) -> None:
    configure_logging("info")  # to this test's stderr (an earlier `main` may have moved it)
    web_service(world.ecs)
    app, _ = gated_app(world, {"at": HOOK_STAGE, "analysis": [ERRORS]})
    run(world, app, "no-hook")
    assert metric(app, "deployworker_messages_total", outcome="deployed") == 1
    lines = [json.loads(x) for x in capfd.readouterr().err.splitlines() if x.startswith("{")]
    [warned] = [x for x in lines if x["event"] == "gate.no_hook"]
    assert "no PAUSE lifecycle hook at POST_TEST_TRAFFIC_SHIFT" in warned["problem"]


def test_check_allowlist_describe_flags_gates_the_service_cannot_run(
    world: World, capfd: pytest.CaptureFixture[str]
) -> None:
    canary_with_pause(world.ecs, minutes=30)  # a PAUSE hook at POST_TEST_TRAFFIC_SHIFT, 30 min
    approval = {"approvers": [MANAGERS], "timeout": "1h"}
    gates = [
        {"at": HOOK_STAGE, "approval": approval},  # longer than its hook
        {"at": "POST_SCALE_UP", "analysis": [ERRORS]},  # no hook there
    ]
    path = world.allowlist([default_entry(gates=gates)])
    args = ["check-allowlist", str(path), "--describe", "--region", "eu-west-1"]
    assert main([*args, "--endpoint-url", world.endpoint]) == 1
    err = capfd.readouterr().err
    assert "prod/web: gate at POST_TEST_TRAFFIC_SHIFT may wait 1h, longer than" in err
    assert "prod/web: gate at POST_SCALE_UP: the service has no PAUSE lifecycle hook" in err
    fine = world.allowlist([default_entry(gates=[{"at": HOOK_STAGE, "analysis": [ERRORS]}])])
    assert main(["check-allowlist", str(fine), *args[2:], "--endpoint-url", world.endpoint]) == 0


def test_two_gates_the_canary_passes_and_the_next_step_is_rolled_back(world: World) -> None:
    world.simulator.rules = Rules(converge_seconds=0.6, minute_seconds=1.0)
    hooks = [
        pause_hook(stage, action="CONTINUE")
        for stage in (HOOK_STAGE, "PRE_PRODUCTION_TRAFFIC_SHIFT")
    ]
    before = web_service(world.ecs, canary(hooks))
    latency = {"name": "latency", "prometheus": "latency", "max": 0.5, "interval": "1s", "count": 2}
    gates = [
        {"at": HOOK_STAGE, "analysis": [ERRORS]},
        {"at": "PRE_PRODUCTION_TRAFFIC_SHIFT", "analysis": [latency]},
    ]
    topic, url = events_queue(world)
    app = world.app(world.allowlist([default_entry(gates=gates)]), events_topic_arn=topic)
    gates_of(app).runner.provider = Values(errors=0.0, latency=0.9)
    sent = continued(app)
    run(world, app, "two-gates")
    assert sent == ["CONTINUE", "ROLLBACK"]
    assert metric(app, "deployworker_messages_total", outcome="rolled_back") == 1
    assert world.describe()["taskDefinition"] == before
    app.events.stop()  # type: ignore[union-attr]
    events = read_events(world, url)
    ended = [(e["type"], e["gate"]["stage"]) for e in events if e["type"].startswith("gate_")]
    assert ended == [
        ("gate_started", HOOK_STAGE),
        ("gate_passed", HOOK_STAGE),
        ("gate_started", "PRE_PRODUCTION_TRAFFIC_SHIFT"),
        ("gate_failed", "PRE_PRODUCTION_TRAFFIC_SHIFT"),
    ]


def test_shutdown_during_a_converged_gate_hands_the_message_back_and_stops_the_gate(
    world: World,
) -> None:
    web_service(world.ecs)
    gate = {"at": "converged", "approval": {"approvers": [MANAGERS], "timeout": "5m"}}
    app, _ = gated_app(world, gate, shutdown_grace_seconds=0.5)
    world.send(deploy(f"{REPO}:2.0", deploy_id="held"))
    app.worker.start()
    wait_for(
        lambda: metric(app, "deployworker_approvals_pending", cluster="prod", service="web") == 1
    )
    world.apps.remove(app)
    released = app.shutdown()
    assert len(released) == 1
    assert gates_of(app).runner.running == 0  # the gate stopped with the hand-back
    assert metric(app, "deployworker_approvals_pending", cluster="prod", service="web") == 0
    assert world.queue_depth() == 1  # the message waits for the next worker


def test_the_rollback_action_is_not_gated(world: World) -> None:
    before = web_service(world.ecs)
    gate = {"at": "converged", "analysis": [{**ERRORS, "count": 1}]}
    app, _ = gated_app(world, gate)
    gates_of(app).runner.provider = Values(errors=0.0)
    run(world, app, "gated")
    assert (
        metric(
            app,
            "deployworker_gate_evaluations_total",
            cluster="prod",
            service="web",
            result="passed",
        )
        == 1
    )
    gates_of(app).runner.provider = Values(errors=0.9)  # would fail a gate
    world.send({"cluster": "prod", "service": "web", "action": "rollback", "deploy_id": "undo"})
    for job in app.worker.poll(0):
        job.result(timeout=60)
    assert metric(app, "deployworker_messages_total", outcome="deployed") == 2
    assert world.describe()["taskDefinition"] == before
    assert (
        metric(
            app,
            "deployworker_gate_evaluations_total",
            cluster="prod",
            service="web",
            result="failed",
        )
        == 0
    )


def assumed(world: World, role: str, name: str) -> Credentials:
    """An assumed-role session of `role` from moto's STS (the role is created)."""
    iam = make_client("iam", "eu-west-1", world.endpoint)
    trust = {"Version": "2012-10-17", "Statement": []}
    with contextlib.suppress(iam.exceptions.EntityAlreadyExistsException):
        iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust))
    sts = make_client("sts", "eu-west-1", world.endpoint)
    arn = f"arn:aws:iam::123456789012:role/{role}"
    c = sts.assume_role(RoleArn=arn, RoleSessionName=name)["Credentials"]
    return Credentials(c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])


def send_approval(world: World, credentials: Credentials, deploy_id: str) -> None:
    """What `deployworker approve` sends: the vote, with its caller proof."""
    queue = world.resources.queue_url
    body = vote_body(
        "approve",
        "prod",
        "web",
        deploy_id,
        "",
        credentials,
        "eu-west-1",
        world.endpoint,
        audience=queue,
    )
    send_vote(
        body,
        "prod",
        "web",
        topic_arn=None,
        queue_url=queue,
        region="eu-west-1",
        endpoint_url=world.endpoint,
    )


def test_a_listed_roles_approval_through_the_queue_continues_the_hook(world: World) -> None:
    world.simulator.rules = Rules(converge_seconds=0.6, minute_seconds=1.0)
    canary_with_pause(world.ecs, minutes=10, action="ROLLBACK")
    gate = {"at": HOOK_STAGE, "approval": {"approvers": [MANAGERS], "timeout": "5m"}}
    app, url = gated_app(world, gate)
    gates_of(app).runner._poll = 0.2  # the real vote book, read often
    sent = continued(app)
    world.send(deploy(f"{REPO}:2.0", deploy_id="voted"))
    app.worker.start()
    wait_for(
        lambda: metric(app, "deployworker_approvals_pending", cluster="prod", service="web") == 1
    )
    # An unlisted role's vote does not count (it goes to the DLQ); a listed one does.
    send_approval(world, assumed(world, "developers", "mallory"), "voted")
    [dead] = wait_for(world.dead_letters)
    assert "developers/mallory" in dead["MessageAttributes"]["deployworker.reason"]["StringValue"]
    assert metric(app, "deployworker_approvals_pending", cluster="prod", service="web") == 1
    send_approval(world, assumed(world, "release-managers", "alice"), "voted")
    wait_for(lambda: metric(app, "deployworker_messages_total", outcome="deployed") == 1, 60)
    assert sent == ["CONTINUE"]
    assert world.images()["app"] == f"{REPO}:2.0"
    app.events.stop()  # type: ignore[union-attr]
    [passed] = [e for e in read_events(world, url) if e["type"] == "gate_passed"]
    assert passed["gate"]["approved_by"] == ["release-managers/alice"]  # kind role


def test_the_command_approval_requested_shows_works_as_pasted_and_wakes_the_gate(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The gate looks at its votes only every 10 minutes on its own: the deploy ends in
    # time only because the recorded vote wakes it. The command is run exactly as the
    # event carries it (region, queue and endpoint included), with alice's session.
    world.simulator.rules = Rules(converge_seconds=0.6, minute_seconds=1.0)
    canary_with_pause(world.ecs, minutes=30, action="ROLLBACK")
    gate = {"at": HOOK_STAGE, "approval": {"approvers": [MANAGERS], "timeout": "20m"}}
    app, url = gated_app(world, gate)
    gates_of(app).runner._poll = 600.0
    sent = continued(app)
    world.send(deploy(f"{REPO}:2.0", deploy_id="pasted"))
    app.worker.start()
    seen: list[dict[str, Any]] = []

    def requested() -> list[dict[str, Any]]:
        seen.extend(read_events(world, url))
        return [e for e in seen if e["type"] == "approval_requested"]

    [event] = wait_for(requested)
    alice = assumed(world, "release-managers", "alice")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", alice.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", alice.secret_key)
    monkeypatch.setenv("AWS_SESSION_TOKEN", str(alice.token))
    words = shlex.split(event["gate"]["command"])
    assert words[:2] == ["deployworker", "approve"]
    assert main(words[1:]) == 0
    wait_for(lambda: metric(app, "deployworker_messages_total", outcome="deployed") == 1, 60)
    assert sent == ["CONTINUE"]
    assert world.images()["app"] == f"{REPO}:2.0"


def test_a_converged_gate_whose_alarm_goes_off_during_verification_rolls_back(
    world: World,
) -> None:
    before = web_service(world.ecs)  # ROLLING
    cloudwatch = make_client("cloudwatch", "eu-west-1", world.endpoint)
    cloudwatch.put_metric_alarm(
        AlarmName="web-5xx",
        MetricName="HTTPCode_Target_5XX_Count",
        Namespace="AWS/ApplicationELB",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=10,
        ComparisonOperator="GreaterThanThreshold",
    )
    cloudwatch.set_alarm_state(AlarmName="web-5xx", StateValue="OK", StateReason="quiet")
    alarms = {"name": "alarms", "cloudwatch_alarms": ["web-5xx"], "interval": "1s", "count": 4}
    app, url = gated_app(world, {"at": "converged", "analysis": [alarms]})
    world.send(deploy(f"{REPO}:2.0", deploy_id="alarmed"))
    jobs = app.worker.poll(0)
    wait_for(lambda: "alarms 1/4 ok" in str(world.task_definition(ours_revision(world))[1]))
    cloudwatch.set_alarm_state(AlarmName="web-5xx", StateValue="ALARM", StateReason="5xx")
    for job in jobs:
        job.result(timeout=60)
    assert metric(app, "deployworker_messages_total", outcome="rolled_back") == 1
    assert world.describe()["taskDefinition"] == before
    app.events.stop()  # type: ignore[union-attr]
    [ended] = [e for e in read_events(world, url) if e["type"] == "rolled_back"]
    assert ended["reason"].startswith("gate at converged failed: metric alarms failed")


def ours_revision(world: World) -> str:
    """The newest revision of prod-web (the deploy's)."""
    return world.revisions()[-1]


def test_a_real_prometheus_judges_the_canary_healthy_then_bad(
    world: World, prometheus: PrometheusServer, exporter: Exporter
) -> None:
    world.simulator.rules = Rules(converge_seconds=0.6, minute_seconds=1.0)
    before = canary_with_pause(world.ecs, action="CONTINUE")
    ratio = {**ERRORS, "prometheus": 'i14g_error_ratio{job="app"}'}
    topic, url = events_queue(world)
    allowlist = world.allowlist([default_entry(gates=[{"at": HOOK_STAGE, "analysis": [ratio]}])])
    app = world.app(allowlist, events_topic_arn=topic, prometheus_url=prometheus.url)
    sent = continued(app)
    exporter.set("i14g_error_ratio", 0.002)
    prometheus.wait_value('i14g_error_ratio{job="app"}', 0.002)
    run(world, app, "prom-healthy")
    assert metric(app, "deployworker_messages_total", outcome="deployed") == 1
    healthy = world.describe()["taskDefinition"]
    assert healthy != before
    exporter.set("i14g_error_ratio", 0.2)
    prometheus.wait_value('i14g_error_ratio{job="app"}', 0.2)
    run(world, app, "prom-bad", image=f"{REPO}:3.0")
    assert sent == ["CONTINUE", "ROLLBACK"]
    assert metric(app, "deployworker_messages_total", outcome="rolled_back") == 1
    assert world.describe()["taskDefinition"] == healthy
    app.events.stop()  # type: ignore[union-attr]
    [ended] = [e for e in read_events(world, url) if e["type"] == "rolled_back"]
    assert "metric error-ratio failed" in ended["reason"] and "values 0.2" in ended["reason"]
