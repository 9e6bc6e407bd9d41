"""The `deployworker` command: check-allowlist, publish, and local mode as a real process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import REPO, World, drain
from deployworker.cli.main import main
from deployworker.cli.publish import dedup_id_for


def test_check_allowlist_ok(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-allowlist", "config/allowlist.yaml"]) == 0
    assert "config/allowlist.yaml: ok, 2 service(s)" in capsys.readouterr().out


def test_check_allowlist_reports_line_and_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "version: 1\nservices:\n  - cluster: prod\n    service: web\n    containers: [app]\n    images: [web:1]\n"
    )
    assert main(["check-allowlist", str(path)]) == 1
    assert capsys.readouterr().err.strip() == (
        f"{path}:6: services[0].images: 'web:1' is not a repository (give it without a tag or digest)"
    )
    assert main(["check-allowlist", str(tmp_path / "missing.yaml")]) == 1


def test_iam_policy_grants_the_ecs_events_queue_only_when_named(
    capsys: pytest.CaptureFixture[str],
) -> None:
    queue = "arn:aws:sqs:eu-west-1:123456789012:deployworker-ecs-events"
    base = ["iam-policy", "--allowlist", "config/allowlist.yaml", "--region", "eu-west-1"]
    base += ["--account-id", "123456789012"]
    assert main([*base, "--ecs-events-queue-arn", queue]) == 0
    statements = json.loads(capsys.readouterr().out)["Statement"]
    on_queue = [s for s in statements if queue in s["Resource"]]
    assert on_queue == [
        {
            "Sid": "ConsumeEcsEvents",
            "Effect": "Allow",
            "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"],
            "Resource": [queue],
        }
    ]
    assert main(base) == 0
    without = json.loads(capsys.readouterr().out)["Statement"]
    assert "ConsumeEcsEvents" not in {s["Sid"] for s in without}
    assert not any(a.startswith("sqs:") for s in without for a in s["Action"])


def test_publish_to_a_queue_sets_group_and_dedup(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    world.service()
    args = [
        *world.publish_args(),
        "--container",
        "app",
        "--image",
        f"{REPO}:7.0",
        "--deploy-id",
        "build-7",
        "--commit",
        "abc123",
    ]
    assert main(args) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["deploy_id"] == "build-7" and printed["group_id"] == "prod/web"
    assert main(args) == 0  # same deploy_id: deduplicated by SQS
    got = world.sqs.receive_message(
        QueueUrl=world.resources.queue_url,
        MaxNumberOfMessages=10,
        MessageSystemAttributeNames=["All"],
    )["Messages"]
    assert len(got) == 1
    assert got[0]["Attributes"]["MessageGroupId"] == "prod/web"
    assert got[0]["Attributes"]["MessageDeduplicationId"] == dedup_id_for("prod/web", "build-7")
    assert json.loads(got[0]["Body"])["source"] == {"commit": "abc123"}


def test_one_deploy_id_for_two_services_publishes_two_messages(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """A pipeline deploying web and worker as `build-8`: deduplication must not merge them
    (SQS deduplicates queue-wide, SNS topic-wide unless scoped to the message group)."""
    common = ["--container", "app", "--image", f"{REPO}:8.0", "--deploy-id", "build-8"]
    assert main([*world.publish_args(), *common]) == 0
    worker = [*world.publish_args()[:-1], "worker", *common]
    assert main(worker) == 0
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [p["group_id"] for p in printed] == ["prod/web", "prod/worker"]
    got = world.sqs.receive_message(
        QueueUrl=world.resources.queue_url,
        MaxNumberOfMessages=10,
        MessageSystemAttributeNames=["All"],
    )["Messages"]
    assert sorted(json.loads(m["Body"])["service"] for m in got) == ["web", "worker"]
    assert {m["Attributes"]["MessageDeduplicationId"] for m in got} == {
        dedup_id_for("prod/web", "build-8"),
        dedup_id_for("prod/worker", "build-8"),
    }


def test_publish_names_the_deploy_id_it_generates_in_the_body(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*world.publish_args(), "--container", "app", "--image", f"{REPO}:9.0"]) == 0
    deploy_id = json.loads(capsys.readouterr().out)["deploy_id"]
    (got,) = world.sqs.receive_message(
        QueueUrl=world.resources.queue_url, MessageSystemAttributeNames=["All"]
    )["Messages"]
    assert json.loads(got["Body"])["deploy_id"] == deploy_id  # what the worker keys it by
    assert got["Attributes"]["MessageDeduplicationId"] == dedup_id_for("prod/web", deploy_id)


def test_publish_through_the_topic_deploys(world: World) -> None:
    world.service(containers=("app", "worker"))
    app = world.app()
    assert (
        main(
            [
                *world.publish_args("topic"),
                "--set",
                f"app={REPO}:8.0",
                "--set",
                f"worker={REPO}:8.0",
            ]
        )
        == 0
    )
    drain(app)
    assert world.images() == {"app": f"{REPO}:8.0", "worker": f"{REPO}:8.0"}


def test_publish_refuses_an_invalid_message_before_sending(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(
        [
            "publish",
            "--queue-url",
            "http://127.0.0.1:1/q.fifo",
            "--cluster",
            "prod",
            "--service",
            "web",
            "--container",
            "app",
            "--image",
            "web",
        ]
    )
    assert code == 64
    assert "has neither a tag nor a digest" in capsys.readouterr().err


def test_local_mode_converges_the_sample_and_exits_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "DEPLOYWORKER_METRICS_PORT": "0",
        "DEPLOYWORKER_LOCAL_CONVERGE_SECONDS": "1",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "deployworker", "local", "--port", "0"],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    events: list[dict[str, object]] = []
    try:
        assert process.stderr is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = process.stderr.readline()
            if not line:
                break
            events.append(json.loads(line))
            if events[-1]["event"] == "deploy.finished":
                break
        finished = events[-1]
        assert finished["event"] == "deploy.finished", events
        assert finished["outcome"] == "deployed"
        assert finished["deploy_id"] == "local-sample-1"
        assert float(str(finished["duration_seconds"])) < 10
        for event in events:
            assert "APP_MODE" not in json.dumps(event)  # no environment values in any line
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=15) == 0
    names = [e["event"] for e in events]
    for step in (
        "local.ready",
        "deploy.accepted",
        "deploy.registered",
        "deploy.updated",
        "deploy.converged",
    ):
        assert step in names
    assert all("deploy_id" in e for e in events if str(e["event"]).startswith("deploy."))


def test_python_m_help() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "deployworker", "--help"], capture_output=True, text=True, check=True
    )
    for command in ("run", "local", "publish", "check-allowlist"):
        assert command in out.stdout


def test_run_without_a_queue_is_a_clear_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DEPLOYWORKER_QUEUE_URL", raising=False)
    assert main(["run"]) == 78
    assert "DEPLOYWORKER_QUEUE_URL is not set" in capsys.readouterr().err
