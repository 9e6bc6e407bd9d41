"""Trust boundaries of releases: an attacker who may TagResource cannot end a release
early with a forged `deployworker:release-state`, and a release's revisions carry the
same sealed tags as a single service's, so a plain rollback from one still works.

End to end through ThreadedMotoServer, the simulator and real worker processes; each
test is named after the attack it stops (or the use it keeps working)."""

from __future__ import annotations

import signal

import pytest

from conftest import REGION, REPO, World, drain
from deployworker.cli.release import release_status
from deployworker.deploy.plan import MAC_TAG
from deployworker.deploy.release.slots import REASON_TAG, STATE_MAC_TAG, STATE_TAG, WAS_TAG
from deployworker.intake.allowlist import load_allowlist
from deployworker.local.simulator import Rules
from test_release_crash import tagged
from test_releases import Shop
from workers import WorkerProcess, stop_all, wait_until

TAG_KEY = "worker-only-tag-key"


def forge(world: World, arn: str, state: str, mac: str | None) -> None:
    """What anyone with TagResource can write on a release's revision."""
    tags = [{"key": STATE_TAG, "value": state}, {"key": REASON_TAG, "value": "-"}]
    if mac is not None:
        tags.append({"key": STATE_MAC_TAG, "value": mac})
    world.ecs.tag_resource(resourceArn=arn, tags=tags)


@pytest.mark.parametrize("state", ["deployed", "rolled_back"])
def test_a_forged_release_state_tag_does_not_end_a_release_early(world: World, state: str) -> None:
    shop = Shop(world)
    world.simulator.rules = Rules(converge_seconds=0.6)
    allowlist = shop.allowlist()
    shop.send(f"{REPO}:2.0", "shop-forged")
    # The first delivery registers the release's revisions, then dies before any
    # member moves; meanwhile an attacker marks the release as over on every one of
    # them (with a MAC-looking value, and the real MAC of another revision).
    first = WorkerProcess(world, allowlist, "first", failpoint="release.migrated", tag_key=TAG_KEY)
    try:
        assert first.wait_exit(60) == -signal.SIGKILL
    finally:
        first.kill()
    [web] = tagged(world, "prod-web", "shop-forged")
    [jobs] = tagged(world, "prod-jobs", "shop-forged")
    forge(world, web, state, "0" * 64)
    forge(world, jobs, state, None)
    release = load_allowlist(allowlist.read_text()).release("shop")
    assert release is not None
    # `status --release` does not believe it: without the key, a `deployed` that no
    # member agrees with is not one; with the key, the MAC does not hold.
    status = release_status(release, "shop-forged", REGION, world.endpoint)
    if state == "deployed":
        assert status.state == "in_progress"
    key = TAG_KEY.encode()
    assert release_status(release, "shop-forged", REGION, world.endpoint, key).state == (
        "in_progress"
    )

    second = WorkerProcess(world, allowlist, "second", tag_key=TAG_KEY)
    try:
        finished = second.wait_for_event("release.finished", timeout=60, deploy_id="shop-forged")
        wait_until(lambda: world.queue_depth() == 0, timeout=15)
    finally:
        stop_all([second])

    assert finished["outcome"] == "deployed"
    # Every member really runs the new revision: the release was not cut short.
    assert world.describe(name="web")["taskDefinition"] == web
    assert world.describe(name="worker")["taskDefinition"] == web
    assert shop.schedule_arn() == jobs
    assert shop.rule_arn() == jobs
    assert world.images(name="worker") == {"app": f"{REPO}:2.0"}
    assert world.dead_letters() == []
    assert any(e["event"] == "release.state_untrusted" for e in second.events())
    # The state the worker then recorded is sealed, and `status --release` reports it.
    tags = world.task_definition(web)[1]
    assert tags[STATE_TAG] == "deployed"
    assert tags[STATE_MAC_TAG] != "0" * 64
    assert release_status(release, "shop-forged", REGION, world.endpoint, key).state == "deployed"


def test_a_state_tag_copied_from_another_release_does_not_end_a_release(world: World) -> None:
    shop = Shop(world)
    allowlist = shop.allowlist()
    app = world.app(allowlist)
    shop.send(f"{REPO}:2.0", "shop-2")
    drain(app)
    sealed = world.task_definition(world.describe(name="web")["taskDefinition"])[1]
    assert sealed[STATE_TAG] == "deployed"
    release = load_allowlist(allowlist.read_text()).release("shop")
    assert release is not None
    # A second release registers its revisions and is refused before any member moves
    # (UpdateService denied once); the attacker copies the first release's real, sealed
    # state onto the second's revision before the message comes back.
    denied: list[str] = []

    def deny_once(params: dict[str, object], **_: object) -> None:
        if not denied:
            denied.append(str(params.get("service")))
            raise RuntimeError("the worker died here")

    hook = "before-parameter-build.ecs.UpdateService"
    app.ecs._client.meta.events.register(hook, deny_once)
    shop.send(f"{REPO}:3.0", "shop-3")
    drain(app)
    app.ecs._client.meta.events.unregister(hook, deny_once)
    # The crash above is all-or-nothing: it rolled back. Put the state back to absent
    # with a copy of the first release's sealed `deployed` and redeliver.
    [web3] = tagged(world, "prod-web", "shop-3")
    world.ecs.untag_resource(resourceArn=web3, tagKeys=[STATE_TAG, REASON_TAG, STATE_MAC_TAG])
    copied = [{"key": k, "value": sealed[k]} for k in (STATE_TAG, REASON_TAG, STATE_MAC_TAG)]
    world.ecs.tag_resource(resourceArn=web3, tags=copied)
    for jobs3 in tagged(world, "prod-jobs", "shop-3"):
        world.ecs.untag_resource(resourceArn=jobs3, tagKeys=[STATE_TAG, REASON_TAG, STATE_MAC_TAG])
    world.send(
        {"release": "shop", "image": f"{REPO}:3.0", "deploy_id": "shop-3"},
        group="release/shop",
        dedup="shop-3-again",
    )
    drain(app)

    assert world.describe(name="web")["taskDefinition"] == web3
    assert world.describe(name="worker")["taskDefinition"] == web3
    assert world.images(name="web") == {"app": f"{REPO}:3.0"}


def test_a_plain_rollback_of_one_member_after_a_release_works_with_a_tag_key(
    world: World,
) -> None:
    shop = Shop(world)
    app = world.app(shop.allowlist())  # with the worker's tag key (conftest)
    shop.send(f"{REPO}:2.0", "shop-2")
    drain(app)
    released = world.describe(name="web")["taskDefinition"]
    assert released != shop.web_arn
    assert MAC_TAG in world.task_definition(released)[1]

    rollback = {"cluster": "prod", "service": "web", "action": "rollback"}
    world.send(rollback, group="release/shop", dedup="back")  # a member: the release group
    drain(app)

    assert world.dead_letters() == []
    assert world.describe(name="web")["taskDefinition"] == shop.web_arn
    assert world.images(name="web") == {"app": f"{REPO}:1.0"}


def test_a_forged_release_was_tag_does_not_steer_a_release_rollback(world: World) -> None:
    shop = Shop(world)
    app = world.app(shop.allowlist())  # with the worker's tag key (conftest)
    shop.send(f"{REPO}:2.0", "shop-2")
    drain(app)
    released = world.describe(name="web")["taskDefinition"]
    # The attacker registers a revision of the same family with an image of their own
    # and points web's `release-was:` tag at it: the release's rollback would go there.
    running = world.ecs.describe_task_definition(taskDefinition=released)["taskDefinition"]
    evil = world.ecs.register_task_definition(
        family="prod-web",
        containerDefinitions=[{**running["containerDefinitions"][0], "image": f"{REPO}:evil"}],
    )["taskDefinition"]["taskDefinitionArn"]
    world.ecs.tag_resource(resourceArn=released, tags=[{"key": f"{WAS_TAG}web", "value": evil}])

    undo = {"release": "shop", "action": "rollback", "to_deploy_id": "shop-2", "deploy_id": "u-2"}
    world.send(undo, group="release/shop", dedup="u-2")
    drain(app)

    assert world.describe(name="web")["taskDefinition"] == shop.web_arn
    assert world.describe(name="worker")["taskDefinition"] == shop.web_arn
    assert world.images(name="web") == {"app": f"{REPO}:1.0"}
    assert shop.schedule_arn() == shop.jobs_arn
