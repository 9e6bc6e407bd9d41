"""How simulated rollouts end and how long they take. Pure: no moto.

`Rules` is the simulator's whole configuration. An image matching a pattern decides a
deployment's fate: `fail_pattern` (its tasks exit, the circuit breaker acts),
`hang_pattern` (its tasks never get healthy), `alarm_pattern` (a CloudWatch alarm of
the service fires while the deployment bakes); anything else completes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from deployworker.local.stages import Timing

COMPLETE = "complete"
FAIL = "fail"
HANG = "hang"
ALARM = "alarm"


@dataclass(frozen=True)
class Rules:
    """How simulated rollouts end."""

    converge_seconds: float = 3.0
    fail_pattern: str | None = r":.*fail"
    hang_pattern: str | None = r":.*hang"
    # A task whose command override matches exits 1 (a failing migration).
    task_fail_pattern: str | None = r"\bfail\b"
    # One simulated minute (bakes, hook timeouts) takes this many real seconds.
    minute_seconds: float = 1.0
    alarm_pattern: str | None = r":.*alarm"

    def timing(self) -> Timing:
        """The durations service deployments are planned with."""
        return Timing(self.converge_seconds, self.minute_seconds)

    def fate(self, images: Iterable[str]) -> str:
        """COMPLETE, FAIL, HANG or ALARM for a revision running `images`."""
        images = list(images)
        for pattern, fate in (
            (self.fail_pattern, FAIL),
            (self.hang_pattern, HANG),
            (self.alarm_pattern, ALARM),
        ):
            if pattern and any(re.search(pattern, image) for image in images):
                return fate
        return COMPLETE
