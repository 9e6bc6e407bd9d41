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

from deployworker.aws.accounts.budgets import OnRate, shared
from deployworker.aws.accounts.sessions import Role, Sessions, session_name
from deployworker.aws.accounts.targets import Accounts, ClientsFor
from deployworker.aws.clients import shared_session
from deployworker.aws.ecr import Ecr
from deployworker.aws.ecs import Ecs
from deployworker.aws.factory import Factory
from deployworker.aws.sqs import Message
from deployworker.deploy.act import Actor
from deployworker.deploy.job import Done
from deployworker.deploy.migrate import Migrator
from deployworker.deploy.pipeline import Pipeline
from deployworker.deploy.serial import Dispatch
from deployworker.deploy.sources import registry_reader, source_reader
from deployworker.deploy.supersede import Request
from deployworker.errors import ConfigError
from deployworker.intake.accounts import Target, account_of
from deployworker.intake.admit import Intake
from deployworker.intake.allowlist import find_entry
from deployworker.intake.message import DeployRequest
from deployworker.observe.events import Emit
from deployworker.outcome import Result
from deployworker.rollout.watch import Watcher
from deployworker.settings import Settings

log = structlog.get_logger("deployworker.targets")


def build_accounts(
    settings: Settings,
    home: Factory,
    home_account: str,
    on_rate: OnRate | None = None,
    clients_for: ClientsFor | None = None,
) -> Accounts:
    """Every target's factory and budget: each replica's share of the ECS budgets."""
    sessions = Sessions(
        shared_session(),
        session_name(settings.session_name),
        settings.endpoint_url,
        settings.assume_role_seconds,
        settings.credentials_refresh_seconds,
    )
    budgets = shared(settings.ecs_budgets(), settings.replicas)
    return Accounts(home, home_account, sessions, budgets, on_rate, clients_for)


class TargetPipeline(Pipeline):
    """A pipeline for one other (account, region): it admits requests for it alone."""

    def __init__(self, target: Target, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.target = target
        self._intake = replace(self._intake, serves=target)


@dataclass
class _Built:
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
        build: Callable[[Target, Role], _Built],
        accounts: Accounts | None = None,
        home_ecs: Ecs | None = None,
    ) -> None:
        self.home = home
        self._home_ecs = home_ecs
        self.accounts = accounts  # each target's factory and budget
        self._intake = intake
        self._build = build
        self._lock = threading.Lock()
        self._built: dict[tuple[Target, Role], _Built] = {}

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

    def _built_for(self, target: Target) -> _Built | None:
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

    def built(self) -> list[_Built]:
        """The target pipelines built so far."""
        with self._lock:
            return list(self._built.values())

    def watchers(self) -> list[Watcher]:
        """Home's watcher and each built target's: the events queue wakes them all."""
        return [self.home.watcher, *(b.watcher for b in self.built())]

    def stop(self) -> None:
        """Stop every target's watcher (their waiters settle as released)."""
        for built in self.built():
            built.watcher.stop()


def build_targets(
    settings: Settings,
    accounts: Accounts,
    home: Pipeline,
    intake: Intake,
    emit: Emit,
    dispatch: Dispatch,
    home_actor: Actor | None = None,
    on_round: Callable[[int, int, float], None] = lambda *_: None,
) -> Targets:
    """Route messages by target: home's to `home` (whose intake is `intake`), each other
    target's to a pipeline like home's, with that target's adapters and budget."""

    def build(target: Target, role: Role) -> _Built:
        factory = accounts.factory(target.account, target.region, role if role.arn else None)
        limiter = accounts.limiter(target.account, target.region)
        ecs = Ecs(factory.client("ecs"), factory.caller("ecs", limiter))
        watcher = Watcher(
            ecs,
            settings.watch_round_seconds,
            describe_rate=settings.describe_deployments_rate / settings.replicas,
            on_round=on_round,
        )
        watcher.start()
        actor = Actor(
            ecs,
            Migrator(ecs, settings.watch_interval_seconds),
            factory.adapter(Ecr, "ecr"),
            region=target.region,
            account=target.account,
            non_ecr=settings.non_ecr_pinning,
            default_timeout=settings.deploy_timeout_seconds,
            sources=source_reader(accounts, intake, target),
            registries=registry_reader(accounts, intake),
        )
        elsewhere, where = home.gates.elsewhere, (target.account, target.region)
        gates = elsewhere(ecs, factory, watcher.wake, where) if elsewhere else None
        pipeline = TargetPipeline(
            target,
            ecs,
            actor,
            watcher,
            intake.allowlist,
            settings.deploy_timeout_seconds,
            region=intake.region,
            account=intake.account,
            emit=emit,
            signing_key=intake.signing_key,
            signing_max_age=intake.signing_max_age,
            dispatch=dispatch,
            gates=gates,
        )
        log.info("targets.built", account=target.account, region=target.region, role=role.arn)
        return _Built(pipeline, watcher, ecs)

    if home_actor is not None and intake.home is not None:
        home_actor.sources = source_reader(accounts, intake, intake.home)
        home_actor.registries = registry_reader(accounts, intake)
    return Targets(home, intake, build, accounts, home_actor.ecs if home_actor else None)
