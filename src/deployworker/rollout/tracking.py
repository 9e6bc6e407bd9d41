"""One followed service deployment, and how one describe of it is judged.

`judge` is the watcher's rule for a single `Watch`, the same whether the describe
came from a periodic round or from a wake-up: paused time is kept off the deadline,
a deployment ECS reports MISSING ends only after `MISSING_ROUNDS` full rounds, and an
unfinished one reports its progress.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import structlog

from deployworker.failpoints import failpoint
from deployworker.rollout.assess import Assessment, State, assess, missing

log = structlog.get_logger("deployworker.watch")

# Called once with the final verdict, or with None when the watcher stops first.
OnVerdict = Callable[[Assessment | None], None]
# Called on the watcher's thread when an unfinished deployment's progress changes.
OnProgress = Callable[[Assessment], None]
# ECS's read-after-write lag: a deployment just created may be MISSING for a moment.
MISSING_ROUNDS = 3


@dataclass(eq=False)
class Watch:
    """One deploy waiting for a service deployment's verdict."""

    arn: str
    deadline: float
    on_verdict: OnVerdict
    on_progress: OnProgress | None
    seen_at: float
    progress: str = ""
    paused: bool = False
    missing: int = 0
    due: float = 0.0  # when the safety net describes it next, unless something does first


def judge(
    watch: Watch, deployment: dict[str, object] | None, gone: bool, now: float
) -> Assessment | None:
    """The verdict for one watch this round; None while it goes on."""
    if watch.paused:
        # Paused time counts only against the hook's own timeout.
        watch.deadline += now - watch.seen_at
    watch.seen_at = now
    timed_out = now >= watch.deadline
    if deployment is None:
        watch.missing += 1 if gone else 0
        if gone and watch.missing >= MISSING_ROUNDS:
            return missing(watch.arn)
        if timed_out:
            return Assessment(State.TIMED_OUT, "timed out; deployment could not be described")
        return None  # a failed describe round: try again next interval
    watch.missing = 0
    verdict = assess(deployment, timed_out)
    watch.paused = verdict.pause is not None
    if verdict.state != State.IN_PROGRESS:
        return verdict
    failpoint("watching")
    # A new PAUSE hook is new progress even when it reads like the last one (a second
    # hook at the same stage, expiring in the same minute): its hookId tells them apart.
    seen = verdict.progress + (f" {verdict.pause.hook_id}" if verdict.pause else "")
    if seen != watch.progress:
        watch.progress = seen
        if watch.on_progress is not None:
            try:
                watch.on_progress(verdict)
            except Exception:  # progress is informational: never lose the watch over it
                log.exception("watch.progress_failed", deployment=watch.arn)
    return None
