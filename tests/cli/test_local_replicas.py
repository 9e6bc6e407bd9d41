"""Two replicas locally: `deployworker local`'s ready line names every setting a second
`deployworker run` needs to join it, and each replica hears ECS's events through a
queue of its own, so a deploy ends within seconds whichever replica took it. Both
write one ledger (so `status` tells CI the truth whichever replica deployed) and seal
their revisions under one tag key (so each trusts what the other registered)."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from deployworker.aws.clients import make_client
from deployworker.aws.ecs import register_input_shape
from deployworker.cli.publish import publish
from deployworker.deploy.plan import DEPLOY_KEY_TAG
from deployworker.deploy.trust import trusted

SCRIPT = str(Path(sys.executable).parent / "deployworker")
ENV = {
    **os.environ,
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "DEPLOYWORKER_METRICS_PORT": "0",
    "DEPLOYWORKER_LOCAL_CONVERGE_SECONDS": "1",
    "DEPLOYWORKER_EVENTS_SAFETY_NET_SECONDS": "300",  # only events end a deploy in seconds
    "DEPLOYWORKER_EVENTS_WAIT_SECONDS": "1",
}


def reader(process: subprocess.Popen[str], name: str, out: queue.Queue[Any]) -> None:
    assert process.stderr is not None
    for line in process.stderr:
        if line.startswith("{"):
            out.put((name, json.loads(line)))


def wait_for(out: queue.Queue[Any], seen: list[Any], test: Any, limit: float = 60) -> Any:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            item = out.get(timeout=0.5)
        except queue.Empty:
            continue
        seen.append(item)
        if test(*item):
            return item[1]
    raise AssertionError(f"not seen in {limit} s: {[e['event'] for _, e in seen][-20:]}")


def start_local(extra: dict[str, str]) -> subprocess.Popen[str]:
    """`deployworker local` with no sample, on a free port, `extra` in its environment."""
    return subprocess.Popen(
        [SCRIPT, "local", "--no-sample", "--port", "0"],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env={**ENV, **extra},
    )


def test_a_second_worker_joins_local_mode_from_its_ready_line() -> None:
    out: queue.Queue[Any] = queue.Queue()
    seen: list[Any] = []
    first = start_local({})
    second: subprocess.Popen[str] | None = None
    try:
        threading.Thread(target=reader, args=(first, "local", out), daemon=True).start()
        ready = wait_for(out, seen, lambda _, e: e["event"] == "local.ready")
        joined = ready["replica_settings"]
        for name in (
            "QUEUE_URL",
            "DLQ_URL",
            "ECS_EVENTS_TOPIC_ARN",
            "ENDPOINT_URL",
            "REGION",
            "LEDGER_TABLE",
            "TAG_KEY",
        ):
            assert joined[f"DEPLOYWORKER_{name}"], name
        assert Path(joined["DEPLOYWORKER_ALLOWLIST_PATH"]).is_file()
        assert "deployworker run" in ready["join_as_replica"]

        second = subprocess.Popen(
            [SCRIPT, "run"], stderr=subprocess.PIPE, text=True, env={**ENV, **joined}
        )
        threading.Thread(target=reader, args=(second, "replica", out), daemon=True).start()
        wait_for(
            out, seen, lambda n, e: n == "replica" and e["event"] == "events.replica_queue_opened"
        )
        endpoint, region = joined["DEPLOYWORKER_ENDPOINT_URL"], joined["DEPLOYWORKER_REGION"]
        sqs = make_client("sqs", region, endpoint)
        own = sqs.list_queues(QueueNamePrefix="deployworker-ecs-events")["QueueUrls"]
        assert len(own) == 2  # one queue per replica, both on the one topic

        targets = [("prod", "web", "app", "web"), ("staging", "api", "api", "api")]
        for cluster, service, container, repository in targets:
            publish(
                {
                    "cluster": cluster,
                    "service": service,
                    "container": container,
                    "image": f"123456789012.dkr.ecr.eu-west-1.amazonaws.com/{repository}:2.0",
                    "deploy_id": f"two-replicas-{service}",
                },
                topic_arn=joined["DEPLOYWORKER_DEPLOY_TOPIC_ARN"],
                queue_url=None,
                region=region,
                endpoint_url=endpoint,
            )
        finished = [
            wait_for(out, seen, lambda _, e: e["event"] == "deploy.finished") for _ in range(2)
        ]
        assert {f["outcome"] for f in finished} == {"deployed"}, finished
        assert max(float(f["duration_seconds"]) for f in finished) < 20, finished

        key = joined["DEPLOYWORKER_TAG_KEY"].encode()
        ecs = make_client("ecs", region, endpoint)
        for cluster, service, _, _ in targets:
            # CI's view, whichever replica deployed: the one ledger local mode made.
            shown = subprocess.run(
                [
                    SCRIPT,
                    "status",
                    "--cluster",
                    cluster,
                    "--service",
                    service,
                    "--deploy-id",
                    f"two-replicas-{service}",
                    "--endpoint-url",
                    endpoint,
                    "--region",
                    region,
                    "--ledger-table",
                    joined["DEPLOYWORKER_LEDGER_TABLE"],
                    "--output",
                    "json",
                ],
                check=False,
                capture_output=True,
                text=True,
                env=ENV,
                timeout=60,
            )
            assert shown.returncode == 0, shown.stdout + shown.stderr
            assert json.loads(shown.stdout)["state"] == "deployed", shown.stdout
            # Sealed under the key both replicas share: either one trusts the revision.
            running = ecs.describe_services(cluster=cluster, services=[service])["services"][0]
            found = ecs.describe_task_definition(
                taskDefinition=running["taskDefinition"], include=["TAGS"]
            )
            tags = {t["key"]: t["value"] for t in found["tags"]}
            sealed = trusted(key, found["taskDefinition"], tags, register_input_shape())
            assert sealed.get(DEPLOY_KEY_TAG) == tags[DEPLOY_KEY_TAG], tags
    finally:
        for process in (second, first):
            if process is not None and process.poll() is None:
                process.terminate()
                process.wait(timeout=20)


def ready_line(extra: dict[str, str]) -> tuple[dict[str, Any], list[Any]]:
    """`deployworker local`'s `local.ready` line with `extra` in its environment, and
    every line it logged until then."""
    out: queue.Queue[Any] = queue.Queue()
    seen: list[Any] = []
    process = start_local(extra)
    try:
        threading.Thread(target=reader, args=(process, "local", out), daemon=True).start()
        ready: dict[str, Any] = wait_for(out, seen, lambda _, e: e["event"] == "local.ready")
        return ready, seen
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def test_a_tag_key_the_user_gave_is_never_printed_and_an_empty_one_is_replaced() -> None:
    given = "a-tag-key-the-user-gave-" + "7" * 20
    ready, seen = ready_line({"DEPLOYWORKER_TAG_KEY": given})
    assert "DEPLOYWORKER_TAG_KEY" not in ready["replica_settings"]
    assert not [e["event"] for _, e in seen if given in json.dumps(e)]
    # An empty key (a secret never filled in) is no key: local mode makes one, and the
    # replica is told it, so both seal under the same strong key.
    ready, _ = ready_line({"DEPLOYWORKER_TAG_KEY": ""})
    made = ready["replica_settings"]["DEPLOYWORKER_TAG_KEY"]
    assert len(made) == 64 and int(made, 16) >= 0
