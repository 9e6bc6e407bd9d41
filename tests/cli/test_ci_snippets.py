"""The CI snippets under docs/ci work verbatim: one `deployworker publish --wait`
command, signed, run against `deployworker local` with values no shell may reinterpret."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
CI = ROOT / "docs" / "ci"
SNIPPETS = ("github-actions.yml", "gitlab-ci.yml", "circleci.yml")
HOSTILE = '-o\'brien "x" $(touch pwned) `id` $HOME \\ ; | & *'


def publish_command(text: str) -> str:
    """The `deployworker publish` command, continuation lines joined."""
    match = re.search(r"deployworker publish \\\n(?:.*\\\n)*.*\n", text)
    assert match is not None
    return " ".join(line.strip().rstrip("\\").strip() for line in match.group(0).splitlines())


def test_every_snippet_runs_the_same_publish_command() -> None:
    shell = publish_command((CI / "publish.sh").read_text())
    assert "--wait" in shell
    for name in ("gitlab-ci.yml", "circleci.yml"):
        text = (CI / name).read_text()
        yaml.safe_load(text)  # valid YAML
        assert publish_command(text) == shell, name
    # Every value is one argument, `"--flag=$VALUE"`: no JSON or shell built from values.
    for flag in re.findall(r"\S*\$\w+\S*", shell):
        assert re.fullmatch(r'"--[a-z-]+=\$[A-Z_]+"', flag), flag
    for name in ("publish.sh", *SNIPPETS):
        text = (CI / name).read_text()
        assert "aws sns publish" not in text and "--message" not in text, name


def test_the_github_snippet_uses_the_action_with_its_inputs() -> None:
    github = yaml.safe_load((CI / "github-actions.yml").read_text())
    assert github["permissions"]["id-token"] == "write"  # OIDC, no long-lived keys
    steps = github["jobs"]["deploy"]["steps"]
    assert steps[0]["uses"].startswith("aws-actions/configure-aws-credentials@")
    deploy = next(s for s in steps if s.get("id") == "deploy")
    inputs = yaml.safe_load((ROOT / "action.yml").read_text())["inputs"]
    assert set(deploy["with"]) <= set(inputs)
    assert deploy["with"]["signing-key"] == "${{ secrets.DEPLOYWORKER_SIGNING_KEY }}"
    report = steps[-1]
    assert "${{" not in report["run"]  # outputs reach the shell through env only


def test_shell_snippet_publishes_signed_and_waits_for_the_deploy(tmp_path: Path) -> None:
    key = "ci-signing-key"
    env = {
        **os.environ,
        "DEPLOYWORKER_METRICS_PORT": "0",
        "DEPLOYWORKER_LOCAL_CONVERGE_SECONDS": "1",
        "DEPLOYWORKER_SIGNING_KEY": key,
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
            "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
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
            "ACTOR": HOSTILE,
            "DEPLOYWORKER_SIGNING_KEY": key,
        }
        published = subprocess.run(
            ["sh", str(CI / "publish.sh")],
            env=snippet_env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        assert published.returncode == 0, published.stdout + published.stderr
        assert "prod/web deploy build-42: succeeded" in published.stdout
        deadline = time.monotonic() + 60
        finished = None
        while finished is None and time.monotonic() < deadline:
            event = json.loads(local.stderr.readline())
            if event["event"] == "deploy.finished":
                finished = event
        assert finished is not None
        assert finished["deploy_id"] == "build-42"
        assert finished["outcome"] == "deployed"  # signed: the worker requires it
        assert finished["source"] == {"commit": "0123abc", "actor": HOSTILE}
        assert not (tmp_path / "pwned").exists()
    finally:
        local.send_signal(signal.SIGINT)
        assert local.wait(timeout=20) == 0
