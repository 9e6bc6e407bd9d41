"""Ledger entries as the board's documents (pure): what the JSON API serves.

Every field a viewer sees passes `clean`: a key that could carry environment values,
secrets, signed proofs or credentials is replaced, at any depth, by `[redacted]` (the
keys logs redact, and more). The documents follow `schema.json` beside this module.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import quote

from deployworker.board.hints import allowlist_hint
from deployworker.ledger.record import Entry
from deployworker.ledger.states import State
from deployworker.observe.logs import REDACTED_KEYS

SECRET_WORDS = ("secret", "password", "token", "credential", "proof", "signature", "authorization")
REDACTED = "[redacted]"
VERSION = 1
MARKS = {
    State.DEPLOYED: "ok",
    State.NOOP: "ok",
    State.ROLLED_BACK: "back",
    State.FAILED: "fail",
    State.MIGRATION_FAILED: "fail",
    State.OVERTAKEN: "skip",
    State.SUPERSEDED: "skip",
    State.REJECTED: "fail",
}


def _secret(key: str) -> bool:
    low = key.lower()
    return key in REDACTED_KEYS or low in REDACTED_KEYS or any(w in low for w in SECRET_WORDS)


def clean(value: Any) -> Any:
    """`value` with every secret-looking key's value replaced, at any depth."""
    if isinstance(value, Mapping):
        return {str(k): REDACTED if _secret(str(k)) else clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    return value


def where(entry: Entry) -> dict[str, str | None]:
    """Account, region, cluster and service (or release) from a record's target."""
    parts = entry.target.split("/")
    if parts[0] == "release":
        return {"account": None, "region": None, "cluster": None, "service": None}
    account, region = (parts[0], parts[1]) if len(parts) == 4 else (None, None)
    return {
        "account": account,
        "region": region,
        "cluster": entry.cluster or parts[-2] if len(parts) >= 2 else entry.cluster,
        "service": entry.service or parts[-1],
    }


def console_url(region: str | None, cluster: str | None, service: str | None) -> str | None:
    """The ECS console's page of a service's deployments."""
    if not (region and cluster and service):
        return None
    c, s = quote(cluster, safe=""), quote(service, safe="")
    return (
        f"https://{region}.console.aws.amazon.com/ecs/v2/clusters/{c}/services/{s}"
        f"/deployments?region={region}"
    )


def gate_doc(gate: Mapping[str, Any] | None, votes: Sequence[Mapping[str, Any]]) -> Any:
    """The gate a deploy is in: stage, state, measurements so far, approvals."""
    if not gate:
        return None
    doc = clean(gate)
    doc.setdefault("measurements", [])
    received = [
        {
            "principal": v.get("principal") or v.get("person"),
            "action": v.get("action"),
            "at": v.get("at") or v.get("time"),
            "result": v.get("result"),
        }
        for v in clean(list(votes))
    ]
    doc["received"] = received
    return doc


def deploy_doc(entry: Entry, home_region: str | None, now: float) -> dict[str, Any]:
    """One record as the board shows it."""
    at = where(entry)
    at["region"] = region = at["region"] or (home_region if at["cluster"] else None)
    started = entry.transitions.get(State.IN_PROGRESS.value, entry.created_at)
    ended = entry.updated_at if entry.final else None
    return {
        "target": entry.target,
        "deploy_id": entry.deploy_id,
        "state": entry.state.value,
        "mark": MARKS.get(entry.state, "run"),
        "final": entry.final,
        **at,
        "release": entry.release,
        "action": entry.action or "deploy",
        "stage": _stage(entry),
        "traffic": entry.traffic if entry.traffic is not None else _traffic(entry.gate),
        "reason": entry.reason,
        "images": dict(entry.images),
        "images_before": dict(entry.images_before),
        "deployment": entry.deployment,
        "deadline_at": entry.deadline_at,
        "timeout": entry.timeout,
        "task_definition": entry.task_definition,
        "source": clean(entry.source) if entry.source else None,
        "evidence": clean(entry.evidence) if entry.evidence else None,
        "gate": gate_doc(entry.gate, entry.votes),
        "approved_by": [
            str(v.get("principal") or v.get("person"))
            for v in entry.votes
            if v.get("action", "approve") == "approve" and (v.get("principal") or v.get("person"))
        ],
        "created_at": entry.created_at,
        "updated_at": entry.updated_at,
        "elapsed": round((ended or now) - started, 1),
        "duration": entry.duration,
        "replica": entry.replica,
        "console_url": console_url(region, at["cluster"], at["service"]),
    }


def _stage(entry: Entry) -> str:
    """Where the deploy stands: the gate's stage while it is in one, else its state."""
    if entry.gate and not entry.final and entry.gate.get("stage"):
        return str(entry.gate["stage"])
    return entry.state.value


def _traffic(gate: Mapping[str, Any] | None) -> float | None:
    share = (gate or {}).get("traffic")
    return float(share) if isinstance(share, int | float) else None


def waiting_docs(
    flight: Iterable[Entry], ended: Iterable[Entry], region: str | None, now: float
) -> list[dict[str, Any]]:
    """Queued messages (and whom they wait for), then superseded and overtaken ones."""
    flight = list(flight)
    running = {e.target: e.deploy_id for e in flight if e.state != State.QUEUED}
    docs = []
    for e in flight:
        if e.state == State.QUEUED:
            docs.append({**deploy_doc(e, region, now), "behind": running.get(e.target)})
    for e in ended:
        if e.state in (State.SUPERSEDED, State.OVERTAKEN):
            docs.append({**deploy_doc(e, region, now), "behind": None})
    return docs


def board_doc(
    flight: Sequence[Entry],
    ended: Sequence[Entry],
    rejected: Sequence[Entry],
    region: str | None,
    now: float,
    refresh: float,
) -> dict[str, Any]:
    """The whole board: Now, Waiting, Recent and Rejected."""
    return {
        "version": VERSION,
        "generated_at": now,
        "refresh_seconds": refresh,
        "now": [deploy_doc(e, region, now) for e in flight if e.state != State.QUEUED],
        "waiting": waiting_docs(flight, ended, region, now),
        "recent": [deploy_doc(e, region, now) for e in ended],
        "rejected": [
            {**deploy_doc(e, region, now), "allowlist_needs": allowlist_hint(e)} for e in rejected
        ],
    }


def service_doc(
    target: str, entries: Sequence[Entry], region: str | None, now: float
) -> dict[str, Any]:
    """A service's history, newest first, and its outcomes as one line (oldest first)."""
    docs = [deploy_doc(e, region, now) for e in entries]
    return {
        "version": VERSION,
        "generated_at": now,
        "target": target,
        "history": docs,
        "timeline": [
            {"deploy_id": d["deploy_id"], "state": d["state"], "mark": d["mark"]}
            for d in reversed(docs)
        ],
    }
