"""Reading the ledger: the one interface `status`, `history` and the board use.

Every function takes a `LedgerTable` and returns `Entry` values, newest first:

- `entry(table, target, deploy_id)`: one deploy's record (a strongly consistent read);
- `history(table, target, limit)`: a service's (or a release's) last deploys;
- `in_flight(table, limit)`: every record not yet ended (queued, in progress, paused,
  awaiting approval, released), across targets;
- `recent(table, days, limit)`: the last outcomes, rejections apart;
- `rejected(table, days, limit)`: the last rejected messages with their reasons.

The cross-target reads use the `by_phase` index: eventually consistent, and each reads
one partition per day asked for.
"""

from __future__ import annotations

import time

from deployworker.aws.dynamodb import LedgerTable
from deployworker.ledger.record import (
    HISTORY_INDEX,
    IN_FLIGHT_PHASE,
    PHASE_INDEX,
    Entry,
    day_of,
    entry_of,
)

DAY = 86_400


def target_key(
    cluster: str,
    service: str,
    account: str | None = None,
    region: str | None = None,
) -> str:
    """The ledger's partition key for a service: `<cluster>/<service>` at the worker's
    home (no account and region given), `<account>/<region>/<cluster>/<service>` in
    another account or region: the service's message group, by name."""
    cluster, service = cluster.rsplit("/", 1)[-1], service.rsplit("/", 1)[-1]
    if account is None and region is None:
        return f"{cluster}/{service}"
    return f"{account}/{region}/{cluster}/{service}"


def release_key(name: str) -> str:
    """The ledger's partition key for a release."""
    return f"release/{name}"


def entry(table: LedgerTable, target: str, deploy_id: str) -> Entry | None:
    """The record of one deploy, or None when the ledger does not know it."""
    item = table.get(target, deploy_id)
    return entry_of(item) if item is not None else None


def history(table: LedgerTable, target: str, limit: int = 20) -> list[Entry]:
    """A target's last `limit` records, newest first."""
    items = table.query("#t = :t", {":t": target}, HISTORY_INDEX, limit, names={"#t": "target"})
    return [entry_of(item) for item in items]


def in_flight(table: LedgerTable, limit: int = 200) -> list[Entry]:
    """Every record not yet ended, most recently changed first."""
    items = table.query("#p = :p", {":p": IN_FLIGHT_PHASE}, PHASE_INDEX, limit, names=_PHASE)
    return [entry_of(item) for item in items]


def _by_day(table: LedgerTable, kind: str, days: int, limit: int, now: float | None) -> list[Entry]:
    now = time.time() if now is None else now
    found: list[Entry] = []
    for back in range(max(1, days)):
        if len(found) >= limit:
            break
        phase = f"{kind}#{day_of(now - back * DAY)}"
        items = table.query("#p = :p", {":p": phase}, PHASE_INDEX, limit - len(found), names=_PHASE)
        found.extend(entry_of(item) for item in items)
    return found


def recent(
    table: LedgerTable, days: int = 1, limit: int = 50, now: float | None = None
) -> list[Entry]:
    """The last outcomes (rejections apart) of the last `days` UTC days, newest first."""
    return _by_day(table, "ended", days, limit, now)


def rejected(
    table: LedgerTable, days: int = 1, limit: int = 50, now: float | None = None
) -> list[Entry]:
    """The last rejected messages of the last `days` UTC days, newest first."""
    return _by_day(table, "rejected", days, limit, now)


_PHASE = {"#p": "phase"}
