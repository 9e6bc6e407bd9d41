"""The GitHub Action (action.yml) run step by step against `deployworker local`: each
`run:` step under bash with its `env:` (inputs substituted as the runner does) and
GITHUB_OUTPUT in a temporary file, then the action's outputs read back from it."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
ACTION = yaml.safe_load((ROOT / "action.yml").read_text())
EXPRESSION = re.compile(r"\$\{\{\s*([^}]*?)\s*\}\}")
# Values no shell may reinterpret: quotes, expansions, a newline, a leading dash.
HOSTILE = '-o\'brien "x" $(touch pwned) `id` $HOME \\ ; | & > * ?\nsecond line'


def evaluate(text: str, context: dict[str, str]) -> str:
    """The runner's substitution of `${{ name }}` expressions (only names, here)."""
    return EXPRESSION.sub(lambda m: context[m.group(1)], text)


def parse_outputs(path: Path) -> dict[str, str]:
    """GITHUB_OUTPUT's `name<<DELIMITER` blocks (and plain `name=value` lines)."""
    found: dict[str, str] = {}
    lines = iter(path.read_text().split("\n"))
    for line in lines:
        if "<<" in line:
            name, delimiter = line.split("<<", 1)
            value = []
            for inner in lines:
                if inner == delimiter:
                    break
                value.append(inner)
            found[name] = "\n".join(value)
        elif "=" in line:
            name, value_ = line.split("=", 1)
            found[name] = value_
    return found


def run_action(inputs: dict[str, str], tmp_path: Path, github: dict[str, str]) -> dict[str, Any]:
    """Run every step; return the exit codes and the action's outputs."""
    context = {f"github.{k}": v for k, v in github.items()}
    for name, spec in ACTION["inputs"].items():
        default = evaluate(str(spec.get("default", "")), context)
        context[f"inputs.{name}"] = inputs.get(name, default)
    output_file = tmp_path / "github_output"
    output_file.touch()
    path_file = tmp_path / "github_path"
    path_file.touch()
    codes = []
    for step in ACTION["runs"]["steps"]:
        assert step["shell"] == "bash"
        # Nothing of the inputs is pasted into the script: it reads them from env only.
        assert "${{" not in step["run"]
        env = {
            "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
            "HOME": str(tmp_path),
            "GITHUB_OUTPUT": str(output_file),
            "GITHUB_PATH": str(path_file),
            "GITHUB_ACTION_PATH": str(ROOT),
            "RUNNER_TEMP": str(tmp_path),
            "AWS_ACCESS_KEY_ID": "ci",
            "AWS_SECRET_ACCESS_KEY": "ci",
            "AWS_REGION": "eu-west-1",
            **{k: evaluate(str(v), context) for k, v in step.get("env", {}).items()},
        }
        done = subprocess.run(
            ["bash", "-e", "-c", step["run"]],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        codes.append((done.returncode, done.stdout, done.stderr))
        if done.returncode:
            break
    steps = {"steps.deploy.outputs." + k: v for k, v in parse_outputs(output_file).items()}
    outputs = {
        name: EXPRESSION.sub(lambda m: steps.get(m.group(1), ""), spec["value"])
        for name, spec in ACTION["outputs"].items()
    }
    return {"codes": codes, "outputs": outputs}


@pytest.fixture
def local(tmp_path: Path) -> Iterator[Local]:
    """`deployworker local` requiring signed messages."""
    env = {
        **os.environ,
        "DEPLOYWORKER_METRICS_PORT": "0",
        "DEPLOYWORKER_LOCAL_CONVERGE_SECONDS": "1",
        "DEPLOYWORKER_SIGNING_KEY": "action-test-key",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "deployworker", "local", "--port", "0", "--no-sample"],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )
    try:
        yield Local(process)
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 0


class Local:
    """`deployworker local`'s ready event and its log events, read on a thread."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.ready = self.first(lambda e: e["event"] == "local.ready")

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.events.put(json.loads(line))

    def first(self, wanted: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        """The first log event that is `wanted`, within 60 seconds."""
        deadline = time.monotonic() + 60
        seen = []
        while (left := deadline - time.monotonic()) > 0:
            try:
                event = self.events.get(timeout=left)
            except queue.Empty:
                break
            if wanted(event):
                return event
            seen.append(event["event"])
        raise AssertionError(f"no such event within 60 s; saw {seen}")


def finished(local: Local, deploy_id: str) -> dict[str, Any]:
    return local.first(
        lambda e: e["event"] == "deploy.finished" and e.get("deploy_id") == deploy_id
    )


GITHUB = {
    "run_id": "4242",
    "run_attempt": "1",
    "sha": "0123abc",
    "server_url": "https://github.example",
    "repository": "acme/shop",
    "actor": "octocat",
}


def test_the_action_publishes_signed_waits_and_sets_its_outputs(
    local: Local, tmp_path: Path
) -> None:
    ready = local.ready
    image = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/web"
    inputs = {
        "cluster": "prod",
        "service": "web",
        "images": f"app={image}:v2\r\nworker={image}:v2\n\n",
        "topic-arn": ready["topic_arn"],
        "endpoint-url": ready["endpoint_url"],
        "region": "eu-west-1",
        "signing-key": "action-test-key",
        "timeout": "60",
        "install": "false",
        "actor": HOSTILE,
    }
    ran = run_action(inputs, tmp_path, GITHUB)
    assert [code for code, _, _ in ran["codes"]] == [0, 0], ran["codes"]
    event = finished(local, "gh-4242-1")
    # Signed (the worker requires it), both containers, every character as given.
    assert event["outcome"] == "deployed"
    assert event["source"] == {
        "commit": "0123abc",
        "url": "https://github.example/acme/shop/actions/runs/4242",
        "actor": HOSTILE,
    }
    assert not (tmp_path / "pwned").exists()
    outputs = ran["outputs"]
    assert outputs["deploy_id"] == "gh-4242-1"
    assert outputs["state"] == "succeeded"
    assert outputs["exit_code"] == "0"
    assert ":task-definition/" in outputs["task_definition"]


def test_an_unsigned_deploy_is_refused_and_the_action_fails(local: Local, tmp_path: Path) -> None:
    ready = local.ready
    inputs = {
        "cluster": "prod",
        "service": "web",
        "container": "app",
        "image": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/web:v3",
        "deploy-id": "unsigned-1",
        "topic-arn": ready["topic_arn"],
        "endpoint-url": ready["endpoint_url"],  # the region: AWS_REGION
        "wait": "false",
        "install": "false",
    }
    ran = run_action(inputs, tmp_path, GITHUB)
    assert [code for code, _, _ in ran["codes"]] == [0, 0], ran["codes"]
    assert ran["outputs"] == {
        "deploy_id": "unsigned-1",
        "state": "published",
        "task_definition": "",
        "exit_code": "0",
    }
    # The worker requires a signature: the message is refused and dead-lettered.
    event = local.first(lambda e: e["event"] == "message.dead_lettered")
    assert "signature" in event["reason"]
