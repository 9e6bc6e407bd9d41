"""The CI-facing commands: `publish` (optionally `--wait`), `status` and `history`."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from deployworker.aws.ecs import Ecs
from deployworker.cli import exits
from deployworker.cli.ci_args import add_history, add_publish, add_status
from deployworker.cli.config import CLIENT_SETTINGS, load_settings
from deployworker.cli.follow import Follow, follow_ledger, known, ledger_for
from deployworker.cli.history import cmd_history, service_key
from deployworker.cli.outputs import write_outputs
from deployworker.cli.status import Status
from deployworker.errors import AwsError, Rejection
from deployworker.local import DEFAULT_REGION, use_fake_credentials
from deployworker.settings import Settings

LOCAL_TOPIC_ARN = "arn:aws:sns:{region}:123456789012:deployworker-deploys.fifo"


def _images(pairs: Sequence[str]) -> dict[str, str]:
    if bad := [pair for pair in pairs if "=" not in pair]:
        raise ValueError(f"--set takes CONTAINER=IMAGE, not {bad[0]!r}")
    return {name: image for name, _, image in (pair.partition("=") for pair in pairs)}


def _target(args: argparse.Namespace, settings: Settings) -> tuple[str | None, str | None]:
    """(region, endpoint URL) from flags, --local, then settings."""
    region, endpoint = args.region, args.endpoint_url
    if args.local:
        use_fake_credentials()
        region = region or settings.region or DEFAULT_REGION
        endpoint = endpoint or f"http://127.0.0.1:{settings.local_port}"
    return region or settings.region, endpoint or settings.endpoint_url


def _fields(args: argparse.Namespace) -> dict[str, Any]:
    source = {"commit": args.commit, "url": args.url, "actor": args.actor}
    promote_from = None
    if args.promote_from:
        cluster, sep, service = args.promote_from.partition("/")
        if not sep:
            raise ValueError(f"--from takes CLUSTER/SERVICE, not {args.promote_from!r}")
        promote_from = {"cluster": cluster, "service": service}
    return {
        "cluster": args.cluster,
        "service": args.service,
        "container": args.container,
        "image": args.image,
        "images": _images(args.set) if args.set else None,
        "deploy_id": args.deploy_id,
        "action": args.action,
        "to_deploy_id": args.to_deploy_id,
        "to_revision": args.to_revision,
        "from": promote_from,
        "source": {k: v for k, v in source.items() if v} or None,
        "account": args.target_account,
        "region": args.target_region,
    }


def cmd_publish(args: argparse.Namespace) -> int:
    """Publish one deploy message (and with --wait, follow it to its outcome)."""
    from deployworker.cli.publish import ledger_key, publish
    from deployworker.cli.targets import accounts_for
    from deployworker.queue.recording import digest_of

    settings = load_settings(CLIENT_SETTINGS)
    region, endpoint = _target(args, settings)
    topic, queue = args.topic_arn, args.queue_url
    if args.local and not queue:
        topic = topic or LOCAL_TOPIC_ARN.format(region=region)
    if not topic and not queue:  # the environment's, a topic first
        topic = settings.deploy_topic_arn
        queue = None if topic else settings.queue_url
    if args.release and not args.service:
        from deployworker.cli.release import cmd_publish_release

        source = {"commit": args.commit, "url": args.url, "actor": args.actor}
        return cmd_publish_release(args, settings, topic, queue, region, endpoint, source)
    if not args.cluster or not args.service:
        return exits.fail("publish needs --cluster and --service, or --release", exits.USAGE)
    accounts = accounts_for(settings, args.target_account)
    try:
        fields = _fields(args)
        if args.dry_run:
            from deployworker.cli.dryrun import dry_run

            return dry_run(fields, _ecs_for(region, endpoint, settings, args), region, endpoint)
        signing_key = (
            settings.signing_key.get_secret_value().encode() if settings.signing_key else None
        )
        sent = publish(
            fields,
            topic_arn=topic,
            queue_url=queue,
            region=region,
            endpoint_url=endpoint,
            signing_key=signing_key,
            accounts=accounts,
            group_id=f"release/{args.release}" if args.release else None,
        )
        key = ledger_key(sent.request, topic, queue, region, accounts)
    except Rejection as rejection:
        return exits.fail(f"invalid deploy message: {rejection.reason}", exits.USAGE)
    except AwsError as exc:
        return exits.fail(str(exc), exits.of_aws(exc))
    except ValueError as exc:
        return exits.fail(str(exc), exits.USAGE)
    published = {
        "message_id": sent.message_id,
        "deploy_id": sent.deploy_id,
        "group_id": sent.group_id,
    }
    print(
        json.dumps(published), file=sys.stderr if args.output == "json" else sys.stdout, flush=True
    )
    if not args.wait:
        write_outputs({"deploy_id": sent.deploy_id, "state": "published", "exit_code": 0})
        return exits.OK
    follow = Follow(
        args.cluster, args.service, key, sent.deploy_id, digest_of(sent.body), True,
        args.timeout, args.interval, args.output == "json", published,
    )  # fmt: skip
    images = {name: str(ref) for name, ref in sent.request.targets.items()}
    return _report(args, settings, region, endpoint, follow, images or None, published=True)


def _ecs_for(
    region: str | None, endpoint: str | None, settings: Settings, args: argparse.Namespace
) -> Ecs:
    from deployworker.cli.targets import ecs_for

    return ecs_for(settings, region, endpoint, args.target_account, args.target_region)


def _report(
    args: argparse.Namespace,
    settings: Settings,
    region: str | None,
    endpoint: str | None,
    follow: Follow,
    images: dict[str, str] | None,
    published: bool = False,
) -> int:
    """Answer from the ledger; from ECS only for a deploy the ledger does not know."""
    ecs = _ecs_for(region, endpoint, settings, args)
    table = ledger_for(args.ledger_table, settings, region, endpoint, args.local)
    if table is not None and (published or known(table, follow)):
        return follow_ledger(table, ecs, follow)
    why = "no deploy ledger is configured (DEPLOYWORKER_LEDGER_TABLE)"
    if table is not None:
        why = "the deploy ledger has no record of this deploy"
    print(
        f"note: {why}: reading ECS instead, which cannot tell a rejected or superseded deploy",
        file=sys.stderr,
        flush=True,
    )
    return _wait_and_report(ecs, follow, images)


def _wait_and_report(ecs: Ecs, follow: Follow, images: dict[str, str] | None) -> int:
    """The ECS reading: print the deploy's state (each change of it, with --wait)."""
    from deployworker.cli.status import EXIT_CODES, lookup, wait_for
    from deployworker.deploy.evidence import brief

    cluster, service, deploy_id = follow.cluster, follow.service, follow.deploy_id
    out = sys.stderr if follow.json else sys.stdout

    def report(status: Status) -> None:
        where = f"{cluster}/{service}" + (f" deploy {deploy_id}" if deploy_id else "")
        revision = f" [{status.task_definition}]" if status.task_definition else ""
        print(f"{where}: {status.state.value}: {status.detail}{revision}", file=out, flush=True)
        why = brief(status.evidence)
        if why:
            print(f"{where}: {why}", file=out, flush=True)

    def check() -> Status:
        return lookup(ecs, cluster, service, deploy_id, images)

    if follow.wait:
        status = wait_for(check, follow.timeout, follow.interval, report)
    else:
        status = check()
        report(status)
    code = EXIT_CODES[status.state]
    values = {"state": status.state.value, "task_definition": status.task_definition}
    write_outputs({"deploy_id": deploy_id, **values, "exit_code": code})
    if follow.json:
        document = {
            "from": "ecs",
            "deploy_id": deploy_id,
            "state": status.state.value,
            "reason": status.detail,
            "evidence": status.evidence,
            "revisions": {"task_definition": status.task_definition},
            "exit_code": code,
        }
        print(json.dumps(document, default=str), flush=True)
    return code


def cmd_status(args: argparse.Namespace) -> int:
    """Tell CI whether a deploy succeeded."""
    settings = load_settings(CLIENT_SETTINGS)
    region, endpoint = _target(args, settings)
    if args.release:
        from deployworker.cli.release import cmd_release_status

        args.allowlist = args.allowlist or settings.allowlist_path
        return cmd_release_status(args, region, endpoint)
    if not args.cluster or not args.service:
        return exits.fail("status needs --cluster and --service, or --release", exits.USAGE)
    try:
        key = service_key(args, settings, region)
        follow = Follow(
            args.cluster, args.service, key, args.deploy_id, None, args.wait,
            args.timeout, args.interval, args.output == "json",
        )  # fmt: skip
        return _report(args, settings, region, endpoint, follow, None)
    except ValueError as exc:
        return exits.fail(str(exc), exits.USAGE)


def add_ci_commands(sub: Any) -> None:
    """Register `publish`, `status` and `history` on the top-level subparsers."""
    add_publish(sub, cmd_publish)
    add_status(sub, cmd_status)
    add_history(sub, cmd_history)
