"""Deploys in other accounts and regions: one pipeline per target, chosen per message.

The home pipeline (the worker's own account and region) is built by `app` as always.
`Targets` reads each message's target (`Intake.target_of`) and hands it to that
target's pipeline, built on first use with its own ECS, ECR, migrator, watcher and
budget (`aws.accounts`). A message that cannot be read, or that names an account
outside the allowlist, goes to the home pipeline, which rejects it with the reason.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import structlog

from deployworker.aws.accounts.sessions import Role
from deployworker.aws.accounts.targets import Accounts
from deployworker.aws.ecs import Ecs
from deployworker.aws.sqs import Message
from deployworker.deploy.job import Done
from deployworker.deploy.pipeline import Pipeline
from deployworker.deploy.supersede import Request
from deployworker.errors import ConfigError
from deployworker.intake.accounts import Target, account_of
from deployworker.intake.admit import Intake
from deployworker.intake.allowlist import find_entry
from deployworker.intake.message import DeployRequest
from deployworker.outcome import Result
from deployworker.rollout.watch import Watcher

log = structlog.get_logger("deployworker.targets")


class TargetPipeline(Pipeline):
    """A pipeline for one other (account, region): it admits requests for it alone."""

    def __init__(self, target: Target, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.target = target
        self._intake = replace(self._intake, serves=target)


@dataclass
class Built:
    """A target's pipeline and the watcher it alone uses (stopped at shutdown)."""

    pipeline: TargetPipeline
    watcher: Watcher
    ecs: Ecs


class Targets:
    """Routes each message to its target's pipeline; the interface of a `Pipeline`."""

    def __init__(
        self,
        home: Pipeline,
        intake: Intake,
        build: Callable[[Target, Role], Built],
        accounts: Accounts | None = None,
        home_ecs: Ecs | None = None,
    ) -> None:
        self.home = home
        self._home_ecs = home_ecs
        self.accounts = accounts  # each target's factory and budget
        self._intake = intake
        self._build = build
        self._lock = threading.Lock()
        self._built: dict[tuple[Target, Role], Built] = {}

    def _pipeline_for(self, request: DeployRequest | None) -> Pipeline:
        """The pipeline of the request's target; home's for anything home rejects."""
        home = self._intake.home
        try:
            target = self._intake.target_of(request) if request is not None else None
        except Exception:  # home's pipeline rejects it again, with the reason
            return self.home
        if target is None or home is None or request is None:
            return self.home
        # Only a target with an entry for this service gets a pipeline (and a watcher
        # thread): messages naming made-up regions must not build one each.
        name = (request.cluster_ref.name, request.service_ref.name)
        if find_entry(self._intake.allowlist(), *name, target, home) is None:
            return self.home
        built = self._built_for(target)
        return built.pipeline if built is not None else self.home

    def _built_for(self, target: Target) -> Built | None:
        """The target's pipeline, built on first use; None when it cannot be built."""
        account = account_of(self._intake.allowlist().accounts, target.account)
        role = Role(account.role_arn, account.external_id) if account else Role("")
        with self._lock:
            built = self._built.get((target, role))
            if built is None:
                try:
                    built = self._built[(target, role)] = self._build(target, role)
                except Exception:
                    log.exception("targets.build_failed", target=str(target))
                    return None  # home's pipeline refuses a target it does not serve
            return built

    @property
    def home_target(self) -> Target | None:
        """The worker's own account and region (None when unknown)."""
        return self._intake.home

    def ecs_in(self, target: Target | None) -> Ecs:
        """ECS in `target` (None: home), through its role: votes on a deploy are tagged
        where it runs. The caller checked the target has an entry. Raises `ConfigError`."""
        home = target is None or target == self._intake.home
        built = None if home or target is None else self._built_for(target)
        ecs = self._home_ecs if home else built.ecs if built is not None else None
        if ecs is None:
            raise ConfigError(f"no ECS for {target or 'home'}: its pipeline cannot be built")
        return ecs

    def _request(self, message: Message) -> DeployRequest | None:
        with contextlib.suppress(Exception):
            return self._intake.parse(message)
        return None

    def start(self, message: Message, done: Done) -> None:
        """`Pipeline.start` on the message's target's pipeline."""
        self._pipeline_for(self._request(message)).start(message, done)

    def handle(self, message: Message) -> Result:
        """`Pipeline.handle` on the message's target's pipeline."""
        return self._pipeline_for(self._request(message)).handle(message)

    def admissible(self, message: Message) -> Request | None:
        """`Pipeline.admissible` on the message's target's pipeline."""
        return self._pipeline_for(self._request(message)).admissible(message)

    def abandon(self, message: Message, reason: str) -> None:
        """`Pipeline.abandon` everywhere: only the pipeline holding the message acts."""
        self.home.abandon(message, reason)
        for built in self.built():
            built.pipeline.abandon(message, reason)

    def supersede(self, message: Message, request: Request, newer: Message) -> Result:
        """`Pipeline.supersede` (pure reporting, the same for every target)."""
        return self.home.supersede(message, request, newer)

    def built(self) -> list[Built]:
        """The target pipelines built so far."""
        with self._lock:
            return list(self._built.values())

    def watchers(self) -> list[Watcher]:
        """Home's watcher and each built target's: the events queue wakes them all."""
        return [self.home.watcher, *(b.watcher for b in self.built())]

    def wake_gates(self, cluster: str, service: str, deploy_id: str) -> None:
        """A vote on this deploy was recorded: every pipeline's gates look now."""
        for pipeline in [self.home, *(b.pipeline for b in self.built())]:
            pipeline.gates.runner.wake(cluster, service, deploy_id)

    def stop(self) -> None:
        """Stop every target's watcher (their waiters settle as released)."""
        for built in self.built():
            built.watcher.stop()

    def stop_gates(self) -> None:
        """Stop every pipeline's gates (after the drain, before their pool shuts down):
        no gate step or measurement runs any more."""
        for pipeline in [self.home, *(b.pipeline for b in self.built())]:
            pipeline.gates.runner.scheduler.stop()
            pipeline.gates.runner.measures.shutdown()
