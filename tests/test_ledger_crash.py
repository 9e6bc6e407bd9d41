"""SIGKILL between a deploy's outcome and its ledger write: the redelivery writes it."""

from __future__ import annotations

import signal

from conftest import REPO, World, default_entry, deploy
from deployworker.deploy.plan import DEPLOY_ID_TAG
from deployworker.ledger import read
from deployworker.ledger.states import State
from workers import WorkerProcess, stop_all, wait_until


def test_sigkill_before_the_ledger_write_then_redelivery_records_the_outcome(
    world: World,
) -> None:
    world.service()
    table = world.ledger()
    allowlist = world.allowlist([default_entry()])
    world.send(deploy(f"{REPO}:2.0", deploy_id="crash-ledger"))

    first = WorkerProcess(
        world, allowlist, "first", failpoint="ledger_write", ledger_table=table.table
    )
    try:
        assert first.wait_exit(40) == -signal.SIGKILL
    finally:
        first.kill()
    entry = read.entry(table, "prod/web", "crash-ledger")
    assert entry is not None and not entry.final  # killed before the outcome was written
    deployments = world.ecs.list_service_deployments(cluster="prod", service="web")
    revisions = world.revisions()
    assert world.queue_depth() == 1

    second = WorkerProcess(world, allowlist, "second", ledger_table=table.table)
    try:
        second.wait_for_event("deploy.finished", timeout=40, deploy_id="crash-ledger")
        wait_until(lambda: world.queue_depth() == 0, timeout=10)
    finally:
        stop_all([second])

    entry = read.entry(table, "prod/web", "crash-ledger")
    assert entry is not None and entry.state == State.DEPLOYED
    assert entry.images == {"app": f"{REPO}:2.0"}
    # What the service ran before is the first copy's account: the redelivery, which finds
    # its own revision running, does not overwrite it.
    assert entry.images_before == {"app": f"{REPO}:1.0"}
    assert entry.deployment == world.describe()["currentServiceDeployment"]
    # The service is untouched by the redelivery: no new revision, no new deployment.
    assert world.revisions() == revisions
    again = world.ecs.list_service_deployments(cluster="prod", service="web")
    assert again["serviceDeployments"] == deployments["serviceDeployments"]
    tagged = [a for a in revisions if world.task_definition(a)[1].get(DEPLOY_ID_TAG)]
    assert world.describe()["taskDefinition"] == tagged[-1]
    assert world.dead_letters() == []
