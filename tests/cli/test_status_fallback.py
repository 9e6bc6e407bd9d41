"""`status` answers from the ledger when it knows the deploy, and from ECS (saying so)
only when it does not."""

from __future__ import annotations

import json

import pytest

from conftest import REGION, REPO, World, deploy, drain
from deployworker.cli.main import main


def status(world: World, deploy_id: str, *extra: str) -> int:
    where = ["--cluster", "prod", "--service", "web", "--deploy-id", deploy_id]
    return main(["status", *where, "--region", REGION, "--endpoint-url", world.endpoint, *extra])


def test_a_deploy_older_than_the_ledger_is_read_from_ecs_and_says_so(
    world: World, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    world.service()
    before = world.app()  # no ledger yet
    world.send(deploy(f"{REPO}:2.0", deploy_id="old"))
    drain(before)
    table = world.ledger()
    monkeypatch.setenv("DEPLOYWORKER_LEDGER_TABLE", table.table)
    capsys.readouterr()
    assert status(world, "old", "--output", "json") == 0
    out, err = capsys.readouterr()
    assert "the deploy ledger has no record of this deploy: reading ECS" in err
    assert json.loads(out)["from"] == "ecs"

    app = world.app(ledger_table=table.table)
    world.send(deploy(f"{REPO}:3.0", deploy_id="new"))
    drain(app)
    capsys.readouterr()

    assert status(world, "new", "--output", "json") == 0
    out, err = capsys.readouterr()
    document = json.loads(out)
    assert "note:" not in err
    assert (document["from"], document["state"], document["exit_code"]) == ("ledger", "deployed", 0)
    assert document["images"] == {"app": f"{REPO}:3.0"}
    assert document["durations"]["deploy_seconds"] > 0

    monkeypatch.delenv("DEPLOYWORKER_LEDGER_TABLE")
    assert status(world, "new") == 0
    assert "no deploy ledger is configured" in capsys.readouterr().err
