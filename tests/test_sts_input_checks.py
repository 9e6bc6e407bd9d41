"""What STS AssumeRole would refuse is refused before any AssumeRole: an ExternalId
outside its character set when the allowlist loads, a session name under 2 characters
at start. STS AssumeRole (botocore's model): ExternalId min 2, max 1224, pattern
`[\\w+=,.@:\\/-]*`; RoleSessionName min 2, max 64, pattern `[\\w+=,.@-]*`. moto checks
neither, so without these checks the worker would start and fail at the first call."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from conftest import REPO, World, default_entry, deploy, drain
from deployworker.cli.main import main
from deployworker.errors import ConfigError
from test_accounts import ROLE, TARGET, TARGET_REGION, assumed_sessions
from workers import WorkerProcess


def allowlist(world: World, external_id: str) -> Path:
    path = world.tmp / "accounts.yaml"
    account = {"account_id": TARGET, "role_arn": ROLE, "external_id": external_id}
    document = {
        "version": 1,
        "accounts": {"prod": account},
        "services": [default_entry(), default_entry(account="prod", region=TARGET_REGION)],
    }
    path.write_text(yaml.safe_dump(document))
    return path


@pytest.mark.parametrize("external_id", ["has space", "prod#1", "prod-é", "x"])
def test_an_external_id_sts_would_refuse_is_refused_when_the_allowlist_loads(
    world: World, external_id: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = allowlist(world, external_id)

    assert main(["check-allowlist", str(path)]) != 0
    assert "external_id must be 2 to 1224 characters" in capsys.readouterr().err
    # The worker refuses the allowlist at load (fail closed): the message to that
    # account is never deployed and no AssumeRole is ever sent.
    world.service()
    app = world.app(path, session_name="bad-external-id")
    body = deploy(f"{REPO}:2.0", deploy_id="ext-1", account="prod", region=TARGET_REGION)
    world.send(body, group=f"{TARGET}/{TARGET_REGION}/prod/web")
    drain(app)
    assert assumed_sessions("bad-external-id") == []
    assert len(world.dead_letters()) == 1


@pytest.mark.parametrize("external_id", ["deployworker-prod", "a=b,c.d@e:f/g-h_i+j"])
def test_an_external_id_in_sts_character_set_loads(world: World, external_id: str) -> None:
    assert main(["check-allowlist", str(allowlist(world, external_id))]) == 0


def test_a_one_character_session_name_is_refused_at_start(world: World) -> None:
    world.service()
    worker = WorkerProcess(world, world.allowlist([default_entry()]), "short", session_name="x")
    try:
        assert worker.wait_exit(60) == 78  # a configuration error (sysexits EX_CONFIG)
    finally:
        worker.kill()
    assert "RoleSessionName is 2 to 64 characters" in worker.log_path.read_text()
    with pytest.raises(ConfigError):
        world.app(world.allowlist([default_entry()]), session_name="!")
