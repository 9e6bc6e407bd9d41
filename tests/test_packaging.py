"""The container image's install step, repeated without Docker: wheel → fresh venv →
run as an unprivileged user. Plus hadolint on the Dockerfile."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TOOLS = ROOT / ".venv-tools" / "bin"


def tool(name: str) -> str:
    found = shutil.which(name, path=f"{TOOLS}{os.pathsep}{os.environ.get('PATH', '')}")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is missing; `make tools` installs it")
        pytest.skip(f"{name} not installed (make tools)")
    return found


def test_dockerfile_passes_hadolint() -> None:
    result = subprocess.run(
        [tool("hadolint"), str(ROOT / "Dockerfile")], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""


def test_dockerfile_is_hardened() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert text.count("\nFROM ") + text.startswith("FROM ") >= 2  # multi-stage
    assert "USER 10001:10001" in text
    assert 'ENTRYPOINT ["deployworker"]' in text and 'CMD ["run"]' in text
    assert "STOPSIGNAL SIGTERM" in text and "EXPOSE 9102" in text
    assert "HEALTHCHECK" in text and "/healthz" in text and "curl" not in text
    assert "org.opencontainers.image.source" in text
    assert "--no-cache-dir -c /tmp/constraints.txt" in text and "[local]" in text
    final_stage = text.rsplit("\nFROM ", 1)[1]
    assert "gcc" not in final_stage and "build-essential" not in final_stage


def unprivileged() -> list[str]:
    """A command prefix that drops to nobody when we are root."""
    if os.geteuid() != 0:
        return []
    return ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"]


@pytest.fixture
def open_tmp() -> Iterator[Path]:
    """A temporary folder an unprivileged user can read (pytest's own is root-only)."""
    path = Path(tempfile.mkdtemp(prefix="deployworker-pkg-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_wheel_installs_and_runs_as_an_unprivileged_user(open_tmp: Path) -> None:
    tmp_path = open_tmp
    dist, venv = tmp_path / "dist", tmp_path / "venv"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--wheel-dir",
            str(dist),
            str(ROOT),
        ],
        check=True,
    )
    wheel = next(dist.glob("deployworker-*.whl"))
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [
            str(venv / "bin" / "pip"),
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-cache-dir",
            "-c",
            str(ROOT / "constraints.txt"),
            f"{wheel}[local]",
        ],
        check=True,
    )
    allowlist = tmp_path / "allowlist.yaml"
    shutil.copy(ROOT / "config" / "allowlist.yaml", allowlist)
    allowlist.chmod(0o644)
    bin_ = venv / "bin" / "deployworker"
    env = {
        "PATH": f"{venv / 'bin'}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "DEPLOYWORKER_METRICS_PORT": "0",
        "DEPLOYWORKER_LOCAL_CONVERGE_SECONDS": "1",
    }
    run = [*unprivileged(), str(bin_)]

    helped = subprocess.run(
        [*run, "--help"], capture_output=True, text=True, env=env, cwd=tmp_path, check=True
    )
    assert "check-allowlist" in helped.stdout
    checked = subprocess.run(
        [*run, "check-allowlist", str(allowlist)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr
    assert "ok, 2 service(s)" in checked.stdout

    process = subprocess.Popen(
        [*run, "local", "--port", "0", "--allowlist", str(allowlist)],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    try:
        assert process.stderr is not None
        deadline = time.monotonic() + 60
        finished = None
        while time.monotonic() < deadline:
            line = process.stderr.readline()
            if not line:
                break
            event = json.loads(line)
            if event["event"] == "deploy.finished":
                finished = event
                break
        assert finished is not None and finished["outcome"] == "deployed"
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 0
