"""The CI snippets under docs/ci work verbatim: the real AWS CLI against `deployworker local`."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from deployworker.cli.publish import dedup_id_for

ROOT = Path(__file__).resolve().parents[2]
CI = ROOT / "docs" / "ci"
TOOLS_BIN = ROOT / ".venv-tools" / "bin"


def publish_command(text: str) -> str:
    """The `aws sns publish` command, continuation lines joined, indentation dropped."""
    match = re.search(r"aws sns publish \\\n(?:.*\\\n)*.*\n", text)
    assert match is not None
    return " ".join(line.strip().rstrip("\\").strip() for line in match.group(0).splitlines())


def test_every_snippet_runs_the_same_publish_command() -> None:
    shell = publish_command((CI / "publish.sh").read_text())
    for name in ("github-actions.yml", "gitlab-ci.yml"):
        text = (CI / name).read_text()
        yaml.safe_load(text)  # valid YAML
        assert publish_command(text) == shell, name
    github = yaml.safe_load((CI / "github-actions.yml").read_text())
    assert github["permissions"]["id-token"] == "write"  # OIDC, no long-lived keys
    steps = github["jobs"]["deploy"]["steps"]
    assert steps[0]["uses"].startswith("aws-actions/configure-aws-credentials@")
    assert "--wait" in steps[-1]["run"]


def test_snippets_deduplicate_per_service_as_publish_does() -> None:
    """The snippet's deduplication id is `deployworker publish`'s: unique per message group
    and deploy_id, so a pipeline deploying two services with one DEPLOY_ID sends both."""
    command = publish_command((CI / "publish.sh").read_text())
    match = re.search(r'--message-deduplication-id "(\$\(.*?\))" --message ', command)
    assert match is not None, "the deduplication id must be derived, not the bare DEPLOY_ID"
    ids = {}
    for service in ("web", "worker"):
        env = {"PATH": os.environ["PATH"], "CLUSTER": "prod", "SERVICE": service}
        got = subprocess.run(
            ["sh", "-c", f"printf %s {match.group(1)}"],
            env={**env, "DEPLOY_ID": "build-42"},
            capture_output=True,
            text=True,
            check=True,
        )
        ids[service] = got.stdout
    assert ids == {s: dedup_id_for(f"prod/{s}", "build-42") for s in ("web", "worker")}


def test_shell_snippet_publishes_a_deploy_that_converges(tmp_path: Path) -> None:
    aws = TOOLS_BIN / "aws"
    if not aws.exists():
        if os.environ.get("CI"):
            pytest.fail("the AWS CLI is missing; `make tools` installs it")
        pytest.skip("AWS CLI not installed (make tools)")
    env = {
        **os.environ,
        "DEPLOYWORKER_METRICS_PORT": "0",
        "DEPLOYWORKER_LOCAL_CONVERGE_SECONDS": "1",
    }
    local = subprocess.Popen(
        [sys.executable, "-m", "deployworker", "local", "--port", "0", "--no-sample"],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )
    try:
        assert local.stderr is not None
        ready = None
        while ready is None:
            line = local.stderr.readline()
            assert line, "deployworker local exited"
            event = json.loads(line)
            if event["event"] == "local.ready":
                ready = event
        snippet_env = {
            "PATH": f"{TOOLS_BIN}:{os.environ['PATH']}",
            "HOME": str(tmp_path),
            "AWS_ACCESS_KEY_ID": "ci",
            "AWS_SECRET_ACCESS_KEY": "ci",
            "AWS_DEFAULT_REGION": "eu-west-1",
            "AWS_ENDPOINT_URL": ready["endpoint_url"],
            "DEPLOY_TOPIC_ARN": ready["topic_arn"],
            "CLUSTER": "prod",
            "SERVICE": "web",
            "CONTAINER": "app",
            "IMAGE": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/web:ci-42",
            "DEPLOY_ID": "build-42",
            "COMMIT": "0123abc",
        }
        published = subprocess.run(
            ["sh", str(CI / "publish.sh")],
            env=snippet_env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert published.returncode == 0, published.stderr
        assert "MessageId" in published.stdout
        deadline = time.monotonic() + 60
        finished = None
        while finished is None and time.monotonic() < deadline:
            event = json.loads(local.stderr.readline())
            if event["event"] == "deploy.finished":
                finished = event
        assert finished is not None
        assert finished["deploy_id"] == "build-42"
        assert finished["outcome"] == "deployed"
        assert finished["source"] == {"commit": "0123abc", "actor": "ci"}
    finally:
        local.send_signal(signal.SIGINT)
        assert local.wait(timeout=20) == 0
