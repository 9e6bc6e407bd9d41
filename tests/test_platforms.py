"""Both images build for linux/amd64 and linux/arm64: with no container engine here,
check what decides it, that the wheel and every pinned dependency of each target
(production: no extras; local: `[local]`) install from binary wheels on both platforms.

Networked to PyPI only (`pip download`); `make test` runs it in CI.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# manylinux tags the base image (Debian bookworm, glibc 2.36) accepts, newest first.
PLATFORMS = {
    "linux/amd64": ["manylinux_2_28_x86_64", "manylinux2014_x86_64", "manylinux_2_17_x86_64"],
    "linux/arm64": ["manylinux_2_28_aarch64", "manylinux2014_aarch64", "manylinux_2_17_aarch64"],
}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(dist), str(ROOT)],
        check=True,
    )
    return next(dist.glob("deployworker-*.whl"))


@pytest.mark.parametrize("extra", ["", "[local]"], ids=["production", "local"])
@pytest.mark.parametrize("platform", sorted(PLATFORMS))
def test_the_image_installs_from_wheels_on_both_platforms(
    platform: str, extra: str, wheel: Path, tmp_path: Path
) -> None:
    tags = [arg for tag in PLATFORMS[platform] for arg in ("--platform", tag)]
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--disable-pip-version-check",
            "--only-binary=:all:",
            *tags,
            "--python-version",
            "3.11",
            "--implementation",
            "cp",
            "--abi",
            "cp311",
            "-c",
            str(ROOT / "constraints.txt"),
            "-d",
            str(tmp_path),
            f"{wheel}{extra}",
        ],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PIP_NO_INPUT": "1"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    names = {p.name.split("-")[0].lower().replace("_", "-") for p in tmp_path.iterdir()}
    assert {"boto3", "botocore", "pydantic-core", "pyyaml", "structlog"} <= names
    assert ("moto" in names) == (extra == "[local]")
    assert ("flask" in names) == (extra == "[local]")
    # The compiled dependencies came as this platform's wheels.
    arch = "aarch64" if platform == "linux/arm64" else "x86_64"
    compiled = [p.name for p in tmp_path.iterdir() if "manylinux" in p.name]
    assert compiled and all(arch in name for name in compiled), compiled
