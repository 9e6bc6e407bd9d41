"""`deployworker history`: a service's last deploys, from the deploy ledger."""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict

from deployworker.aws.dynamodb import LedgerTable
from deployworker.cli import exits
from deployworker.ledger import read
from deployworker.ledger.read import target_key
from deployworker.ledger.record import Entry
from deployworker.settings import Settings


def service_key(args: argparse.Namespace, settings: Settings, region: str | None) -> str:
    """The service's ledger key (`--cluster`, `--service` and the target flags); the
    worker's own account and region are home."""
    from deployworker.cli.publish import home_of
    from deployworker.cli.targets import accounts_for

    if not args.target_account and not args.target_region:
        return target_key(args.cluster, args.service)
    account = args.target_account
    listed = accounts_for(settings, account) or {}
    if account in listed:
        account = listed[account].account_id
    home = home_of(settings.deploy_topic_arn, settings.queue_url, region)
    account = account or (home.account if home else settings.account_id)
    where = (account, args.target_region or region)
    if home is not None and where == (home.account, home.region):
        return target_key(args.cluster, args.service)
    return target_key(args.cluster, args.service, *where)


def cmd_history(args: argparse.Namespace) -> int:
    """A service's last deploys, from the ledger."""
    from deployworker.cli.ci import _target
    from deployworker.cli.config import CLIENT_SETTINGS, load_settings
    from deployworker.cli.follow import ledger_for

    settings = load_settings(CLIENT_SETTINGS)
    region, endpoint = _target(args, settings)
    table = ledger_for(args.ledger_table, settings, region, endpoint, args.local)
    if table is None:
        message = "history reads the deploy ledger: set DEPLOYWORKER_LEDGER_TABLE"
        return exits.fail(message, exits.CONFIG)
    return show(table, service_key(args, settings, region), args.limit, args.output == "json")


def line(entry: Entry) -> str:
    """One deploy: when, deploy_id, image, outcome, duration, commit and actor, approvers."""
    when = time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(entry.created_at))
    images = ",".join(entry.images.values()) or "-"
    took = f"{entry.duration:.0f}s" if entry.duration is not None else "-"
    source = entry.source or {}
    commit, actor = source.get("commit", "-")[:12], source.get("actor", "-")
    approvers = ",".join(
        str(v.get("person") or v.get("principal") or "?")
        for v in entry.votes
        if v.get("action", "approve") == "approve"
    )
    return "  ".join(
        [when, entry.deploy_id, images, entry.state.value, took, commit, actor, approvers or "-"]
    )


def show(table: LedgerTable, target: str, limit: int, as_json: bool) -> int:
    """Print `target`'s last `limit` deploys, newest first."""
    entries = read.history(table, target, max(1, limit))
    if as_json:
        records = [{**asdict(e), "state": e.state.value} for e in entries]
        print(json.dumps({"target": target, "deploys": records}, default=str))
        return exits.OK
    if not entries:
        print(f"{target}: no deploys in the ledger")
        return exits.OK
    print(
        "  ".join(["when", "deploy_id", "image", "outcome", "took", "commit", "actor", "approvers"])
    )
    for entry in entries:
        print(line(entry))
    return exits.OK
