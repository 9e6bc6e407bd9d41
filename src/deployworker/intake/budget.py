"""How long one message may keep a deploy going: SQS's visibility cap (pure).

SQS lets a received message stay invisible for at most 12 hours from its receipt;
past that no heartbeat can extend it, and it is delivered again while its deploy
still runs. A deploy may therefore need at most `MESSAGE_BUDGET_SECONDS` (11 h 30
min, leaving room for the receive, the settle and a heartbeat's interval) in all:
its pre-deploy migration, its rollout deadline, and, when it may roll back, as much
again to follow the rollback (which is watched with the same deadline).
"""

from __future__ import annotations

MESSAGE_BUDGET_SECONDS = 11 * 3600 + 30 * 60


def duration_text(seconds: float) -> str:
    """`5h40m`, `10m`, `90s`: a duration as the allowlist writes it."""
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{hours}h" if hours else "", f"{minutes}m" if minutes else ""]
    parts.append(f"{secs}s" if secs or not (hours or minutes) else "")
    return "".join(parts)


def message_need(deadline: float, migration: float, rollback: bool, gates: float = 0) -> float:
    """Seconds a message must stay held: migration, deadline, a rollback watch, and
    the longest its gates may wait (analysis and approval windows)."""
    return migration + gates + deadline * (2 if rollback else 1)


def over_budget(deadline: float, migration: float, rollback: bool, gates: float = 0) -> str | None:
    """Why a deploy with this deadline cannot fit in one message's time, naming the
    numbers; None when it fits."""
    need = message_need(deadline, migration, rollback, gates)
    if need <= MESSAGE_BUDGET_SECONDS:
        return None
    parts = [f"the {duration_text(deadline)} rollout deadline"]
    if rollback:
        parts.append(f"{duration_text(deadline)} more to follow a rollback")
    if migration:
        parts.append(f"the {duration_text(migration)} migration")
    if gates:
        parts.append(f"{duration_text(gates)} its gates may wait")
    room = (MESSAGE_BUDGET_SECONDS - migration - gates) / (2 if rollback else 1)
    most = f"at most {duration_text(room)}" if room >= 1 else "no time at all"
    return (
        f"needs {duration_text(need)} in all ({', '.join(parts)}), but SQS holds a message "
        f"{duration_text(MESSAGE_BUDGET_SECONDS)} at most (its visibility ends 12h after "
        f"receipt); the deadline may be {most}"
    )
