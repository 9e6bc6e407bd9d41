"""`status` and `publish --wait` read the deploy ledger, the worker's own record.

They print only states the worker wrote: a line per transition, and while nothing
changes a line every `HEARTBEAT` seconds with the time waited and ECS's new service
events. Only a deploy the ledger does not know (older than the table, or no table
configured) is read from ECS instead (`cli.status`), and the output says so.
`--output json` prints one final document on stdout; the lines go to stderr.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from deployworker.aws._retry import Caller, RetryPolicy
from deployworker.aws.clients import make_client
from deployworker.aws.dynamodb import LedgerTable
from deployworker.aws.ecs import Ecs
from deployworker.cli import exits
from deployworker.cli.outputs import write_outputs
from deployworker.deploy.evidence import brief
from deployworker.ledger import read
from deployworker.ledger.record import Entry
from deployworker.ledger.states import State
from deployworker.settings import Settings

HEARTBEAT = 30.0
STATE_EXITS = {
    State.DEPLOYED: exits.OK,
    State.NOOP: exits.OK,
    State.FAILED: exits.FAILED,
    State.MIGRATION_FAILED: exits.FAILED,
    State.ROLLED_BACK: exits.ROLLED_BACK,
    State.OVERTAKEN: exits.OVERTAKEN,
    State.REJECTED: exits.REJECTED,
    State.SUPERSEDED: exits.SUPERSEDED,
}
WAITING = (None, State.QUEUED, State.RELEASED)  # shown as `pending`: no replica has it now


@dataclass
class Follow:
    """One deploy to follow, and how."""

    cluster: str
    service: str
    target: str  # its ledger key
    deploy_id: str | None
    digest: str | None = None  # SHA-256 of the message `publish` sent
    wait: bool = False
    timeout: float = 1800
    interval: float = 5
    json: bool = False
    published: dict[str, str] = field(default_factory=dict)


def shown(entry: Entry | None) -> str:
    """The state a line shows: `pending` until a replica works on it."""
    return "pending" if entry is None or entry.state in WAITING else entry.state.value


def exit_code(entry: Entry | None) -> int:
    """The exit code of a deploy in this state (at the timeout when not final)."""
    if entry is not None and entry.state in STATE_EXITS:
        return STATE_EXITS[entry.state]
    return exits.PENDING if entry is None or entry.state in WAITING else exits.IN_PROGRESS


def _ours(entry: Entry | None, digest: str | None) -> Entry | None:
    """Another message's rejection under the same deploy_id is not ours to report."""
    if entry is None or digest is None or entry.digest in (None, digest):
        return entry
    return None if entry.state == State.REJECTED else entry


def document(entry: Entry | None, code: int, waited: float, follow: Follow) -> dict[str, Any]:
    """The final JSON document of `--output json`."""
    doc: dict[str, Any] = {"from": "ledger", "deploy_id": follow.deploy_id, **follow.published}
    doc.update(target=follow.target, state=shown(entry), exit_code=code)
    if entry is not None:
        record = asdict(entry)
        record["state"] = entry.state.value
        times = entry.transitions
        doc.update({k: v for k, v in record.items() if v not in (None, {}, [], "")})
        doc["revisions"] = {"task_definition": entry.task_definition}
        doc["durations"] = {
            "deploy_seconds": entry.duration,
            "queued_seconds": _between(times, "queued", "in_progress"),
            "waited_seconds": round(waited, 3),
        }
    return doc


def _between(times: dict[str, float], start: str, end: str) -> float | None:
    return round(times[end] - times[start], 3) if start in times and end in times else None


def follow_ledger(
    table: LedgerTable,
    ecs: Ecs | None,
    follow: Follow,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Print the deploy's record (each transition of it, with --wait); its exit code."""
    out = sys.stderr if follow.json else sys.stdout
    where = f"{follow.cluster}/{follow.service}" + (
        f" deploy {follow.deploy_id}" if follow.deploy_id else ""
    )
    started, wall = clock(), time.time()
    last_line, seen, last = started, set[str](), ("", "")
    entry: Entry | None = None
    while True:
        entry = _ours(_read(table, follow), follow.digest)
        now = clock()
        state = (shown(entry), entry.reason if entry else "")
        if state != last:
            revision = f" [{entry.task_definition}]" if entry and entry.task_definition else ""
            reason = state[1] or _waiting(entry)
            text = f"{where}: {state[0]}" + (f": {reason}" if reason else "")
            print(text + revision, file=out, flush=True)
            if entry is not None and entry.final and brief(entry.evidence):
                print(f"{where}: {brief(entry.evidence)}", file=out, flush=True)
            last, last_line = state, now
        if (
            (entry is not None and entry.final)
            or not follow.wait
            or now - started >= follow.timeout
        ):
            break
        if now - last_line >= HEARTBEAT:
            print(
                f"{where}: still {state[0]} after {_elapsed(now - started)}", file=out, flush=True
            )
            for line in _new_events(ecs, follow, wall, seen):
                print(f"{where}: ecs: {line}", file=out, flush=True)
            last_line = now
        sleep(min(follow.interval, max(0.0, follow.timeout - (clock() - started))))
    code = exit_code(entry)
    task_definition = entry.task_definition if entry else None
    outputs = {"deploy_id": follow.deploy_id, "state": shown(entry), "exit_code": code}
    write_outputs({**outputs, "task_definition": task_definition})
    if follow.json:
        print(json.dumps(document(entry, code, clock() - started, follow), default=str), flush=True)
    return code


def _waiting(entry: Entry | None) -> str:
    """Why a deploy shown as `pending` waits."""
    if entry is None:
        return "no replica has taken it yet"
    if entry.state == State.QUEUED:
        return "queued"
    return "handed back; another replica resumes it" if entry.state == State.RELEASED else ""


def _read(table: LedgerTable, follow: Follow) -> Entry | None:
    if follow.deploy_id is not None:
        return read.entry(table, follow.target, follow.deploy_id)
    newest = read.history(table, follow.target, limit=1)
    if newest:
        follow.deploy_id = newest[0].deploy_id
    return newest[0] if newest else None


def _new_events(ecs: Ecs | None, follow: Follow, since: float, seen: set[str]) -> list[str]:
    """ECS's service events since the wait began that were not printed yet, oldest first."""
    if ecs is None:
        return []
    events = ecs.describe_service(follow.cluster, follow.service).get("events") or []
    lines = []
    for event in reversed(events):
        created = event.get("createdAt")
        at = created.timestamp() if isinstance(created, datetime) else 0.0
        if at >= since - 1 and str(event.get("id")) not in seen:
            seen.add(str(event.get("id")))
            lines.append(str(event.get("message", "")))
    return lines


def _elapsed(seconds: float) -> str:
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}m{rest:02d}s" if minutes else f"{rest}s"


def known(table: LedgerTable, follow: Follow) -> bool:
    """Whether the ledger has a record of this deploy (of the service's newest deploy,
    without a deploy_id)."""
    return _read(table, follow) is not None


def ledger_for(
    name: str | None, settings: Settings, region: str | None, endpoint: str | None, local: bool
) -> LedgerTable | None:
    """The deploy ledger's table: `--ledger-table`, DEPLOYWORKER_LEDGER_TABLE, or local
    mode's; None when none is configured."""
    from deployworker.local.seed import LEDGER_TABLE

    table = name or settings.ledger_table or (LEDGER_TABLE if local else None)
    if table is None:
        return None
    if table.startswith("arn:"):
        region = table.split(":")[3]
    client = make_client("dynamodb", region, endpoint)
    return LedgerTable(
        client, Caller("dynamodb", RetryPolicy(attempts=4)), table.rsplit("/", 1)[-1]
    )
