"""Which followed deployments one describe round takes. Pure: no I/O, no clock.

Every followed deployment is due for a describe `cadence` seconds after its last one,
whatever caused that one (a periodic round, an event's wake-up, or riding along in
another's call): that is the safety net, and the only promise it makes is that no
deployment goes longer than the cadence without a look. A round takes every woken and
every due deployment, then fills the free places of its last call (20 ARNs each) with
the deployments due soonest. A filled place costs no call, and it moves that
deployment's next due time on, so the wake-ups of a busy worker do the safety net's
work and its periodic calls stay few and full. A newly followed deployment joins the
latest group falling due within one cadence whose call has a free place (`first_due`),
so following one more deployment adds no call of its own.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Mapping

from deployworker.aws.ecs import MAX_DESCRIBE_SERVICE_DEPLOYMENTS

PER_CALL = MAX_DESCRIBE_SERVICE_DEPLOYMENTS  # ARNs one DescribeServiceDeployments takes


def pick(
    due: Mapping[str, float], woken: Collection[str], now: float, per_call: int = PER_CALL
) -> tuple[list[str], frozenset[str]]:
    """(the ARNs to describe now, in call order; those of them that were due).

    `due` maps each followed ARN to its next due time; woken ARNs that are not
    followed are ignored. Nothing woken and nothing due: nothing to describe.
    """
    was_due = frozenset(arn for arn, at in due.items() if at <= now)
    must = sorted(was_due | {arn for arn in woken if arn in due}, key=lambda a: (due[a], a))
    if not must:
        return [], was_due
    room = -len(must) % per_call
    taken = set(must)
    soonest = sorted((at, arn) for arn, at in due.items() if arn not in taken)
    return must + [arn for _, arn in soonest[:room]], was_due


def first_due(dues: Iterable[float], now: float, cadence: float, per_call: int = PER_CALL) -> float:
    """When a newly followed deployment is first due: with the latest group of followed
    deployments due together within one cadence from now whose last call has room;
    else one cadence from now."""
    groups = Counter(at for at in dues if now < at <= now + cadence)
    return max((at for at, n in groups.items() if n % per_call), default=now + cadence)
