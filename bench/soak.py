"""Soak run: 1,000 mixed messages with AWS faults injected, bounded in time.

Runs the real worker in-process against moto (with the rollout simulator) on
127.0.0.1, publishes a mix of valid deploys (some of which fail and roll back),
redeliveries of rolled-back deploys, deploy_ids reused by a service sharing the task
family, noops and hostile messages from tests/corpus, injects faults into a share of
ECS and SQS calls, and reports whether anything was lost or done twice.

An attacker plays along (`Attacker`): before some deploys it pre-stages a revision with
the deploy's predicted key, CI's image and an extra sidecar, with the tags of the
service's running revision copied onto it (key, previous and MAC: forged tags); and it
replays captured signed messages with new deduplication ids. None of it may change
what runs: the sidecar image is counted as a wrong image if a service ever runs it.

    python bench/soak.py [--messages 1000] [--seconds 120] [--fault-rate 0.2]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import resource
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from deployworker.app import build
from deployworker.aws.clients import make_client
from deployworker.aws.sqs import Message
from deployworker.deploy.plan import DEPLOY_KEY_TAG, deploy_key
from deployworker.intake.admit import Intake
from deployworker.intake.signing import SIGNATURE_ATTRIBUTE, queue_arn, sign
from deployworker.ledger import read
from deployworker.ledger.states import FINAL, State, state_of
from deployworker.local import use_fake_credentials
from deployworker.local.faults import FaultInjector
from deployworker.local.seed import container_definition, create_ledger, create_queues
from deployworker.observe.logs import configure_logging
from deployworker.outcome import Result
from deployworker.queue.ledgerwiring import RecordedEvents
from deployworker.queue.recording import describe
from deployworker.settings import Settings

REGION = "eu-west-1"
REPO = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/web"
CORPUS = Path(__file__).resolve().parent.parent / "tests" / "corpus"
# Services svc000..svc019 run in pairs on one task family (svc001 on svc000's, ...), as
# web and worker often do; deploy_id reuse is tried between partners.
SHARED = 20
SIGNING_KEY = b"soak-signing-key"
EVIL = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/miner:1"
ATTACKER_TAG = "soak:attacker"  # marks the attacker's revisions (left out of the counts)


class Attacker:
    """Registers pre-staged revisions with copied tags; picks messages to replay."""

    def __init__(self, ecs: Any, rng: random.Random, rate: float) -> None:
        self.ecs, self.rng, self.rate = ecs, rng, rate
        self.staged = 0
        self.failed = 0

    def prestage(self, body: str) -> None:
        """Before CI's message: CI's image plus a sidecar, the predicted key, and the
        running revision's deployworker tags copied on."""
        if self.rng.random() >= self.rate:
            return
        message = json.loads(body)
        name, deploy_id = message["service"], message["deploy_id"]
        try:
            family = family_of(int(name[3:]))
            running = self.ecs.describe_task_definition(taskDefinition=family, include=["TAGS"])
            copied = [t for t in running.get("tags", []) if t["key"].startswith("deployworker:")]
            tags = {t["key"]: t["value"] for t in copied}
            tags[DEPLOY_KEY_TAG] = deploy_key("soak", name, deploy_id)
            tags[ATTACKER_TAG] = "1"
            self.ecs.register_task_definition(
                family=family,
                containerDefinitions=[
                    container_definition("app", message["image"]),
                    {**container_definition("miner", EVIL), "essential": False},
                ],
                tags=[{"key": k, "value": v} for k, v in tags.items()],
            )
            self.staged += 1
        except Exception:  # moto busy: the attacker just tries less often
            self.failed += 1


def corpus_bodies() -> list[str]:
    bodies = []
    for path in sorted(CORPUS.glob("*.json")):
        case = json.loads(path.read_text())
        if "body" in case and "not in task definition" not in case["reason"]:
            bodies.append(case["body"])
    return bodies


def family_of(index: int) -> str:
    """The task family service `index` runs: its partner's for odd services below SHARED."""
    owner = index - 1 if index < SHARED and index % 2 else index
    return f"soak-svc{owner:03d}"


def seed_services(ecs: Any, count: int) -> list[str]:
    ecs.create_cluster(clusterName="soak")
    names = []
    first: dict[str, str] = {}
    for i in range(count):
        name = f"svc{i:03d}"
        family = family_of(i)
        if family not in first:
            first[family] = ecs.register_task_definition(
                family=family, containerDefinitions=[container_definition("app", f"{REPO}:0")]
            )["taskDefinition"]["taskDefinitionArn"]
        ecs.create_service(
            cluster="soak", serviceName=name, taskDefinition=first[family], desiredCount=2
        )
        names.append(name)
    return names


def partner(name: str) -> str | None:
    """The other service on `name`'s task family, if it shares one."""
    index = int(name[3:])
    if index >= SHARED:
        return None
    return f"svc{index ^ 1:03d}"


def tag_of(name: str, version: int) -> str:
    """The image tag of a service's version, naming the service: another service's image
    on it (a reused deploy_id resolved to the wrong revision) is then visible."""
    return f"{name}.{version}" if version else "0"


def deploy_body(name: str, tag: str, deploy_id: str) -> str:
    return json.dumps(
        {
            "cluster": "soak",
            "service": name,
            "container": "app",
            "image": f"{REPO}:{tag}",
            "deploy_id": deploy_id,
        }
    )


def plan_messages(total: int, services: list[str], rng: random.Random) -> list[dict[str, str]]:
    """(body, group, kind) for each message, in publish order."""
    bad = corpus_bodies()
    version: Counter[str] = Counter()
    last_id: dict[str, str] = {}
    reused: set[tuple[str, str]] = set()  # (service, deploy_id): one key, one image
    messages: list[dict[str, str]] = []
    replays: list[tuple[int, dict[str, str]]] = []  # (when, message)
    for i in range(total):
        if len(messages) >= total:
            break
        for due in [r for r in replays if r[0] <= len(messages)]:
            replays.remove(due)
            messages.append(due[1])
        roll = rng.random()
        name = rng.choice(services[:SHARED] if 0.25 <= roll < 0.30 else services)
        if roll < 0.25:
            messages.append({"body": rng.choice(bad), "group": f"soak/{name}", "kind": "bad"})
            continue
        other = partner(name)
        reusable = last_id.get(other or "")
        if roll < 0.30 and reusable is not None and (name, reusable) not in reused:
            # deploy_id reuse: the id the partner (same task family) deployed last
            reused.add((name, reusable))
            version[name] += 1
            body = deploy_body(name, tag_of(name, version[name]), reusable)
            messages.append({"body": body, "group": f"soak/{name}", "kind": "reuse"})
            continue
        if roll < 0.37:
            # the image string the service already runs (or will by then): without a provable
            # digest (local mode has none) it is re-resolved, a forced deployment, not a noop
            tag, deploy_id, kind = tag_of(name, version[name]), f"{name}-again-{i}", "repeat"
        else:
            version[name] += 1
            fail = rng.random() < 0.1
            tag = tag_of(name, version[name]) + ("-fail" if fail else "")
            if fail:
                version[name] -= 1  # the rollback returns the service to the previous tag
            deploy_id, kind = f"{name}-{i}", "fail" if fail else "deploy"
        last_id[name] = deploy_id
        body = deploy_body(name, tag, deploy_id)
        messages.append({"body": body, "group": f"soak/{name}", "kind": kind})
        if kind in ("deploy", "fail") and rng.random() < 0.05:
            # A captured message sent again later, signature and all, by the attacker.
            later = {"body": body, "group": f"soak/{name}", "kind": "replay"}
            replays.append((len(messages) + rng.randint(3, 30), later))
        if kind == "fail" and rng.random() < 0.5:
            # The same message again, next in its group: a redelivery after the rollback
            # (a lost DeleteMessage, SIGTERM during the rollback watch, a lapsed heartbeat).
            messages.append({"body": body, "group": f"soak/{name}", "kind": "redelivery"})
    return messages[:total]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--services", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=480)
    parser.add_argument("--fault-rate", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--backlog", type=int, default=150, help="most messages waiting at once")
    parser.add_argument(
        "--prestage-rate", type=float, default=0.1, help="share of deploys pre-staged"
    )
    parser.add_argument("--no-ledger", action="store_true", help="run without the deploy ledger")
    args = parser.parse_args()

    use_fake_credentials()
    configure_logging("error", sys.stderr)
    rng = random.Random(args.seed)
    # moto runs in its own process: sharing one interpreter (and its GIL) with a
    # worker of 64 threads would make the emulator, not the worker, the bottleneck.
    # "spawn": the child imports moto, the measured worker process does not.
    context = multiprocessing.get_context("spawn")
    endpoints: multiprocessing.Queue[str] = context.Queue()
    stop = context.Event()
    server = context.Process(target=serve_moto, args=(endpoints, stop), daemon=True)
    server.start()
    try:
        return run(args, endpoints.get(timeout=30), rng)
    finally:
        stop.set()
        server.join(timeout=10)


def serve_moto(endpoints: multiprocessing.Queue[str], stop: Any) -> None:
    """Child process: moto with the rollout simulator on a free loopback port."""
    from deployworker.local.environment import LocalAws
    from deployworker.local.simulator import Rules

    aws = LocalAws(0, Rules(converge_seconds=0.5))
    endpoints.put(aws.start())
    stop.wait()
    aws.stop()


def run(args: argparse.Namespace, endpoint: str, rng: random.Random) -> int:
    resources = create_queues(endpoint, REGION, max_receive_count=10)
    ecs = make_client("ecs", REGION, endpoint)
    sqs = make_client("sqs", REGION, endpoint)
    services = seed_services(ecs, args.services)
    allowlist = Path(os.environ.get("TMPDIR", "/tmp")) / f"soak-allowlist-{os.getpid()}.yaml"
    allowlist.write_text(
        json.dumps(
            {
                "version": 1,
                "services": [
                    {
                        "cluster": "soak",
                        "service": s,
                        "containers": ["app"],
                        "images": [REPO],
                        "timeout": "60s",
                    }
                    for s in services
                ],
            }
        )
    )
    settings = Settings(
        queue_url=resources.queue_url,
        region=REGION,
        endpoint_url=endpoint,
        allowlist_path=allowlist,
        max_in_flight=100,
        poll_wait_seconds=1,
        visibility_timeout=30,
        watch_interval_seconds=0.5,
        metrics_port=0,
        aws_attempts=8,
        signing_key=SIGNING_KEY.decode(),
        tag_key="soak-worker-only-tag-key",
        retry_backoff_seconds=1,
        # moto does not throttle; the budgets here only keep the soak inside its time box.
        register_rate=200,
        register_burst=200,
        update_rate=200,
        describe_rate=200,
        ledger_table=None if args.no_ledger else create_ledger(endpoint, REGION),
    )
    app = build(settings)
    injector = FaultInjector(args.fault_rate, seed=args.seed)
    injector.attach(app.ecs._client)
    injector.attach(app.sqs._client)
    ledger = app.events.recorder.writer.table if isinstance(app.events, RecordedEvents) else None
    if ledger is not None:
        injector.attach(ledger.client)
    intake = Intake(app.allowlist.current, REGION, "123456789012")
    # Each message's ledger record and the final state its outcome writes, in settle order.
    endings: dict[tuple[str, str], list[tuple[str, State]]] = {}
    settled: Counter[str] = Counter()
    outcomes: Counter[str] = Counter()
    published: dict[str, dict[str, str]] = {}
    lock = threading.Lock()

    by_kind: Counter[tuple[str, str]] = Counter()

    def record(message: Message, result: Result) -> None:
        with lock:
            if result.deletes:
                settled[message.message_id] += 1
            outcomes[result.outcome.value] += 1
            kind = published.get(message.message_id, {}).get("kind", "?")
            by_kind[(kind, result.outcome.value)] += 1
            state = state_of(result.outcome)
            if result.deletes and state in FINAL:
                known = describe(message, intake)
                key = (known.target, result.deploy_id or known.deploy_id)
                endings.setdefault(key, []).append((message.message_id, state))

    assert app.settler is not None
    app.settler.add_listener(record)

    plan = plan_messages(args.messages, services, rng)
    attacker = Attacker(ecs, random.Random(args.seed + 1), args.prestage_rate)
    destination = queue_arn(resources.queue_url, REGION)
    signatures: dict[str, str] = {}  # body -> the signature CI sent it with (captured)

    def signed(m: dict[str, str]) -> dict[str, Any]:
        if m["kind"] != "replay" or m["body"] not in signatures:
            signatures[m["body"]] = sign(
                m["body"], SIGNING_KEY, int(time.time()), m["group"], destination
            )
        value = signatures[m["body"]]
        return {SIGNATURE_ATTRIBUTE: {"DataType": "String", "StringValue": value}}

    started = time.monotonic()
    deadline = started + args.seconds
    app.start(serve_http=False)
    # CI publishes over time, not all at once; the producer also keeps the backlog
    # small because moto's FIFO ReceiveMessage slows down with queue depth
    # (about 0.8 s per call at 1,000 messages), which would measure moto, not the worker.
    sent = 0
    while time.monotonic() < deadline:
        with lock:
            done = len(settled)
        if sent < len(plan) and sent - done < args.backlog:
            batch = plan[sent : sent + 10]
            for m in batch:
                if m["kind"] in ("deploy", "fail", "repeat"):
                    attacker.prestage(m["body"])
            entries = [
                {
                    "Id": str(i),
                    "MessageBody": m["body"],
                    "MessageGroupId": m["group"],
                    "MessageDeduplicationId": f"soak-{sent + i}",
                    "MessageAttributes": signed(m),
                }
                for i, m in enumerate(batch)
            ]
            with lock:  # the worker may settle a message before this loop records it
                response = sqs.send_message_batch(QueueUrl=resources.queue_url, Entries=entries)
                for ok in response.get("Successful", []):
                    published[ok["MessageId"]] = batch[int(ok["Id"])]
            sent += len(batch)
            continue
        if sent >= len(plan) and done >= len(published):
            break
        time.sleep(0.1)
    elapsed = time.monotonic() - started
    app.shutdown()

    attrs = sqs.get_queue_attributes(QueueUrl=resources.queue_url, AttributeNames=["All"])[
        "Attributes"
    ]
    remaining = int(attrs["ApproximateNumberOfMessages"]) + int(
        attrs["ApproximateNumberOfMessagesNotVisible"]
    )
    dlq = int(
        sqs.get_queue_attributes(
            QueueUrl=resources.dlq_url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]["ApproximateNumberOfMessages"]
    )
    lost = len(published) - len(settled) - remaining
    twice = sum(1 for count in settled.values() if count > 1)
    # A deploy key (cluster, service, deploy_id) registered twice is a deploy done twice.
    revisions: Counter[str] = Counter()
    failing: set[str] = set()
    for task_family in sorted({family_of(i) for i in range(len(services))}):
        pages = ecs.get_paginator("list_task_definitions").paginate(familyPrefix=task_family)
        for arn in (a for page in pages for a in page["taskDefinitionArns"]):
            if arn.rsplit("/", 1)[-1].rsplit(":", 1)[0] != task_family:
                continue
            described = ecs.describe_task_definition(taskDefinition=arn, include=["TAGS"])
            tags = described.get("tags", [])
            if any(t["key"] == ATTACKER_TAG for t in tags):
                continue  # the attacker's own revision: counted by what services run
            revisions.update(t["value"] for t in tags if t["key"] == DEPLOY_KEY_TAG)
            if described["taskDefinition"]["containerDefinitions"][0]["image"].endswith("-fail"):
                failing.add(arn)
    # A failing revision rolled out more than once is a rolled-back deploy done again.
    rollouts: Counter[str] = Counter()
    for name in services:
        briefs = ecs.list_service_deployments(cluster="soak", service=name, maxResults=100)
        targets = [b["targetServiceRevisionArn"] for b in briefs["serviceDeployments"]]
        for start in range(0, len(targets), 20):
            found = ecs.describe_service_revisions(serviceRevisionArns=targets[start : start + 20])
            rollouts.update(
                r["taskDefinition"]
                for r in found["serviceRevisions"]
                if r["taskDefinition"] in failing
            )
    rolled_out_twice = sum(1 for count in rollouts.values() if count > 1)
    # A redelivery after a rollback must end rolled back again (or superseded by its
    # own copy); anything else means the failed revision was deployed again or lost.
    # A replayed message either finds its deploy (resumed, rolled back again), is refused
    # (it would downgrade), or deploys what was never deployed (its original superseded).
    replays_of_captured_wrong = sum(
        n
        for (kind, outcome), n in by_kind.items()
        if kind == "replay"
        and outcome
        not in ("deployed", "rolled_back", "rejected_not_allowed", "superseded", "retried", "noop")
    )
    replays_wrong = replays_of_captured_wrong + sum(
        n
        for (kind, outcome), n in by_kind.items()
        if kind == "redelivery" and outcome not in ("rolled_back", "superseded", "retried")
    )
    reuse_wrong = sum(
        n
        for (kind, outcome), n in by_kind.items()
        if kind == "reuse" and outcome not in ("deployed", "superseded", "retried")
    )
    duplicated = (
        twice
        + sum(1 for count in revisions.values() if count > 1)
        + replays_wrong
        + rolled_out_twice
    )
    kinds = Counter(m["kind"] for m in published.values())
    # Each service must end on an image deployed to it that did not fail (not always the
    # last: a failing deploy that supersedes a good one rolls back to the one before
    # both), never on another service's (a reused deploy_id resolved to its revision).
    allowed = {name: {f"{REPO}:0"} for name in services}
    for m in plan[:sent]:
        if m["kind"] in ("deploy", "reuse"):
            body = json.loads(m["body"])
            allowed[body["service"]].add(body["image"])
    wrong_image = 0
    for start in range(0, len(services), 10):
        chunk = services[start : start + 10]
        for svc in ecs.describe_services(cluster="soak", services=chunk)["services"]:
            td = ecs.describe_task_definition(taskDefinition=svc["taskDefinition"])
            images = [c["image"] for c in td["taskDefinition"]["containerDefinitions"]]
            # A second container is the attacker's sidecar: a pre-staged revision ran.
            wrong_image += images[0] not in allowed[svc["serviceName"]] or len(images) != 1

    ledger_wrong = ledger_checked = 0
    for (target, deploy_id), ends in endings.items():
        if ledger is None:
            break
        # The first outcome written is the record's; a message superseded by its own
        # redelivered copy leaves the record to that copy.
        written = [
            s for i, (_, s) in enumerate(ends) if s != State.SUPERSEDED or i == len(ends) - 1
        ]
        entry = read.entry(ledger, target, deploy_id)
        ledger_checked += 1
        if written == [State.SUPERSEDED] and entry is not None and not entry.final:
            continue  # superseded by its own copy, which the run's end handed back
        if entry is None or entry.state != written[0]:
            ledger_wrong += 1
            print(
                f"ledger: {target} {deploy_id}: {entry and entry.state} != {ends}", file=sys.stderr
            )
    in_flight = len(read.in_flight(ledger, limit=1000)) if ledger is not None else 0

    calls: Counter[str] = Counter()
    for family in app.metrics.registry.collect():
        if family.name == "deployworker_aws_requests":
            for sample in family.samples:
                if sample.name.endswith("_total"):
                    calls[f"{sample.labels['service']}:{sample.labels['operation']}"] += int(
                        sample.value
                    )
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    rows = [
        ("messages published", len(published)),
        (
            "  valid deploys / failing deploys / repeats / hostile",
            f"{kinds['deploy']} / {kinds['fail']} / {kinds['repeat']} / {kinds['bad']}",
        ),
        (
            "  redeliveries after a rollback / deploy_id reused by the family's other service",
            f"{kinds['redelivery']} / {kinds['reuse']}",
        ),
        ("received (settled with an outcome)", len(settled)),
        ("deployed", outcomes["deployed"]),
        ("noop", outcomes["noop"]),
        ("rolled back", outcomes["rolled_back"]),
        ("superseded (a newer deploy of its service ran)", outcomes["superseded"]),
        ("failed", outcomes["failed"]),
        ("rejected", outcomes["rejected_invalid"] + outcomes["rejected_not_allowed"]),
        ("retried (left for redelivery)", outcomes["retried"]),
        ("in the DLQ", dlq),
        ("still in the queue at the end", remaining),
        (
            "redeliveries: rolled back again / superseded / other (must be 0)",
            f"{by_kind[('redelivery', 'rolled_back')]} / "
            f"{by_kind[('redelivery', 'superseded')]} / {replays_wrong}",
        ),
        (
            "attack: revisions pre-staged with copied tags / replayed messages",
            f"{attacker.staged} / {kinds['replay']}",
        ),
        (
            "replays: deployed / refused (downgrade) / rolled back / other (must be 0)",
            f"{by_kind[('replay', 'deployed')]} / {by_kind[('replay', 'rejected_not_allowed')]}"
            f" / {by_kind[('replay', 'rolled_back')]} / {replays_of_captured_wrong}",
        ),
        (
            "reused deploy_ids: deployed / superseded / other (must be 0)",
            f"{by_kind[('reuse', 'deployed')]} / {by_kind[('reuse', 'superseded')]} / "
            f"{reuse_wrong}",
        ),
        ("services on an image not deployed to them (must be 0)", wrong_image),
        ("ledger records checked against their outcomes", ledger_checked),
        ("ledger records not equal to their outcome (must be 0)", ledger_wrong),
        ("ledger records still in flight at the end (at most those still queued)", in_flight),
        ("lost (must be 0)", lost),
        ("duplicated (must be 0)", duplicated),
        ("faults injected", f"{sum(injector.injected.values())} ({dict(injector.injected)})"),
        ("fault rate", args.fault_rate),
        ("wall time, s", f"{elapsed:.1f} (limit {args.seconds:.0f})"),
        ("peak RSS of the worker process, MB", f"{rss_mb:.0f}"),
    ]
    width = max(len(r[0]) for r in rows)
    print("\nsoak results")
    for label, value in rows:
        print(f"  {label:<{width}}  {value}")
    print("\nAPI attempts by operation (including injected faults)")
    for op, count in sorted(calls.items()):
        print(f"  {op:<{width}}  {count}")
    ok = lost == 0 and duplicated == 0 and reuse_wrong == 0 and wrong_image == 0
    ok = ok and ledger_wrong == 0 and in_flight <= remaining
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
