"""Role chaining caps an assumed-role session at one hour: the worker runs as its ECS
task role, so a longer DEPLOYWORKER_ASSUME_ROLE_SECONDS is refused at start, with the
reason, before any message is taken (on AWS every AssumeRole would fail instead)."""

from __future__ import annotations

import pytest

from conftest import REPO, World, default_entry, deploy
from workers import WorkerProcess


@pytest.mark.parametrize("seconds", ["3601", "43200"])
def test_a_session_longer_than_role_chaining_allows_is_refused_at_start(
    world: World, seconds: str
) -> None:
    world.service()
    world.send(deploy(f"{REPO}:2.0", deploy_id="chained"))
    worker = WorkerProcess(
        world, world.allowlist([default_entry()]), "chained", assume_role_seconds=seconds
    )
    try:
        assert worker.wait_exit(60) == 78  # a configuration error (sysexits EX_CONFIG)
    finally:
        worker.kill()
    log = worker.log_path.read_text()
    assert f"DEPLOYWORKER_ASSUME_ROLE_SECONDS={seconds} is over 3600" in log
    assert "role chaining" in log
    assert world.queue_depth() == 1  # nothing was taken
    assert world.images() == {"app": f"{REPO}:1.0"}


def test_an_hour_long_session_starts(world: World) -> None:
    world.service()
    worker = WorkerProcess(
        world, world.allowlist([default_entry()]), "hour", assume_role_seconds="3600"
    )
    try:
        worker.wait_for_event("worker.started", timeout=60)
        assert worker.process.poll() is None
    finally:
        worker.kill()
