"""Where gates meet a deploy: at a PAUSE hook the watcher reports, and after the
rollout converged.

At a hook: the watcher reports the pause on its own thread, which only claims it and
hands it to the pool: which stage the hook is, the tags that record it and the gate's
window (rate-limited writes), then the gate, all run there, so a burst of pauses never
holds up the watcher's describes. The gate's ending answers the hook with
ContinueServiceDeployment, CONTINUE or ROLLBACK, only if that hook still awaits an
action (DescribeServiceDeployments first: a hook answered before a crash is never
answered twice). The watcher then follows the deployment to its end as always.
After convergence: a `converged` gate decides between `deployed` and the worker's
own rollback, which `verdicts` carries out.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import replace

import structlog

from deployworker.aws.ecs import Ecs
from deployworker.aws.factory import Factory
from deployworker.aws.held import holding
from deployworker.deploy.approvals.ballot import window_tag
from deployworker.deploy.gates import hookid
from deployworker.deploy.gates.contract import NoVotes, Subject
from deployworker.deploy.gates.decide import Action, Decision
from deployworker.deploy.gates.fit import gate_at, owns_every_pause, problems
from deployworker.deploy.gates.hookrecord import hook_stage, hook_status
from deployworker.deploy.gates.runner import Run, Runner
from deployworker.deploy.gates.schedule import Dispatch, Scheduler
from deployworker.deploy.job import Job, bound, log_progress
from deployworker.errors import AwsError, CopyLost
from deployworker.failpoints import failpoint
from deployworker.intake.gates import CONVERGED, Gate
from deployworker.outcome import Result
from deployworker.rollout.analysis.providers import Providers
from deployworker.rollout.assess import Assessment, Pause

log = structlog.get_logger("deployworker.gates")

Stage = Callable[[Job], Result | None]
# Run a stage of `job` as the pipeline does (its log context; a Result ends the deploy).
Resume = Callable[[Job, Stage], None]
# Ask the watcher to describe these deployments now.
Wake = Callable[[Iterable[str]], None]
# A driver for another target's pipeline: (its ECS, its factory, its watcher's wake,
# its (account id, region)).
Elsewhere = Callable[[Ecs, Factory, Wake, tuple[str, str]], "GateDriver"]
# Attempts, and seconds between them, at answering a hook when AWS keeps failing.
ANSWER_ATTEMPTS = 10
ANSWER_RETRY_SECONDS = 10.0


def gates_of(job: Job) -> tuple[Gate, ...]:
    """The gates that judge this deploy: the entry's, except for the `rollback` action
    (putting the previous revision back waits for no analysis and no approval)."""
    return () if job.request.action == "rollback" else job.entry.gates


class GateDriver:
    """Starts the gates a deploy's entry has, and acts on how they end."""

    def __init__(
        self,
        ecs: Ecs,
        runner: Runner,
        wake: Wake = lambda _: None,
        elsewhere: Elsewhere | None = None,
        where: tuple[str, str] | None = None,
        tag_key: bytes | None = None,
    ) -> None:
        self._ecs = ecs
        self._tag_key = tag_key  # seals the hook record (`deploy.tagseal`)
        self.runner = runner
        self._wake = wake
        # Builds the driver of another (account, region)'s pipeline, like this one: its
        # ECS answers hooks and holds the votes, its CloudWatch is measured.
        self.elsewhere = elsewhere  # public
        self.where = where  # public: (account id, region) of a target's driver; None: home
        self._lock = threading.Lock()  # a gate starts only while its deployment is followed

    @classmethod
    def default(cls, ecs: Ecs, dispatch: Dispatch, wake: Wake) -> GateDriver:
        """A driver with no providers and no votes (a pipeline built without `gates`):
        a metric measures no data, and no vote ever arrives."""
        runner = Runner(Providers(None, None, None), NoVotes(), Scheduler(dispatch))
        return cls(ecs, runner, wake)

    def applied(self, job: Job) -> None:
        """After UpdateService: log each gate the service's configuration cannot run."""
        assert job.applied is not None
        for problem in problems(gates_of(job), job.applied.configuration):
            log.warning("gate.no_hook", problem=problem)

    def progress(self, job: Job, arn: str, now: Assessment) -> None:
        """The watcher's report (its thread): a new PAUSE hook is claimed for `_paused`."""
        pause = now.pause
        # Only the deploy's own deployment is gated. The worker's rollback (the `rollback`
        # action, or the previous revision put back after a failed gate) waits for no
        # gate: continued at once if the worker answers every PAUSE hook of the service.
        configuration = job.applied.configuration if job.applied else None
        restore = job.request.action == "rollback" or arn != job.base.deployment
        if pause is None or (restore and not owns_every_pause(job.entry.gates, configuration)):
            log_progress(job.fields, arn, now)
            return
        with self._lock:
            if job.gate_hook == pause.hook_id or job.lost is not None:
                return  # this pause is being (or was) looked at once already
            job.gate_hook, epoch = pause.hook_id, job.gate_epoch
        if restore:
            log_progress(job.fields, arn, now, gate=False, continued="the worker's rollback")
            done = Decision(Action.CONTINUE, "passed", "the worker's own rollback is not gated")
            self.runner.later(0.0, lambda: self._answer(job, arn, pause, done))
            return
        self.runner.later(0.0, lambda: self._paused(job, arn, now, epoch))

    def _paused(self, job: Job, arn: str, now: Assessment, epoch: int) -> None:
        """On the pool: the pause's stage and, when a gate judges it, the gate. Nothing
        starts once the deployment has ended (`settled` moved `epoch` on) or the copy
        of the message was lost; every tag write is made only while the copy is held."""
        pause = now.pause
        assert pause is not None
        try:
            with bound(job.fields), holding(job.held):
                stage = hook_stage(self._ecs, self._tag_key, job, pause)
                gate = gate_at(gates_of(job), stage) if stage else None
            log_progress(job.fields, arn, now, hook_stage=stage, gate=gate is not None)
            if gate is None:
                return
            with bound(job.fields), holding(job.held):
                configuration = job.applied.configuration if job.applied else None
                began = hookid.began(pause, configuration, stage)
                # Window tags land in gate order: a stale pause's would move the newest
                # window back, and the receiver refuse a current vote as a duplicate.
                with job.opening:
                    if not self._current(job, pause, epoch):
                        return
                    window = self._open_window(job, gate, began)
                    with self._lock:
                        if not self._current(job, pause, epoch):
                            return
                        job.gate = self.runner.start(
                            gate,
                            self._subject(job),
                            job.fields,
                            lambda d: self._answer(job, arn, pause, d),
                            window,
                        )
        except CopyLost:
            return  # the deploy ends as `released`; its redelivery looks at the hook again
        except Exception:  # a bug must not vanish in the pool's future: say which hook
            log.exception("gate.pause_failed", hook_id=pause.hook_id, deployment=arn)

    @staticmethod
    def _current(job: Job, pause: Pause, epoch: int) -> bool:
        """Whether `pause` is the newest claimed, its deployment followed, the copy held."""
        if job.gate_epoch == epoch and job.gate_hook == pause.hook_id and job.lost is None:
            return True
        log.info("gate.not_started", hook_id=pause.hook_id, reason="no longer the current pause")
        return False

    def settled(self, job: Job) -> None:
        """The deploy's deployment ended, or the deploy did: stop its gate, if any."""
        with self._lock:
            run, job.gate = job.gate, None
            job.gate_epoch += 1  # a pause claimed before this starts no gate now
        if isinstance(run, Run):
            self.runner.cancel(run)

    def verify(self, job: Job, passed: Result, fail: Stage, resume: Resume) -> bool:
        """Start the `converged` gate, if the entry has one (True). Its pass resumes the
        deploy with `passed`; its failure with `fail` (the worker's rollback)."""
        gate = gate_at(gates_of(job), CONVERGED)
        if gate is None:
            return False

        def end(decision: Decision) -> None:
            job.gate = None
            if decision.action is Action.CONTINUE:
                reason = f"{passed.reason}; {decision.reason}" if passed.reason else decision.reason
                resume(job, lambda _: replace(passed, reason=reason))
            else:
                job.gate_reason = decision.reason
                resume(job, fail)

        with job.opening:  # after any window a pause of the ended deployment is tagging
            window = self._open_window(job, gate, None)
        job.gate = self.runner.start(gate, self._subject(job), job.fields, end, window)
        return True

    def _open_window(self, job: Job, gate: Gate, began: float | None) -> float:
        """When this gate's window opened; for a gate that takes votes, tagged
        (`approvals.ballot.WINDOW_TAG`): the approvals receiver takes a vote from before
        it for another gate's or step's. A gate with no approval takes no vote, and its
        start waits for no TagResource."""
        opened = min(began, time.time()) if began is not None else time.time()
        if job.applied is not None and gate.approval is not None:
            try:
                self._ecs.tag_resource(job.applied.target, window_tag(opened))
            except AwsError as exc:
                log.warning("gate.window_tag_failed", error=str(exc))
        return opened

    @staticmethod
    def has_converged_gate(job: Job) -> bool:
        """Whether the entry verifies its deploys after they converge."""
        return gate_at(gates_of(job), CONVERGED) is not None

    def _subject(self, job: Job) -> Subject:
        cluster, service = job.key
        target = job.applied.target if job.applied else None
        return Subject(cluster, service, job.base.deploy_id or "", target, self.where)

    def _answer(
        self, job: Job, arn: str, pause: Pause, decision: Decision, attempt: int = 1
    ) -> None:
        """Answer the hook the gate judged, once, only while the copy is held (`held`)."""
        action = "CONTINUE" if decision.action is Action.CONTINUE else "ROLLBACK"
        with bound(job.fields), holding(job.held):
            with self._lock:  # a retry after the next pause was claimed keeps its gate
                job.gate = None if job.gate_hook == pause.hook_id else job.gate
            if job.lost is not None:
                return  # this copy of the message is no longer ours: no writes
            if action == "ROLLBACK":
                job.gate_reason = decision.reason
            try:
                status = hook_status(self._ecs, arn, pause.hook_id)
                if status != "AWAITING_ACTION":
                    # Answered already (before a crash, by a person, by its timeout).
                    log.warning("gate.hook_not_waiting", hook_id=pause.hook_id, status=status)
                    return
                self._ecs.continue_service_deployment(arn, pause.hook_id, action)
            except CopyLost:
                return  # lost meanwhile: the redelivery finds the hook still waiting
            except AwsError as exc:
                log.warning("gate.answer_failed", hook_id=pause.hook_id, error=str(exc))
                if attempt < ANSWER_ATTEMPTS:
                    self.runner.later(
                        ANSWER_RETRY_SECONDS,
                        lambda: self._answer(job, arn, pause, decision, attempt + 1),
                    )
                return
            failpoint("gate_answered")
            log.info("gate.hook_answered", hook_id=pause.hook_id, action=action, deployment=arn)
            self._wake([arn])
