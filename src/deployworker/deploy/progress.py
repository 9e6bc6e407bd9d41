"""What a deploy does with the watcher's progress reports (on the watcher's thread).

Each report is logged, and at a PAUSE hook with a gate the gate starts (`GateDriver`);
a new share of production traffic for the deploy's revision is told to the ledger, once
per change (the ledger's writer sends it from its own thread).
"""

from __future__ import annotations

from deployworker.deploy.gates.drive import GateDriver
from deployworker.deploy.job import Job
from deployworker.deploy.reporting import traffic_changed
from deployworker.observe.events import Emit
from deployworker.rollout.assess import Assessment
from deployworker.rollout.tracking import OnProgress


def on_progress(job: Job, arn: str, gates: GateDriver, emit: Emit) -> OnProgress:
    """The progress callback for `job`'s service deployment `arn`."""

    def progress(now: Assessment) -> None:
        # The deploy's own deployment only: a rollback's target is the old revision.
        ours = arn == job.base.deployment
        if ours and now.traffic is not None and now.traffic != job.traffic:
            job.traffic = now.traffic
            emit(traffic_changed(job.base, now.traffic))
        gates.progress(job, arn, now)

    return progress
