"""Mutable tags: the same tag string is a noop only when the running digest is proven
unchanged; otherwise a forced deployment re-resolves it. The decision table-driven and
with hypothesis, the behaviour end to end through ThreadedMotoServer."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import REPO, World, default_entry, deploy, drain, events_queue, metric, read_events
from deployworker.aws.clients import make_client
from deployworker.deploy.retag import unproven

A = "sha256:" + "a" * 64
B = "sha256:" + "b" * 64
TAG = f"{REPO}:staging"


def push(world: World, tag: str, marker: str) -> str:
    """Push an image to moto's ECR as `web:<tag>`; returns its digest."""
    ecr = make_client("ecr", "eu-west-1", world.endpoint)
    try:
        ecr.create_repository(repositoryName="web")
    except ecr.exceptions.RepositoryAlreadyExistsException:
        pass
    layer = {
        "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
        "size": 1,
        "digest": "sha256:" + marker.encode().hex().rjust(64, "1")[:64],
    }
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {**layer, "mediaType": "application/vnd.docker.container.image.v1+json"},
        "layers": [layer],  # moto derives the image digest from the layer digests
    }
    image = ecr.put_image(repositoryName="web", imageManifest=json.dumps(manifest), imageTag=tag)
    return str(image["image"]["imageId"]["imageDigest"])


@pytest.mark.parametrize(
    ("image", "registry", "running", "why"),
    [
        (TAG, A, [A, A], None),
        (f"{REPO}@{A}", None, [], None),
        (f"{REPO}:staging@{A}", None, [B], None),
        (TAG, B, [A, A], f"the tag points at {B}, running tasks report {A}"),
        (TAG, A, [A, B], f"the tag points at {A}, running tasks report {A}, {B}"),
        (TAG, A, [A, None], f"the tag points at {A}, running tasks report no digest, {A}"),
        (TAG, A, [], "no running task reports the digest it runs"),
        (TAG, None, [A], "the tag's current digest cannot be read"),
        ("registry.example.com/web:1", None, [A], "the tag's current digest cannot be read"),
    ],
    ids=[
        "same-digest",
        "digest-ref",
        "tag-and-digest-ref",
        "tag-moved",
        "tasks-disagree",
        "a-task-without-digest",
        "no-tasks",
        "unknown-digest",
        "not-ecr",
    ],
)
def test_the_noop_needs_proof(
    image: str, registry: str | None, running: list[str | None], why: str | None
) -> None:
    got = unproven({"app": image}, {"app": registry}, {"app": running})
    assert got == ({} if why is None else {"app": why})


digests = st.sampled_from([A, B, None])


@given(
    st.dictionaries(
        st.sampled_from(["app", "worker", "sidecar"]),
        st.tuples(st.booleans(), digests, st.lists(digests, max_size=4)),
        min_size=1,
    )
)
def test_property_noop_only_when_every_tag_matches_every_running_task(
    containers: dict[str, tuple[bool, str | None, list[str | None]]],
) -> None:
    images = {n: f"{REPO}@{A}" if pinned else TAG for n, (pinned, _, _) in containers.items()}
    registry = {n: now for n, (_, now, _) in containers.items()}
    running = {n: seen for n, (_, _, seen) in containers.items()}
    why = unproven(images, registry, running)
    for name, (pinned, now, seen) in containers.items():
        proven = pinned or (now is not None and bool(seen) and all(d == now for d in seen))
        assert (name not in why) == proven


def service_tasks(world: World, count: int = 2) -> None:
    """Tasks of the service's current revision, as ECS's scheduler would have started."""
    arn = world.describe()["taskDefinition"]
    for _ in range(count):
        world.ecs.run_task(
            cluster="prod", taskDefinition=arn, group="service:web", launchType="FARGATE"
        )


def terminal(world: World, url: str, deploy_id: str) -> dict[str, Any]:
    return next(
        e
        for e in read_events(world, url)
        if e["deploy_id"] == deploy_id and e["type"] not in ("received", "registered")
    )


def test_a_tag_whose_digest_is_unchanged_is_a_noop_and_a_moved_one_rolls_out(
    world: World,
) -> None:
    topic, url = events_queue(world)
    push(world, "staging", "one")
    before = world.service(image=TAG)
    service_tasks(world)
    app = world.app(events_topic_arn=topic)
    first = world.describe()["deployments"][0]["id"]
    world.send(deploy(TAG, deploy_id="same-bytes"), dedup="1")
    drain(app)
    assert metric(app, "deployworker_messages_total", outcome="noop") == 1
    assert world.describe()["deployments"][0]["id"] == first  # nothing started

    push(world, "staging", "two")  # someone pushed the tag again
    world.send(deploy(TAG, deploy_id="new-bytes"), dedup="2")
    drain(app)
    service = world.describe()
    assert service["taskDefinition"] == before  # the same revision...
    assert service["deployments"][0]["id"] != first  # ...deployed again, resolving the tag
    assert len(world.revisions()) == 1
    assert metric(app, "deployworker_messages_total", outcome="deployed") == 1
    assert app.events is not None
    app.events.stop()
    event = terminal(world, url, "new-bytes")
    assert event["outcome"] == "deployed"
    assert event["reason"].startswith("tag re-resolved (app: the tag points at sha256:")


@pytest.mark.parametrize(
    "image", [TAG, "registry.example.com/web:1"], ids=["no-running-tasks", "not-ecr"]
)
def test_a_tag_that_cannot_be_proven_unchanged_is_deployed_again(world: World, image: str) -> None:
    push(world, "staging", "one")
    world.service(image=image)
    app = world.app(world.allowlist([default_entry(images=[REPO, "registry.example.com/web"])]))
    first = world.describe()["deployments"][0]["id"]
    world.send(deploy(image, deploy_id="unproven"))
    drain(app)
    assert world.describe()["deployments"][0]["id"] != first
    assert len(world.revisions()) == 1
    assert metric(app, "deployworker_messages_total", outcome="deployed") == 1
    assert metric(app, "deployworker_messages_total", outcome="noop") == 0
