"""A worker acts for a message only while SQS lets it hold that copy: copies are kept
apart by receipt handle, and a copy whose heartbeat SQS refuses stops acting at once,
leaving its redelivered copy to resume the deploy."""

from __future__ import annotations

import threading
from typing import Any

from conftest import REPO, World, deploy, metric, wait_for
from deployworker.app import App

WRITES = {"RegisterTaskDefinition", "UpdateService", "StopServiceDeployment", "RunTask"}


def ecs_writes(app: App) -> list[str]:
    """Every ECS write the worker's own client makes from now on, in order."""
    made: list[str] = []

    def record(model: Any, **_: Any) -> None:
        if model.name in WRITES:
            made.append(model.name)

    app.ecs._client.meta.events.register("before-call.ecs", record)
    return made


def refuse_extending(app: App, receipt_handle: str) -> list[str]:
    """SQS answers every ChangeMessageVisibilityBatch entry for `receipt_handle` with
    ReceiptHandleIsInvalid (sender's fault), as it does for a copy it has redelivered.
    moto honours old receipt handles, so the entry's failure is written into the reply."""
    client, refused = app.sqs._client, []
    sent: list[list[dict[str, Any]]] = []

    def remember(params: dict[str, Any], **_: Any) -> None:
        sent.append(list(params.get("Entries") or []))

    def refuse(parsed: dict[str, Any], **_: Any) -> None:
        for entry in sent.pop():
            if entry["ReceiptHandle"] == receipt_handle:
                ok = [s for s in parsed.get("Successful") or [] if s["Id"] != entry["Id"]]
                parsed["Successful"] = ok
                failure = {"Id": entry["Id"], "SenderFault": True, "Code": "ReceiptHandleIsInvalid"}
                parsed.setdefault("Failed", []).append({**failure, "Message": "injected"})
                refused.append(entry["Id"])

    client.meta.events.register("before-parameter-build.sqs.ChangeMessageVisibilityBatch", remember)
    client.meta.events.register("after-call.sqs.ChangeMessageVisibilityBatch", refuse)
    return refused


def park_heartbeat(app: App) -> threading.Event:
    """Hold the heartbeat's next ChangeMessageVisibilityBatch until the returned event is
    set; returns once the heartbeat waits there (no extension is then in flight)."""
    entered, release = threading.Event(), threading.Event()

    def park(**_: Any) -> None:
        if not release.is_set():
            entered.set()
            release.wait(30)

    app.sqs._client.meta.events.register_first("before-send.sqs.ChangeMessageVisibilityBatch", park)
    assert entered.wait(10), "the heartbeat made no call"
    return release


def in_progress(world: World) -> list[str]:
    briefs = world.ecs.list_service_deployments(cluster="prod", service="web")
    return [
        b["serviceDeploymentArn"]
        for b in briefs["serviceDeployments"]
        if b["status"] == "IN_PROGRESS"
    ]


def test_a_copy_sqs_will_not_extend_stops_acting_and_its_redelivery_resumes(
    world: World,
) -> None:
    world.service()
    # Only losing the first copy can end its deploy within the test's bounds.
    app = world.app(deploy_timeout_seconds=3600, heartbeat_seconds=0.1)
    writes = ecs_writes(app)
    world.send(deploy(f"{REPO}:2-hang", deploy_id="held-twice"))
    (first,) = app.worker.poll(0)
    (arn,) = wait_for(lambda: in_progress(world))
    ((first_receipt, message_id),) = app.heartbeat.tracked().items()

    # The first copy's visibility lapses and SQS delivers the message again, to this
    # same worker: both copies are held, each under its own receipt handle. The heartbeat
    # (every 0.1 s) would hide the first copy again before a busy machine's receive: it
    # is parked in its next call until the second copy is received.
    parked = park_heartbeat(app)
    world.sqs.change_message_visibility(
        QueueUrl=world.resources.queue_url, ReceiptHandle=first_receipt, VisibilityTimeout=0
    )
    (second,) = wait_for(lambda: app.worker.poll(0))
    parked.set()
    tracked = app.heartbeat.tracked()
    assert len(tracked) == 2 and set(tracked.values()) == {message_id}
    assert app.worker.in_flight == 2
    (second_receipt,) = set(tracked) - {first_receipt}

    # SQS no longer honours the first copy: its deploy ends without another write, is
    # not settled (the second copy is not deleted in its stead), and the second copy
    # resumes the same service deployment.
    refused = refuse_extending(app, first_receipt)
    first.result(timeout=60)
    assert refused
    wait_for(lambda: app.heartbeat.tracked() == {second_receipt: message_id})
    wait_for(lambda: app.watcher.watching == 1)
    assert app.worker.in_flight == 1
    assert world.queue_depth() == 1
    assert writes == ["RegisterTaskDefinition", "UpdateService"]

    # Someone rolls the hung deployment back: the second copy settles with its own handle.
    world.ecs.stop_service_deployment(serviceDeploymentArn=arn, stopType="ROLLBACK")
    second.result(timeout=60)
    assert metric(app, "deployworker_messages_total", outcome="rolled_back") == 1
    assert world.queue_depth() == 0
    assert world.dead_letters() == []
    assert writes == ["RegisterTaskDefinition", "UpdateService"]


def fail_extending(app: App) -> list[str]:
    """SQS answers every ChangeMessageVisibilityBatch entry with InternalError, not the
    sender's fault: the call succeeds, each entry in its `Failed` list."""
    failed: list[str] = []

    def fail(parsed: dict[str, Any], **_: Any) -> None:
        for ok in parsed.pop("Successful", None) or []:
            entry = {"Id": ok["Id"], "SenderFault": False, "Code": "InternalError"}
            parsed.setdefault("Failed", []).append({**entry, "Message": "injected"})
            failed.append(ok["Id"])

    app.sqs._client.meta.events.register("after-call.sqs.ChangeMessageVisibilityBatch", fail)
    return failed


def test_a_copy_whose_extensions_keep_failing_in_the_batch_stops_before_its_hold_lapses(
    world: World,
) -> None:
    """Each entry of the batch fails for SQS's own reason: the copy is held only until its
    receipt plus the visibility timeout, so it is given up before that, and the timeout
    rollback it would have made (StopServiceDeployment) is never made."""
    from conftest import default_entry

    world.service()
    entry = default_entry(timeout="4s")
    app = world.app(world.allowlist([entry]), visibility_timeout=5, heartbeat_seconds=0.5)
    writes = ecs_writes(app)
    failed = fail_extending(app)
    world.send(deploy(f"{REPO}:2-hang", deploy_id="lapsing"))
    (first,) = app.worker.poll(0)
    first.result(timeout=60)
    assert failed
    assert writes == ["RegisterTaskDefinition", "UpdateService"]
    assert metric(app, "deployworker_messages_total", outcome="rolled_back") == 0
    assert app.heartbeat.tracked() == {}


def test_a_copy_lost_during_its_migration_never_updates_the_service(world: World) -> None:
    """The heartbeat is refused while the migration runs: the worker stops waiting for it
    and makes no further write (no `migrated` tag, no UpdateService)."""
    from conftest import default_entry

    before = world.service()
    migrate = {"container": "app", "command": ["./manage.py", "migrate"], "timeout": "30s"}
    app = world.app(world.allowlist([default_entry(migrate=migrate)]))
    writes = ecs_writes(app)

    def lose(**_: Any) -> None:
        ((receipt, _id),) = app.heartbeat.tracked().items()
        refuse_extending(app, receipt)
        app.heartbeat.beat()  # SQS refuses this copy's extension now, mid-migration

    app.ecs._client.meta.events.register("after-call.ecs.RunTask", lose)
    world.send(deploy(f"{REPO}:2.0", deploy_id="migrating"))
    (first,) = app.worker.poll(0)
    first.result(timeout=60)
    assert writes == ["RegisterTaskDefinition", "RunTask"]
    assert world.describe()["taskDefinition"] == before
    _, tags = world.task_definition(world.revisions()[-1])
    assert "deployworker:migrated" not in tags
