"""CI through the real CLI against `deployworker local`: `publish --wait`, `status` and
`history` read the worker's ledger and never print an ending it has not written."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from deployworker.ledger.states import State

SCRIPT = str(Path(sys.executable).parent / "deployworker")
REPO = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/web"
ALLOWLIST = Path(__file__).resolve().parents[2] / "config" / "allowlist.yaml"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def local_mode(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """`deployworker local` (with its sample deploy) as a process; the CLI's environment."""
    port = str(_free_port())
    env = {
        **os.environ,
        "DEPLOYWORKER_LOCAL_PORT": port,
        "DEPLOYWORKER_METRICS_PORT": "0",
        "DEPLOYWORKER_ALLOWLIST_PATH": str(ALLOWLIST),
        "DEPLOYWORKER_LOCAL_CONVERGE_SECONDS": "1",
        "DEPLOYWORKER_POLL_WAIT_SECONDS": "1",
    }
    log = (tmp_path_factory.mktemp("local") / "local.log").open("w+")
    process = subprocess.Popen([SCRIPT, "local"], stdout=log, stderr=log, text=True, env=env)
    try:
        deadline = time.monotonic() + 60
        while "local.sample_published" not in Path(log.name).read_text():
            assert process.poll() is None and time.monotonic() < deadline, Path(
                log.name
            ).read_text()
            time.sleep(0.2)
        yield {k: v for k, v in env.items() if not k.startswith("DEPLOYWORKER_ALLOWLIST")}
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def cli(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SCRIPT, *args], capture_output=True, text=True, env=env, timeout=timeout, check=False
    )


def publish(env: dict[str, str], image: str, *extra: str) -> subprocess.CompletedProcess[str]:
    where = ["--local", "--cluster", "prod", "--service", "web", "--container", "app"]
    return cli(env, "publish", *where, "--image", image, "--wait", "--interval", "0.5", *extra)


def states(out: str) -> list[str]:
    """The state of each progress line (`prod/web deploy X: <state>: ...`)."""
    known = {"pending", *(state.value for state in State)}
    found = [line.split(": ")[1] for line in out.splitlines() if line.startswith("prod/web deploy")]
    return [state for state in found if state in known]


def test_an_unlisted_image_ends_rejected_with_its_reason_in_seconds(
    local_mode: dict[str, str],
) -> None:
    started = time.monotonic()
    done = publish(local_mode, "evil.example.com/web:1")
    took = time.monotonic() - started
    assert done.returncode == 7, done.stderr
    assert states(done.stdout)[-1] == "rejected"
    assert "evil.example.com/web" in done.stdout.splitlines()[-1]  # the reason
    assert "failed" not in states(done.stdout)
    assert took < 10


def test_a_failing_rollout_is_only_pending_or_in_progress_until_rolled_back(
    local_mode: dict[str, str],
) -> None:
    done = publish(local_mode, f"{REPO}:2-fail")
    assert done.returncode == 2, done.stdout + done.stderr
    seen = states(done.stdout)
    assert seen[-1] == "rolled_back"
    assert set(seen[:-1]) <= {"pending", "in_progress"}, seen
    assert "Traceback" not in done.stderr


def test_the_same_image_published_twice_without_a_deploy_id_deploys_twice(
    local_mode: dict[str, str],
) -> None:
    first = publish(local_mode, f"{REPO}:3-fail", "--output", "json")
    second = publish(local_mode, f"{REPO}:3-fail", "--output", "json")
    documents = [json.loads(done.stdout) for done in (first, second)]
    assert [d["state"] for d in documents] == ["rolled_back", "rolled_back"]
    assert [d["exit_code"] for d in documents] == [2, 2] == [first.returncode, second.returncode]
    assert documents[0]["deploy_id"] != documents[1]["deploy_id"]
    # Each ran: each registered its own revision, neither replayed the other's ending.
    assert documents[0]["task_definition"] != documents[1]["task_definition"]
    assert documents[1]["durations"]["deploy_seconds"] > 0


def test_history_shows_the_sample_deploy_and_status_answers_from_the_ledger(
    local_mode: dict[str, str],
) -> None:
    deadline = time.monotonic() + 30
    while True:
        shown = cli(local_mode, "history", "--local", "--cluster", "prod", "--service", "web")
        assert shown.returncode == 0, shown.stderr
        if " local-sample-1 " in shown.stdout and " deployed " in shown.stdout:
            break
        assert time.monotonic() < deadline, shown.stdout
        time.sleep(0.5)
    line = next(x for x in shown.stdout.splitlines() if " local-sample-1 " in x)
    assert f"{REPO}:sample-1" in line and "deployworker-local" in line
    status = cli(
        local_mode, "status", "--local", "--cluster", "prod", "--service", "web",
        "--deploy-id", "local-sample-1",
    )  # fmt: skip
    assert status.returncode == 0
    assert status.stdout.startswith("prod/web deploy local-sample-1: deployed")
    assert "note:" not in status.stderr  # the ledger knew it


@pytest.mark.parametrize("missing", ["credentials", "region"])
def test_no_credentials_or_no_region_is_one_line_and_its_own_code(missing: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DEPLOYWORKER_"))}
    env.update(AWS_EC2_METADATA_DISABLED="true", AWS_CONFIG_FILE="/dev/null")
    env.update(AWS_SHARED_CREDENTIALS_FILE="/dev/null")
    if missing == "region":
        env.update(AWS_ACCESS_KEY_ID="AKIAEXAMPLE", AWS_SECRET_ACCESS_KEY="secret")
    else:
        env.update(AWS_REGION="eu-west-1")
    done = cli(env, "status", "--cluster", "prod", "--service", "web", "--deploy-id", "x")
    assert done.returncode == 9, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "Traceback" not in done.stderr and done.stderr.startswith("error: ")


def test_a_closed_pipe_exits_quietly(tmp_path: Path) -> None:
    args = [SCRIPT, "iam-policy", "--allowlist", str(ALLOWLIST), "--region", "eu-west-1"]
    args += ["--account-id", "123456789012"]
    shell = subprocess.run(
        f"{' '.join(args)} | head -c 1", shell=True, capture_output=True, text=True, check=False
    )
    assert shell.stdout == "{"
    assert shell.stderr == ""


def test_usage_errors_are_64_and_every_help_has_the_exit_codes() -> None:
    assert cli(dict(os.environ), "status", "--no-such-flag").returncode == 64
    for command in ("publish", "status", "history", "iam-policy", "run"):
        shown = cli(dict(os.environ), command, "--help")
        assert "exit codes:" in shown.stdout and " 78  configuration error" in shown.stdout
