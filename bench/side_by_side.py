"""Side by side with fabfuel/ecs-deploy: the same rollouts on one emulator, counted at the server.

    python -m bench.side_by_side [--ecs-deploy /tmp/ecsdeploy-venv/bin/ecs]
                                 [--converge 30] [--sizes 1,10] [--json FILE]

Install ecs-deploy into a virtualenv of its own (it pins its own boto3), for example
`python3 -m venv /tmp/ecsdeploy-venv && /tmp/ecsdeploy-venv/bin/pip install ecs-deploy`;
without it this prints how and exits 0. Not part of `make test` or `make bench`.

Method. One process runs local mode's emulator (moto's server on 127.0.0.1 with the
rollout simulator and its EventBridge events), with a WSGI wrapper that counts every
request by operation; the harness's own requests carry a user-agent tag and are not
counted. Each service (cluster `bench`, desired count 0, so that ecs-deploy's task
check passes without tasks) rolls out in `--converge` seconds. For 1 and for 10
services at once, each tool deploys a new image to every service:

- ecs-deploy: one `ecs deploy bench svcN --image app IMAGE` process per service, all
  started together (as ten CI jobs would), with `AWS_ENDPOINT_URL` at the emulator;
  it polls every second (its default `--sleep-time`). Noticed: the process's exit.
- deployworker, with the events queue (its default in local mode) and without it
  (polling every 5 s): one `deployworker run` process; the harness puts one message
  per service on its queue. Noticed: the timestamp of its `deploy.finished` line.

Detection latency runs from the service deployment's `finishedAt` to the noticing.
Calls are those the server received from the tool between its first deploy and the
last noticing; "describes" are the reads it repeats while it waits (`WATCH_OPS`), per
service-minute from each deployment's `createdAt` to its noticing. CPU is user+system
time of the tool's processes (`wait4`): for deployworker also the part spent between
the first message and the last verdict (from /proc), since a daemon starts once; for
ecs-deploy, a process per deploy, all of it is the deploy's. RSS is each process's
peak after exec (VmHWM, sampled every 20 ms); for ten ecs-deploy processes both CPU
and RSS are summed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from deployworker.local import use_fake_credentials
from deployworker.local.environment import LocalAws
from deployworker.local.seed import container_definition, create_events_queue, create_queues
from deployworker.local.simulator import Rules

REGION, ACCOUNT, CLUSTER = "eu-west-1", "123456789012", "bench"
REPO = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/app"
HARNESS = "side-by-side-harness"  # in the harness's user agent: its calls are not counted
ECS_PREFIX = "AmazonEC2ContainerServiceV20141113."
# The reads a tool repeats while it waits (ecs-deploy: the first three; deployworker:
# one DescribeServices before it registers, then DescribeServiceDeployments).
WATCH_OPS = ("DescribeServices", "ListTasks", "DescribeTasks", "DescribeServiceDeployments")
Wsgi = Callable[[dict[str, Any], Any], Iterable[bytes]]


class Counting:
    """WSGI middleware: counts each request by its operation (`X-Amz-Target`)."""

    def __init__(self, app: Wsgi) -> None:
        self.app, self.calls, self.lock = app, Counter[str](), threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if HARNESS not in environ.get("HTTP_USER_AGENT", ""):
            target = environ.get("HTTP_X_AMZ_TARGET", "query")
            with self.lock:
                self.calls[target.replace(ECS_PREFIX, "ecs:").replace("AmazonSQS.", "sqs:")] += 1
        return self.app(environ, start_response)

    def take(self) -> Counter[str]:
        with self.lock:
            out, self.calls = self.calls, Counter()
        return out


def client(service: str, endpoint: str) -> Any:
    return boto3.client(  # type: ignore[call-overload]
        service, region_name=REGION, endpoint_url=endpoint, config=Config(user_agent_extra=HARNESS)
    )


def seed(endpoint: str, names: list[str]) -> None:
    ecs = client("ecs", endpoint)
    ecs.create_cluster(clusterName=CLUSTER)
    for name in names:
        td = ecs.register_task_definition(
            family=f"{CLUSTER}-{name}",
            containerDefinitions=[container_definition("app", f"{REPO}:v0")],
        )["taskDefinition"]["taskDefinitionArn"]
        ecs.create_service(cluster=CLUSTER, serviceName=name, taskDefinition=td, desiredCount=0)


def finished(endpoint: str, name: str) -> tuple[float, float]:
    """(createdAt, finishedAt) of the service's newest service deployment, epoch seconds."""
    ecs = client("ecs", endpoint)
    found = ecs.list_service_deployments(cluster=CLUSTER, service=name)["serviceDeployments"]
    newest = max(found, key=lambda d: d["createdAt"])
    (sd,) = ecs.describe_service_deployments(
        serviceDeploymentArns=[newest["serviceDeploymentArn"]]
    )["serviceDeployments"]
    return sd["createdAt"].timestamp(), sd["finishedAt"].timestamp()


def peak_rss_mb(pid: int) -> float | None:
    """The process's peak RSS since it exec'd (VmHWM); None once it is gone. (wait4's
    ru_maxrss would count the harness's own memory, which the forked child shares
    until it execs.)"""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    kb = next((line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")), "0")
    return int(kb) / 1024


def cpu_s(pid: int) -> float:
    """User + system CPU seconds the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def reap(proc: subprocess.Popen[bytes], out: dict[str, Any]) -> None:
    """Wait for `proc` (its exit is noticed at once), sampling its peak RSS meanwhile;
    fills `out` with its exit time, CPU and peak RSS."""
    peaks = [0.0]

    def sample() -> None:
        while (seen := peak_rss_mb(proc.pid)) is not None and proc.returncode is None:
            peaks[0] = max(peaks[0], seen)
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, status, usage = os.wait4(proc.pid, 0)
    at = time.time()
    proc.returncode = os.waitstatus_to_exitcode(status)
    sampler.join()
    out.update(at=at, cpu=usage.ru_utime + usage.ru_stime, rss_mb=peaks[0])


def run_ecs_deploy(exe: str, endpoint: str, names: list[str], tag: str) -> dict[str, Any]:
    env = {**os.environ, "AWS_ENDPOINT_URL": endpoint, "AWS_DEFAULT_REGION": REGION}
    reaped: dict[str, dict[str, Any]] = {name: {} for name in names}
    threads = []
    for name in names:
        cmd = [exe, "deploy", CLUSTER, name, "--image", "app", f"{REPO}:{tag}", "--timeout", "600"]
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        threads.append(threading.Thread(target=reap, args=(proc, reaped[name])))
        threads[-1].start()
    for thread in threads:
        thread.join()
    cpu = sum(r["cpu"] for r in reaped.values())
    return {
        "noticed": {n: r["at"] for n, r in reaped.items()},
        "cpu_s": cpu,
        "deploys_cpu_s": cpu,  # a CLI run per deploy: its start-up is the deploy's
        "rss_mb": sum(r["rss_mb"] for r in reaped.values()),
    }


def run_worker(endpoint: str, names: list[str], tag: str, events: bool) -> dict[str, Any]:
    queues = create_queues(endpoint, REGION)
    allowlist = {
        "version": 1,
        "services": [
            {"cluster": CLUSTER, "service": n, "containers": ["app"], "images": [REPO]}
            for n in names
        ],
    }
    folder = Path(tempfile.mkdtemp(prefix="side-by-side-"))
    (folder / "allowlist.yaml").write_text(json.dumps(allowlist))
    env = {
        **os.environ,
        "DEPLOYWORKER_QUEUE_URL": queues.queue_url,
        "DEPLOYWORKER_DLQ_URL": queues.dlq_url,
        "DEPLOYWORKER_ENDPOINT_URL": endpoint,
        "DEPLOYWORKER_REGION": REGION,
        "DEPLOYWORKER_ACCOUNT_ID": ACCOUNT,
        "DEPLOYWORKER_ALLOWLIST_PATH": str(folder / "allowlist.yaml"),
        "DEPLOYWORKER_METRICS_PORT": "0",
    }
    if events:  # emptied of the events the other tools' rollouts sent
        env["DEPLOYWORKER_EVENTS_QUEUE_URL"] = url = create_events_queue(
            endpoint, REGION, [CLUSTER]
        )
        client("sqs", endpoint).purge_queue(QueueUrl=url)
    cmd = [sys.executable, "-m", "deployworker", "run"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    noticed: dict[str, float] = {}
    started, done = threading.Event(), threading.Event()

    def read() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if entry.get("event") == "worker.started":
                started.set()
            if entry.get("event") == "deploy.finished":
                noticed[entry["service"]] = datetime.fromisoformat(entry["timestamp"]).timestamp()
                if len(noticed) == len(names):
                    done.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    if not started.wait(60):
        proc.kill()
        raise SystemExit("deployworker did not start; run it by hand to see why")
    return {"proc": proc, "noticed": noticed, "done": done, "queue_url": queues.queue_url}


def send(endpoint: str, queue_url: str, names: list[str], tag: str) -> None:
    sqs = client("sqs", endpoint)
    for name in names:
        body = {"cluster": CLUSTER, "service": name, "container": "app", "image": f"{REPO}:{tag}"}
        body["deploy_id"] = f"{name}-{tag}"
        sqs.send_message(
            QueueUrl=queue_url,
            MessageBody=json.dumps(body),
            MessageGroupId=f"{CLUSTER}/{name}",
            MessageDeduplicationId=f"{name}-{tag}",
        )


def measure(
    tool: str, exe: str, counting: Counting, endpoint: str, names: list[str]
) -> dict[str, Any]:
    tag = f"{tool}-{len(names)}"
    if tool == "ecs-deploy":
        counting.take()
        result = run_ecs_deploy(exe, endpoint, names, tag)
    else:
        worker = run_worker(endpoint, names, tag, events=tool == "deployworker-events")
        counting.take()  # its start-up calls are not the deploys'
        idle_cpu = cpu_s(worker["proc"].pid)
        send(endpoint, worker["queue_url"], names, tag)
        if not worker["done"].wait(600):
            raise SystemExit(f"{tool}: not every deploy finished")
        calls_then = counting.take()
        proc = worker["proc"]
        deploys_cpu = cpu_s(proc.pid) - idle_cpu
        proc.send_signal(signal.SIGTERM)
        out: dict[str, Any] = {}
        reap(proc, out)
        counting.calls.update(calls_then)
        result = {"noticed": worker["noticed"], "cpu_s": out["cpu"], "rss_mb": out["rss_mb"]}
        result["deploys_cpu_s"] = deploys_cpu
    calls = counting.take()
    spans = {name: finished(endpoint, name) for name in names}
    latency = sorted(result["noticed"][n] - spans[n][1] for n in names)
    minutes = sum(result["noticed"][n] - spans[n][0] for n in names) / 60
    ecs = {op: n for op, n in calls.items() if op.startswith("ecs:")}
    watch = sum(calls[f"ecs:{op}"] for op in WATCH_OPS)
    return {
        "tool": tool,
        "services": len(names),
        "ecs_calls": sum(ecs.values()),
        "ecs_calls_by_op": dict(sorted(ecs.items())),
        "other_calls": sum(calls.values()) - sum(ecs.values()),
        "describes_per_service_minute": watch / minutes,
        "detect_p50_s": latency[len(latency) // 2],
        "detect_max_s": latency[-1],
        "cpu_s": result["cpu_s"],
        "deploys_cpu_s": result["deploys_cpu_s"],
        "rss_mb": result["rss_mb"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--ecs-deploy", default="/tmp/ecsdeploy-venv/bin/ecs", help="ecs-deploy's `ecs`"
    )
    parser.add_argument("--converge", type=float, default=30.0, help="seconds each rollout takes")
    parser.add_argument("--sizes", default="1,10", help="services deployed at once, per run")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args(argv)
    exe = shutil.which(args.ecs_deploy) or shutil.which("ecs")
    if exe is None:
        print(
            "ecs-deploy is not installed: skipping. Install it in a virtualenv of its own, e.g.\n"
            "  python3 -m venv /tmp/ecsdeploy-venv && /tmp/ecsdeploy-venv/bin/pip install ecs-deploy\n"
            "then run again (--ecs-deploy names its `ecs` command).",
            file=sys.stderr,
        )
        return 0
    use_fake_credentials()
    aws = LocalAws(0, Rules(converge_seconds=args.converge))
    endpoint = aws.start()
    counting = Counting(aws._server.app)  # type: ignore[union-attr]
    aws._server.app = counting  # type: ignore[union-attr]
    rows = []
    try:
        for size in [int(s) for s in args.sizes.split(",")]:
            names = [f"svc{size:02}x{i:02}" for i in range(size)]
            seed(endpoint, names)
            for tool in ("ecs-deploy", "deployworker-events", "deployworker-polling"):
                print(f"{tool}, {size} service(s) ...", file=sys.stderr, flush=True)
                rows.append(measure(tool, exe, counting, endpoint, names))
    finally:
        aws.stop()
    print(
        "| tool | services | ECS calls | describes / service-min | other calls "
        "| detection p50 / max | CPU: total (deploys) | peak RSS |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['tool']} | {r['services']} | {r['ecs_calls']} | {r['describes_per_service_minute']:.2f} "
            f"| {r['other_calls']} | {r['detect_p50_s']:.2f} s / {r['detect_max_s']:.2f} s "
            f"| {r['cpu_s']:.2f} s ({r['deploys_cpu_s']:.2f} s) | {r['rss_mb']:.0f} MB |"
        )
    for r in rows:
        print(f"{r['tool']} x{r['services']}: {r['ecs_calls_by_op']}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
