"""Building the gate machinery from the parts `app` has: one call, `gates_for`.

`build_gates` takes the providers and the vote book as parameters (tests give
stand-ins); left out, a metric measures "no data" (inconclusive) and nobody's vote
ever arrives. `gates_for` is what `app` calls: `rollout.analysis.providers` for the
measurements, `deploy.approvals.book.TagVoteBook` for the votes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

from deployworker.aws.cloudwatch import CloudWatch
from deployworker.aws.ecs import Ecs
from deployworker.aws.factory import Factory
from deployworker.aws.identity import client_region
from deployworker.deploy.approvals.book import TagVoteBook
from deployworker.deploy.approvals.votes import vote_target
from deployworker.deploy.gates.contract import NoVotes, VoteBook, Window
from deployworker.deploy.gates.drive import GateDriver, Wake
from deployworker.deploy.gates.fit import problems
from deployworker.deploy.gates.runner import Runner
from deployworker.deploy.gates.schedule import Dispatch, Scheduler
from deployworker.errors import AwsError
from deployworker.intake.entries import Allowlist
from deployworker.observe.events import Emit, discard
from deployworker.observe.metrics import Metrics
from deployworker.rollout.analysis.measure import Provider
from deployworker.rollout.analysis.providers import Providers, build_providers
from deployworker.settings import Settings

# How often an open approval looks at its votes (a `wake` looks at once).
APPROVAL_POLL_SECONDS = 5.0


def build_gates(
    ecs: Ecs,
    dispatch: Dispatch,
    wake: Callable[[Iterable[str]], None],
    emit: Emit = discard,
    provider: Provider | None = None,
    votes: VoteBook | None = None,
    metrics: Metrics | None = None,
    poll_seconds: float = APPROVAL_POLL_SECONDS,
    on_window: Window | None = None,
    vote_to: Sequence[str] = (),
    tag_key: bytes | None = None,
) -> GateDriver:
    """The gate driver for a pipeline: gate steps run on `dispatch` (the resume pool),
    progress is tagged on the deploy's revision with `ecs`, and `wake` asks the
    watcher to describe a deployment whose hook was just answered. `metrics` counts
    gate endings and pending approvals; `on_window(cluster, service, opened_at,
    deadline)` hears an approval window open, and close (None, None); `vote_to` is where
    `approval_requested`'s command sends votes (`approvals.votes.vote_target`);
    `tag_key` seals the hook record the driver tags (`deploy.tagseal`)."""

    def tag(arn: str, tags: Mapping[str, str]) -> None:
        ecs.tag_resource(arn, dict(tags))

    runner = Runner(
        provider or Providers(None, None, None),
        votes or NoVotes(),
        Scheduler(dispatch),
        emit,
        tag,
        metrics.gate_ended if metrics is not None else lambda *_: None,
        metrics.approval_pending if metrics is not None else lambda *_: None,
        poll_seconds=poll_seconds,
        on_window=on_window or (lambda *_: None),
        vote_to=vote_to,
    )
    return GateDriver(ecs, runner, wake, tag_key=tag_key)


def gates_for(
    settings: Settings,
    aws: Factory,
    ecs: Ecs,
    dispatch: Dispatch,
    wake: Callable[[Iterable[str]], None],
    emit: Emit,
    metrics: Metrics,
    tag_key: bytes | None = None,
) -> GateDriver:
    """The gate driver `app` wires: measurements through the providers the settings
    configure (`build_providers`), votes from the tags approvals record on the deploy's
    revision (`TagVoteBook`), and the metrics of endings, pending approvals and windows.
    `approval_requested`'s command names the worker's region and where deploys are sent
    (the deploy topic when set, else the work queue). Its `elsewhere` builds the same
    for another target's pipeline, on that target's ECS and CloudWatch.
    Raises `ConfigError` for a wrong Prometheus URL or credentials."""
    provider = build_providers(settings, aws, metrics.measured)
    region = settings.region or client_region(aws.client("sts"))
    to = vote_target(region, settings.queue_url, settings.deploy_topic_arn, settings.endpoint_url)

    def driver(ecs: Ecs, providers: Providers, wake: Wake) -> GateDriver:
        return build_gates(  # one per pipeline, sharing the metrics and the pool
            ecs,
            dispatch,
            wake,
            emit,
            providers,
            TagVoteBook(ecs, tag_key),
            metrics,
            on_window=metrics.approval_window,
            vote_to=to,
            tag_key=tag_key,
        )

    def elsewhere(ecs: Ecs, there: Factory, wake: Wake, where: tuple[str, str]) -> GateDriver:
        # CloudWatch where the target's alarms and metrics live; Prometheus is shared.
        cloudwatch = there.adapter(CloudWatch, "cloudwatch")
        found = driver(ecs, provider.elsewhere(cloudwatch), wake)
        found.where = where  # its approve command names the target
        return found

    home = driver(ecs, provider, wake)
    home.elsewhere = elsewhere
    return home


def review(ecs: Ecs, allowlist: Allowlist) -> list[str]:
    """`check-allowlist --describe`: each gate that does not fit its service as ECS
    describes it now (no PAUSE hook at its stage, a hook timeout shorter than the gate)."""
    found: list[str] = []
    for entry in allowlist.services:
        if not entry.gates:
            continue
        try:
            service = ecs.describe_service(entry.cluster, entry.service)
        except AwsError as exc:
            found.append(f"{entry.cluster}/{entry.service}: cannot describe it ({exc})")
            continue
        where = f"{entry.cluster}/{entry.service}"
        problems_now = problems(entry.gates, service.get("deploymentConfiguration"))
        found += [f"{where}: {p}" for p in problems_now]
    return found
