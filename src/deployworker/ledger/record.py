"""One transition as one conditional DynamoDB write, and an item back as an `Entry` (pure).

The table: partition key `target` (`<cluster>/<service>` at home,
`<account>/<region>/<cluster>/<service>` elsewhere, `release/<name>` for a release),
sort key `deploy_id`. A local index `by_time` sorts a target's items by `created_at`
(its history, newest first); a global index `by_phase` (`phase`, `updated_at`) lists
what is in flight, what ended on a given day, and what was rejected on a given day.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from deployworker.ledger.states import FINAL, FINAL_RANK, RANK, State

HISTORY_INDEX = "by_time"
PHASE_INDEX = "by_phase"
IN_FLIGHT_PHASE = "in_flight"
MAX_TEXT = 4000  # reasons and evidence are cut: an item stays far below DynamoDB's 400 KB


def day_of(epoch: float) -> str:
    """The UTC day a phase partition is named by."""
    return time.strftime("%Y-%m-%d", time.gmtime(epoch))


def phase_of(state: State, epoch: float) -> str:
    """The `by_phase` partition: in flight, or the day it ended (rejections apart)."""
    if state not in FINAL:
        return IN_FLIGHT_PHASE
    kind = "rejected" if state == State.REJECTED else "ended"
    return f"{kind}#{day_of(epoch)}"


@dataclass(frozen=True)
class Transition:
    """One move of one record, with whatever the writer knows at that moment."""

    target: str
    deploy_id: str
    state: State | None  # None: only add facts (a vote, gate progress), move nothing
    at: float = field(default_factory=time.time)
    message_id: str | None = None
    digest: str | None = None  # SHA-256 of the message text: CI tells its own message
    replica: str | None = None
    reason: str | None = None
    cluster: str | None = None
    service: str | None = None
    action: str | None = None
    release: str | None = None
    images: dict[str, str] | None = None
    task_definition: str | None = None
    evidence: dict[str, object] | None = None
    source: dict[str, str] | None = None
    gate: dict[str, object] | None = None
    vote: dict[str, object] | None = None
    duration: float | None = None
    # The rollout: what the service ran before, its service deployment, the deploy's
    # deadline (epoch seconds) and timeout, and the new revision's production traffic %.
    images_before: dict[str, str] | None = None
    deployment: str | None = None
    deadline_at: float | None = None
    timeout: float | None = None
    traffic: float | None = None
    # Set for a rejection: it may create a record, or finish its own message's, but
    # never overwrite the record of another message with the same deploy_id.
    rejected: bool = False
    # The states earlier transitions merged into this one passed, and when (`merge`).
    earlier: dict[State, float] = field(default_factory=dict)


def _text(value: object) -> str:
    return json.dumps(value, sort_keys=True, default=str)[:MAX_TEXT]


def update_request(t: Transition, ttl_seconds: int) -> dict[str, Any]:
    """The UpdateItem parameters (less TableName) that apply `t` if it moves forward."""
    names: dict[str, str] = {}
    values: dict[str, Any] = {}
    sets: list[str] = []

    def put(attr: str, value: Any, if_absent: bool = False) -> None:
        names[f"#{attr}"] = attr
        values[f":{attr}"] = value
        expr = f"if_not_exists(#{attr}, :{attr})" if if_absent else f":{attr}"
        sets.append(f"#{attr} = {expr}")

    put("created_at", int(min([t.at, *t.earlier.values()]) * 1000), if_absent=True)
    put("updated_at", int(t.at * 1000))
    put("expires_at", int(t.at) + ttl_seconds)
    optional: dict[str, Any] = {
        "message_id": t.message_id,
        "digest": t.digest,
        "replica": t.replica,
        "reason": t.reason[:MAX_TEXT] if t.reason else None,
        "cluster": t.cluster,
        "service": t.service,
        "action": t.action,
        "release": t.release,
        "images": dict(t.images) if t.images else None,
        "task_definition": t.task_definition,
        "evidence": _text(t.evidence) if t.evidence else None,
        "source": dict(t.source) if t.source else None,
        "gate": _text(t.gate) if t.gate else None,
        "duration_ms": int(t.duration * 1000) if t.duration else None,
        "deployment": t.deployment,
        "deadline_at": int(t.deadline_at * 1000) if t.deadline_at else None,
        "timeout_ms": int(t.timeout * 1000) if t.timeout else None,
        "traffic": Decimal(str(round(t.traffic, 3))) if t.traffic is not None else None,
    }
    for attr, value in optional.items():
        if value is not None:
            put(attr, value)
    if t.images_before:  # the first copy's: a resumed copy sees its own revision running
        put("images_before", dict(t.images_before), if_absent=True)
    if t.vote is not None:
        names["#votes"] = "votes"
        values[":vote"] = [_text(t.vote)]
        values[":none"] = []
        sets.append("#votes = list_append(if_not_exists(#votes, :none), :vote)")
    names["#rank"] = "rank"
    if t.state is None:
        # Facts only: on a record that exists and has not ended.
        condition = "attribute_exists(#rank) AND #rank < :final"
        values[":final"] = FINAL_RANK
    else:
        rank = RANK[t.state]
        put("state", t.state.value)
        put("rank", rank)
        put("phase", phase_of(t.state, t.at))
        stamps = {**t.earlier, t.state: min(t.at, t.earlier.get(t.state, t.at))}
        for state, at in sorted(stamps.items(), key=lambda stamp: stamp[1]):  # in time order
            put(f"at_{state.value}", int(at * 1000), if_absent=True)
        values[":final"] = FINAL_RANK
        names["#message_id"] = "message_id"
        if t.rejected:
            # A rejection creates a record, or finishes one nobody was admitted to yet
            # (`queued`), or its own message's; never another admitted message's.
            values[":mid"] = t.message_id or ""
            values[":queued"] = RANK[State.QUEUED]
            own = "(#rank < :final AND #message_id = :mid)"
            condition = f"attribute_not_exists(#rank) OR #rank = :queued OR {own}"
        else:
            values[":rank"] = rank
            # Forward only; a final state never changes, except that an admitted message
            # (past `queued`, its id known) replaces another message's rejection under
            # the same deploy_id.
            forward = "(#rank <= :rank AND #rank < :final)"
            condition = f"attribute_not_exists(#rank) OR {forward}"
            if t.message_id and rank > RANK[State.QUEUED]:
                values[":rejected"] = State.REJECTED.value
                values[":mid"] = t.message_id
                condition += " OR (#state = :rejected AND #message_id <> :mid)"
            elif t.message_id is None:
                del names["#message_id"]  # unused: DynamoDB refuses unused names
    return {
        "Key": {"target": t.target, "deploy_id": t.deploy_id},
        "UpdateExpression": "SET " + ", ".join(sets),
        "ConditionExpression": condition,
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
    }


@dataclass(frozen=True)
class Entry:
    """A ledger record as readers see it."""

    target: str
    deploy_id: str
    state: State
    created_at: float
    updated_at: float
    reason: str = ""
    message_id: str | None = None
    digest: str | None = None
    replica: str | None = None
    cluster: str | None = None
    service: str | None = None
    action: str | None = None
    release: str | None = None
    images: dict[str, str] = field(default_factory=dict)
    task_definition: str | None = None
    evidence: dict[str, object] | None = None
    source: dict[str, str] | None = None
    gate: dict[str, object] | None = None
    votes: list[dict[str, object]] = field(default_factory=list)
    duration: float | None = None
    transitions: dict[str, float] = field(default_factory=dict)
    images_before: dict[str, str] = field(default_factory=dict)
    deployment: str | None = None
    deadline_at: float | None = None
    timeout: float | None = None
    traffic: float | None = None

    @property
    def final(self) -> bool:
        """Whether the worker has written this record's ending."""
        return self.state in FINAL


def _json(value: Any) -> Any:
    try:
        return json.loads(str(value)) if value is not None else None
    except ValueError:
        return None


def entry_of(item: dict[str, Any]) -> Entry:
    """An `Entry` from a deserialised item (numbers as int, float or Decimal)."""
    return Entry(
        target=str(item["target"]),
        deploy_id=str(item["deploy_id"]),
        state=State(str(item.get("state", State.QUEUED.value))),
        created_at=float(item.get("created_at", 0)) / 1000,
        updated_at=float(item.get("updated_at", 0)) / 1000,
        reason=str(item.get("reason", "")),
        message_id=item.get("message_id"),
        digest=item.get("digest"),
        replica=item.get("replica"),
        cluster=item.get("cluster"),
        service=item.get("service"),
        action=item.get("action"),
        release=item.get("release"),
        images={str(k): str(v) for k, v in (item.get("images") or {}).items()},
        task_definition=item.get("task_definition"),
        evidence=_json(item.get("evidence")),
        source={str(k): str(v) for k, v in (item.get("source") or {}).items()} or None,
        gate=_json(item.get("gate")),
        votes=[v for v in (_json(x) for x in item.get("votes") or []) if isinstance(v, dict)],
        duration=float(item["duration_ms"]) / 1000 if "duration_ms" in item else None,
        transitions={
            key.removeprefix("at_"): float(value) / 1000
            for key, value in item.items()
            if key.startswith("at_")
        },
        images_before={str(k): str(v) for k, v in (item.get("images_before") or {}).items()},
        deployment=item.get("deployment"),
        deadline_at=_seconds(item.get("deadline_at")),
        timeout=_seconds(item.get("timeout_ms")),
        traffic=float(item["traffic"]) if item.get("traffic") is not None else None,
    )


def _seconds(ms: Any) -> float | None:
    return float(ms) / 1000 if ms is not None else None
