"""The container image's install step, repeated without Docker: wheel → fresh venv →
run as an unprivileged user. Plus hadolint on the Dockerfile."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
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


def stages(text: str) -> dict[str, str]:
    """The Dockerfile's stages by name, each with its instructions."""
    found: dict[str, str] = {}
    for chunk in re.split(r"^FROM ", text, flags=re.MULTILINE)[1:]:
        first, _, body = chunk.partition("\n")
        found[first.split(" AS ")[-1].strip()] = first + "\n" + body
    return found


def test_dockerfile_is_hardened() -> None:
    text = (ROOT / "Dockerfile").read_text()
    built = stages(text)
    # The default target (the last stage) is production; local mode is its own target.
    assert list(built)[-1] == "production"
    assert {"base", "wheel", "venv", "venv-local", "runtime", "local"} <= set(built)
    # The base is pinned by digest; every other stage builds on it.
    froms = [body.split("\n", 1)[0].split(" AS ")[0] for body in built.values()]
    externals = [image for image in froms if image not in built]
    assert len(externals) == 1
    assert re.fullmatch(r"python:3\.11-slim-bookworm@sha256:[0-9a-f]{64}", externals[0])
    # Production: the wheel without extras, so no moto, no Flask; local mode adds them.
    production = built["production"] + built["venv"]
    assert "[local]" not in production and "moto" not in production
    assert "COPY --from=venv /opt/deployworker" in built["production"]
    assert "[local]" in built["venv-local"]
    assert "COPY --from=venv-local /opt/deployworker" in built["local"]
    assert "--no-cache-dir -c /tmp/constraints.txt" in built["venv"]
    for name in ("production", "local"):
        assert "USER 10001:10001" in built[name], name
        assert "gcc" not in built[name] and "build-essential" not in built[name]
    assert 'CMD ["run"]' in built["production"] and 'CMD ["local"]' in built["local"]
    runtime = built["runtime"]
    assert 'ENTRYPOINT ["deployworker"]' in runtime
    assert "STOPSIGNAL SIGTERM" in runtime and "EXPOSE 9102" in runtime
    assert "HEALTHCHECK" in runtime and "/healthz" in runtime and "curl" not in text
    # OCI labels come from build arguments, not placeholders.
    for label, arg in [
        ("version", "VERSION"),
        ("revision", "REVISION"),
        ("created", "CREATED"),
        ("source", "SOURCE"),
    ]:
        assert f"ARG {arg}=" in runtime
        assert f'org.opencontainers.image.{label}="${{{arg}}}"' in runtime
    assert "github.com/deployworker" not in text


def test_renovate_keeps_the_base_digest_current() -> None:
    config = json.loads((ROOT / "renovate.json").read_text())
    assert "docker:pinDigests" in config["extends"]
    assert "dockerfile" in config["enabledManagers"]
    python = next(r for r in config["packageRules"] if r.get("matchPackageNames") == ["python"])
    assert re.fullmatch(python["allowedVersions"].strip("/"), "3.11-slim-bookworm")
    assert not re.fullmatch(python["allowedVersions"].strip("/"), "3.12-slim-bookworm")


def venv_with(tmp_path: Path, wheel: Path, extra: str = "") -> Path:
    """A fresh virtualenv with `wheel` (and `extra`) installed at the pinned versions."""
    venv = tmp_path / "venv"
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
            f"{wheel}{extra}",
        ],
        check=True,
    )
    return venv


def test_build_makes_a_wheel_and_sdist_twine_accepts_and_the_wheel_runs(
    open_tmp: Path,
) -> None:
    dist = open_tmp / "dist"
    subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(dist), str(ROOT)],
        check=True,
        capture_output=True,
    )
    wheel = next(dist.glob("deployworker-*-py3-none-any.whl"))
    sdist = next(dist.glob("deployworker-*.tar.gz"))
    checked = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", str(wheel), str(sdist)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.count("PASSED") == 2
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata = archive.read(next(n for n in names if n.endswith("METADATA"))).decode()
    assert "deployworker/py.typed" in names
    assert not any(n.startswith(("tests/", "deployworker/tests")) for n in names)
    assert "Classifier: Typing :: Typed" in metadata
    assert "Project-URL: Changelog, " in metadata and "License-Expression: Apache-2.0" in metadata
    with tarfile.open(sdist) as archive:
        members = {m.name.split("/", 1)[1] for m in archive.getmembers() if "/" in m.name}
    assert {"CHANGELOG.md", "README.md", "pyproject.toml", "constraints.txt"} <= members
    # The production install: the wheel alone, no emulator.
    venv = venv_with(open_tmp, wheel)
    env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(open_tmp)}
    run = [*unprivileged(), str(venv / "bin" / "deployworker")]
    helped = subprocess.run(
        [*run, "--help"], capture_output=True, text=True, env=env, cwd=open_tmp, check=True
    )
    assert "check-allowlist" in helped.stdout and "iam-policy" in helped.stdout
    allowlist = open_tmp / "allowlist.yaml"
    shutil.copy(ROOT / "config" / "allowlist.yaml", allowlist)
    allowlist.chmod(0o644)
    checked = subprocess.run(
        [*run, "check-allowlist", str(allowlist)],
        capture_output=True,
        text=True,
        env=env,
        cwd=open_tmp,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr
    assert "ok, 2 service(s)" in checked.stdout
    for module in ("moto", "flask"):
        missing = subprocess.run(
            [str(venv / "bin" / "python"), "-c", f"import {module}"],
            capture_output=True,
            check=False,
        )
        assert missing.returncode != 0, module
    local = subprocess.run(
        [*run, "local"], capture_output=True, text=True, env=env, cwd=open_tmp, check=False
    )
    assert local.returncode == 78 and "needs the 'local' extra" in local.stderr


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
