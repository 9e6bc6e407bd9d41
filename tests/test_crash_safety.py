"""Nothing lost, nothing doubled: SIGKILL at each step, SIGTERM hand-over, three replicas."""

from __future__ import annotations

import signal
from collections import defaultdict
from datetime import datetime
from itertools import pairwise

import pytest

from conftest import REPO, World, default_entry, deploy
from deployworker.deploy.plan import DEPLOY_ID_TAG
from deployworker.local.simulator import Rules
from workers import WorkerProcess, stop_all, wait_until


def tagged(world: World, deploy_id: str, family: str = "prod-web") -> list[str]:
    return [
        arn
        for arn in world.revisions(family)
        if world.task_definition(arn)[1].get(DEPLOY_ID_TAG) == deploy_id
    ]


@pytest.mark.parametrize("step", ["received", "registered", "updated", "watching", "converged"])
def test_sigkill_at_each_step_then_redelivery_finishes_the_same_deploy(
    world: World, step: str
) -> None:
    world.service()
    world.simulator.rules = Rules(converge_seconds=1.0)
    allowlist = world.allowlist([default_entry()])
    deploy_id = f"crash-{step}"
    world.send(deploy(f"{REPO}:2.0", deploy_id=deploy_id))

    first = WorkerProcess(world, allowlist, "first", failpoint=step)
    try:
        assert first.wait_exit(30) == -signal.SIGKILL
    finally:
        first.kill()
    second = WorkerProcess(world, allowlist, "second")
    try:
        second.wait_for_event("deploy.finished", timeout=40, deploy_id=deploy_id)
        wait_until(lambda: world.queue_depth() == 0, timeout=10)
    finally:
        stop_all([second])

    revisions = tagged(world, deploy_id)
    assert len(revisions) == 1
    assert world.describe()["taskDefinition"] == revisions[0]
    assert world.images()["app"] == f"{REPO}:2.0"
    assert world.dead_letters() == []
    finished = [e for w in (first, second) for e in w.events() if e["event"] == "deploy.finished"]
    assert [(e["deploy_id"], e["outcome"]) for e in finished] == [(deploy_id, "deployed")]
    if step in ("updated", "watching", "converged"):
        assert any(e["event"] == "deploy.resumed" for e in second.events())
    if step == "registered":
        assert any(e["event"] == "deploy.reused_revision" for e in second.events())


def test_sigterm_hands_messages_back_and_another_worker_resumes(world: World) -> None:
    world.service()
    world.simulator.rules = Rules(converge_seconds=6.0)
    allowlist = world.allowlist([default_entry()])
    message_id = world.send(deploy(f"{REPO}:2.0", deploy_id="handover"))
    first = WorkerProcess(world, allowlist, "first")
    try:
        first.wait_for_event("deploy.updated", deploy_id="handover")
        code, took = first.terminate()
    finally:
        first.kill()
    assert code == 0
    assert took < 10
    stopped = next(e for e in first.events() if e["event"] == "worker.stopped")
    assert stopped["released_message_ids"] == [message_id]
    assert not any(
        e["event"] == "deploy.finished" and e["outcome"] != "released" for e in first.events()
    )

    second = WorkerProcess(world, allowlist, "second")
    try:
        finished = second.wait_for_event("deploy.finished", deploy_id="handover", timeout=40)
        wait_until(lambda: world.queue_depth() == 0, timeout=10)
    finally:
        stop_all([second])
    assert finished["outcome"] == "deployed"
    assert any(e["event"] == "deploy.resumed" for e in second.events())
    assert len(tagged(world, "handover")) == 1
    assert len(world.revisions()) == 2


def test_three_replicas_apply_every_deploy_once_in_order_without_overlap(world: World) -> None:
    world.simulator.rules = Rules(converge_seconds=0.4)
    services = [f"svc{i}" for i in range(10)]
    for name in services:
        world.service(name=name)
    allowlist = world.allowlist([default_entry(service=name) for name in services])
    published: dict[str, list[str]] = defaultdict(list)
    counts = [5, 5, 4, 4, 2, 2, 2, 2, 2, 2]  # 30 messages; some services get several in a row
    sequence = 0
    for round_ in range(max(counts)):
        for name, count in zip(services, counts, strict=True):
            if round_ < count:
                sequence += 1
                deploy_id = f"{name}-{round_}"
                world.send(
                    deploy(f"{REPO}:{sequence}", service=name, deploy_id=deploy_id),
                    group=f"prod/{name}",
                    dedup=deploy_id,
                )
                published[name].append(deploy_id)
    # A long visibility: a worker stalled by a loaded CI machine must not see a message
    # redelivered to another replica (that is legal, and resumed, but logs it twice).
    workers = [
        WorkerProcess(world, allowlist, f"w{i}", max_in_flight="4", visibility_timeout="30")
        for i in range(3)
    ]
    try:
        wait_until(lambda: world.queue_depth() == 0, timeout=120, interval=0.5)
    finally:
        stop_all(workers)

    finished = [e for w in workers for e in w.events() if e["event"] == "deploy.finished"]
    superseded = [e for w in workers for e in w.events() if e["event"] == "deploy.superseded"]
    # Every message ends exactly once: deployed, or superseded by a newer one of its
    # service that was waiting in the same batch.
    ended = sorted([e["deploy_id"] for e in finished] + [e["deploy_id"] for e in superseded])
    assert ended == sorted(d for ids in published.values() for d in ids)
    assert {e["outcome"] for e in finished} == {"deployed"}
    assert (
        len({w.name for w in workers for e in w.events() if e["event"] == "deploy.finished"}) >= 2
    )
    accepted = {
        e["deploy_id"]: e for w in workers for e in w.events() if e["event"] == "deploy.accepted"
    }
    applied_ids = {e["deploy_id"] for e in finished}
    for name in services:
        family = f"prod-{name}"
        order = [
            world.task_definition(arn)[1].get(DEPLOY_ID_TAG) for arn in world.revisions(family)
        ]
        applied = [d for d in published[name] if d in applied_ids]
        assert order == [None, *applied]  # each applied once, in publish order
        assert applied[-1] == published[name][-1]  # the newest always runs
        spans = sorted(
            (
                datetime.fromisoformat(accepted[d]["timestamp"]),
                datetime.fromisoformat(
                    next(e["timestamp"] for e in finished if e["deploy_id"] == d)
                ),
            )
            for d in applied
        )
        for (_, end), (start, _) in pairwise(spans):
            assert start >= end, f"{name}: deploys overlapped"
