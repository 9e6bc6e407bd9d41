"""What a service deployment's ending means for the deploy that started it.

The pipeline follows the service deployment its UpdateService created; the watcher's
verdict comes here, on a resume thread. ECS's own endings are taken as they are:
SUCCESSFUL is `deployed`, a rollback ECS ran (circuit breaker, alarms, a hook's
ROLLBACK, someone's StopServiceDeployment) is `rolled_back` with ECS's reason and no
write of ours, and a deployment stopped because someone else started a newer one is
`overtaken`, with no write of ours either. With `rollback: true` we act only when
ECS has not: at our deadline with StopServiceDeployment(ROLLBACK), ECS's native
rollback followed on the same ARN, and, for a deployment that already finished
without rolling back, with UpdateService to the previous revision. Any other ending
first asks whether the service still exists: one deleted mid-deploy is `failed` at
once, with no write (its service deployments went with it).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

import structlog

from deployworker.aws.ecs import Ecs
from deployworker.deploy.apply import deployment_of
from deployworker.deploy.evidence import collect
from deployworker.deploy.gates.drive import GateDriver, Resume
from deployworker.deploy.job import Job
from deployworker.errors import NotFoundError, PermanentAwsError
from deployworker.failpoints import failpoint
from deployworker.outcome import Outcome, Result
from deployworker.rollout.assess import Assessment, State
from deployworker.rollout.locate import Newer, newer_than

log = structlog.get_logger("deployworker.pipeline")

NOTHING_STARTED = "desiredCount is 0: nothing was started, nothing verified"

Then = Callable[[Job, Assessment | None], Result | None]
# Hand a service deployment (ARN) to the watcher; its verdict resumes `Then`.
Follow = Callable[[Job, str, Then], None]


class Verdicts:
    """Turns verdicts into results, rolling back through ECS when the deadline passes."""

    def __init__(self, ecs: Ecs, follow: Follow, gates: GateDriver, resume: Resume) -> None:
        self._ecs = ecs
        self._follow = follow
        self._gates = gates
        self._resume = resume

    def after_deploy(self, job: Job, verdict: Assessment | None) -> Result | None:
        """The verdict on the deploy's own service deployment (None: still going)."""
        base, applied = job.base, job.applied
        assert applied is not None
        assert applied.deployment_arn is not None
        arn = applied.deployment_arn
        if verdict is None:
            return replace(base, outcome=Outcome.RELEASED, reason="worker shutting down")
        state = verdict.state
        if state == State.CONVERGED:
            log.info("deploy.converged", deployment=arn)
            failpoint("converged")
            if applied.desired_count == 0:
                # ECS calls it successful at once, but no task ran the new revision.
                log.warning("deploy.nothing_started", deployment=arn, desired_count=0)
                return replace(base, outcome=Outcome.DEPLOYED, reason=NOTHING_STARTED)
            reason = f"{applied.note}; {verdict.reason}" if applied.note else verdict.reason
            return self._verify(job, replace(base, outcome=Outcome.DEPLOYED, reason=reason))
        gone = self._service_gone(job)
        if gone is not None:
            # Deleted mid-deploy: ECS deleted its service deployments too, so there is
            # nothing left to wait for, and every rollback call could only fail.
            log.warning("deploy.service_gone", deployment=arn, reason=gone)
            return replace(base, outcome=Outcome.FAILED, reason=gone)
        if applied.stopped:  # the `rollback` action asked ECS to roll this deployment back
            if state == State.ROLLED_BACK:
                reason = f"ECS rolled back service deployment {arn}: {verdict.reason}"
                return replace(base, outcome=Outcome.DEPLOYED, reason=reason)
            return self._bad(job, Outcome.FAILED, f"the rollback did not finish: {verdict.reason}")
        if state == State.ROLLED_BACK:
            log.warning("deploy.rolled_back_by_ecs", deployment=arn, reason=verdict.reason)
            reason = f"ECS rolled back: {verdict.reason}"
            if job.gate_reason:  # our gate answered its hook with ROLLBACK
                reason = f"{job.gate_reason}; {reason}"
            return self._bad(job, Outcome.ROLLED_BACK, reason)
        if state == State.STOPPED:
            cluster, service = job.key
            newer = newer_than(self._ecs, cluster, service, arn)
            if newer is not None and applied.resumed and newer.task_definition == applied.previous:
                return self._restored(job, f"service deployment stopped: {verdict.reason}", newer)
            if newer is not None:
                reason = (
                    f"overtaken by service deployment {newer.arn} "
                    f"(target {newer.task_definition or 'unknown'}, {newer.status}), "
                    "which deployworker did not create; nothing was changed"
                )
                log.warning("deploy.overtaken", deployment=arn, newer=newer.arn)
                return replace(base, outcome=Outcome.OVERTAKEN, reason=reason)
            reason = f"service deployment stopped: {verdict.reason}"
            log.warning("deploy.failed", deployment=arn, reason=reason)
            if self._may_roll_back(job) and applied.previous:
                # Finished without ECS rolling back (a circuit breaker without rollback):
                # only a new deployment of the previous revision can restore the service.
                return self._restore(job, reason, applied.previous)
            return self._bad(job, Outcome.FAILED, reason)
        log.warning("deploy.failed", deployment=arn, reason=verdict.reason)
        if state != State.TIMED_OUT or not self._may_roll_back(job):
            return self._bad(job, Outcome.FAILED, verdict.reason)
        return self._roll_back(job, verdict)

    def _verify(self, job: Job, deployed: Result) -> Result | None:
        """A converged deploy with a `converged` gate is verified first; a failing gate
        rolls back with UpdateService(previous). A redelivery that finds its own
        restore after the deployment is judged by that restore, not verified again."""
        applied = job.applied
        assert applied is not None
        assert applied.deployment_arn is not None
        if not self._gates.has_converged_gate(job):
            return deployed
        if applied.resumed:
            newer = newer_than(self._ecs, *job.key, applied.deployment_arn)
            if newer is not None and newer.task_definition == applied.previous:
                return self._restored(job, "the converged gate failed before", newer)

        def fail(failed: Job) -> Result | None:
            reason = failed.gate_reason or "the converged gate failed"
            if self._may_roll_back(failed) and applied.previous:
                return self._restore(failed, reason, applied.previous)
            return self._bad(failed, Outcome.FAILED, reason)

        self._gates.verify(job, deployed, fail, self._resume)
        return None

    def _service_gone(self, job: Job) -> str | None:
        """Why the deploy's service no longer exists (MISSING, INACTIVE, DRAINING), or
        None while it is ACTIVE."""
        cluster, service = job.key
        try:
            found, failures = self._ecs.describe_services(cluster, [service])
        except NotFoundError as exc:  # the cluster itself is gone
            return f"service {cluster}/{service} cannot be found during the deploy ({exc.code})"
        status = str(found[0].get("status")) if found else None
        if status is None:
            status = str(failures[0].get("reason", "MISSING")) if failures else "MISSING"
        if status == "ACTIVE":
            return None
        return (
            f"service {cluster}/{service} is {status}: it was deleted during the deploy, "
            "so there is nothing to follow or roll back"
        )

    @staticmethod
    def _may_roll_back(job: Job) -> bool:
        return job.request.action != "rollback" and job.entry.rollback

    def _restore(self, job: Job, reason: str, previous: str) -> Result | None:
        """UpdateService back to the previous revision, for a deployment that has
        already finished (StopServiceDeployment can no longer act on it)."""
        cluster, service = job.key
        updated = self._ecs.update_service(cluster, service, previous)
        restoring = deployment_of(self._ecs, updated, previous)
        log.info("rollback.started", task_definition=previous, deployment=restoring, native=False)
        job.failed = replace(job.base, outcome=Outcome.FAILED, reason=reason)
        if restoring is None:
            return self._bad(job, Outcome.FAILED, f"{reason}; rollback deployment not found")
        self._follow(job, restoring, self.after_restore)
        return None

    def _restored(self, job: Job, reason: str, newer: Newer) -> Result | None:
        """A redelivery finds its stopped deployment followed by one of the previous
        revision: its own earlier restore (`_restore`), judged again, not an overtaking."""
        log.info("rollback.resumed", deployment=newer.arn, status=newer.status)
        job.failed = replace(job.base, outcome=Outcome.FAILED, reason=reason)
        if newer.status == "SUCCESSFUL":
            return self._bad(job, Outcome.ROLLED_BACK, reason)
        if newer.status in ("PENDING", "IN_PROGRESS"):
            self._follow(job, newer.arn, self.after_restore)
            return None
        return self._bad(job, Outcome.FAILED, f"{reason}; rollback failed: {newer.status}")

    def after_restore(self, job: Job, back: Assessment | None) -> Result | None:
        """The verdict on the new deployment of the previous revision."""
        failed = job.failed
        assert failed is not None
        if back is None:
            return replace(job.base, outcome=Outcome.RELEASED, reason="worker shutting down")
        if back.state == State.CONVERGED:
            log.info("rollback.converged")
            return self._bad(job, Outcome.ROLLED_BACK, failed.reason)
        return self._bad(job, Outcome.FAILED, f"{failed.reason}; rollback failed: {back.reason}")

    def _roll_back(self, job: Job, verdict: Assessment) -> Result | None:
        """Ask ECS to roll our unfinished deployment back, and follow it there."""
        applied = job.applied
        assert applied is not None
        assert applied.deployment_arn is not None
        arn = applied.deployment_arn
        try:
            self._ecs.stop_service_deployment(arn)
        except PermanentAwsError as exc:
            if exc.code != "ConflictException":
                raise
            # It finished between the verdict and the stop: judge its real ending.
            log.info("rollback.not_needed", deployment=arn, error=str(exc))
            self._follow(job, arn, self.after_deploy)
            return None
        log.info("rollback.started", deployment=arn, native=True)
        job.failed = replace(job.base, outcome=Outcome.FAILED, reason=verdict.reason)
        self._follow(job, arn, self.after_rollback)
        return None

    def after_rollback(self, job: Job, back: Assessment | None) -> Result | None:
        """The verdict on our own rollback (StopServiceDeployment) of our deployment."""
        failed = job.failed
        assert failed is not None
        if back is None:
            return replace(job.base, outcome=Outcome.RELEASED, reason="worker shutting down")
        if back.state == State.ROLLED_BACK:
            log.info("rollback.converged", reason=back.reason)
            return self._bad(job, Outcome.ROLLED_BACK, failed.reason)
        if back.state == State.CONVERGED:
            # The rollout completed before ECS acted on the stop: it is deployed.
            return replace(job.base, outcome=Outcome.DEPLOYED, reason="converged at its deadline")
        return self._bad(job, Outcome.FAILED, f"{failed.reason}; rollback failed: {back.reason}")

    def _bad(self, job: Job, outcome: Outcome, reason: str) -> Result:
        """A failed or rolled-back ending, with ECS's evidence attached."""
        cluster, service = job.key
        since = time.time() - (time.monotonic() - job.started)
        target = job.applied.target if job.applied else None
        evidence = collect(self._ecs, cluster, service, target, since, reason)
        return replace(job.base, outcome=outcome, reason=reason, evidence=evidence)
