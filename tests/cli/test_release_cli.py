"""`publish --release` and `status --release` against the emulator."""

from __future__ import annotations

import json

import pytest

from conftest import REGION, REPO, World, drain
from deployworker.cli.main import main
from test_releases import Shop


def target(world: World) -> list[str]:
    return [
        "--queue-url",
        world.resources.queue_url,
        "--endpoint-url",
        world.endpoint,
        "--region",
        REGION,
    ]


def test_publish_release_then_status_shows_every_member(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    shop = Shop(world)
    allowlist = shop.allowlist()
    app = world.app(allowlist)
    publish = ["publish", *target(world), "--release", "shop", "--image", f"{REPO}:2.0"]
    assert main([*publish, "--deploy-id", "cli-1"]) == 0
    sent = json.loads(capsys.readouterr().out)
    assert sent["group_id"] == "release/shop"
    status = ["status", "--endpoint-url", world.endpoint, "--region", REGION]
    status += ["--release", "shop", "--deploy-id", "cli-1", "--allowlist", str(allowlist)]
    assert main(status) == 3  # pending: nothing registered yet

    drain(app)

    assert main(status) == 0
    assert len(world.revisions("prod-web")) == 2
    assert main([*status[:-4], "--deploy-id", "other", "--allowlist", str(allowlist)]) == 3


def test_publish_of_a_member_with_release_uses_the_release_group(world: World) -> None:
    shop = Shop(world)
    app = world.app(shop.allowlist())
    member = ["--cluster", "prod", "--service", "web", "--container", "app"]
    args = ["publish", *target(world), *member, "--image", f"{REPO}:4.0", "--release", "shop"]
    assert main(args) == 0

    drain(app)

    assert world.images(name="web") == {"app": f"{REPO}:4.0"}
    assert world.dead_letters() == []
