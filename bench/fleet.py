"""A synthetic fleet for the quota checks: N services over 10 clusters and 5 accounts.

`python -m bench.fleet` prints the sizes of the policies and of the ECS events pattern
that `deployworker iam-policy` and the Terraform module render for 1, 10, 50 and 500
services (IAM counts characters without whitespace, so do we).
"""

from __future__ import annotations

import argparse

CLUSTERS = 10
ACCOUNTS = ["111111111111", "222222222222", "333333333333", "444444444444", "555555555555"]
HOME = ACCOUNTS[0]
REGION = "eu-west-1"


def fleet(count: int, clusters: int = CLUSTERS) -> list[tuple[str, str, str]]:
    """(account, cluster, service) for `count` services: round-robin over the clusters,
    each cluster living in one of the five accounts (two clusters per account)."""
    found = []
    for i in range(count):
        cluster = f"cluster-{i % clusters:02d}"
        account = ACCOUNTS[(i % clusters) % len(ACCOUNTS)]
        found.append((account, cluster, f"service-{i:04d}"))
    return found


def allowlist_yaml(count: int, clusters: int = CLUSTERS) -> str:
    """The allowlist opting in `fleet(count)`; the home account's entries name none."""
    lines = ["version: 1", "accounts:"]
    for n, account in enumerate(ACCOUNTS[1:], start=1):
        lines += [
            f"  acct{n}:",
            f'    account_id: "{account}"',
            f"    role_arn: arn:aws:iam::{account}:role/deployworker-target",
        ]
    lines.append("services:")
    for account, cluster, service in fleet(count, clusters):
        lines.append(f"  - cluster: {cluster}")
        if account != HOME:
            lines.append(f"    account: acct{ACCOUNTS.index(account)}")
        lines += [
            f"    service: {service}",
            "    containers: [app]",
            f"    images: [{HOME}.dkr.ecr.{REGION}.amazonaws.com/{service}]",
        ]
    return "\n".join(lines) + "\n"


def families(count: int, how: str) -> list[str]:
    """The task-definition families (or prefixes) `iam-policy --family` is given."""
    if how == "cluster":
        return list(dict.fromkeys(f"{cluster}-*" for _, cluster, _ in fleet(count)))
    if how == "service":
        return [f"{cluster}-{service}" for _, cluster, service in fleet(count)]
    return []


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--counts", default="1,10,50,500")
    parser.add_argument(
        "--families",
        choices=["none", "cluster", "service"],
        default="cluster",
        help="--family per cluster prefix (cluster-00-*), per service, or none",
    )
    args = parser.parse_args()
    from deployworker.cli.iam import Scope, worker_policy
    from deployworker.cli.iam_targets import service_arns, target_policy
    from deployworker.cli.quotas import ecs_event_pattern, size
    from deployworker.intake.allowlist import load_allowlist

    for count in (int(c) for c in args.counts.split(",")):
        allowlist = load_allowlist(allowlist_yaml(count))
        scope = Scope(region=REGION, account_id=HOME, families=families(count, args.families))
        worker = size(worker_policy(allowlist, scope))
        targets = [
            size(target_policy(allowlist, a, scope))
            for a in ACCOUNTS[1:]
            if any(s[0] == a for s in fleet(count))
        ]
        home = service_arns(allowlist, "aws", HOME, REGION)
        every = [f"arn:aws:ecs:{REGION}:{a}:service/{c}/{s}" for a, c, s in fleet(count)]
        print(
            f"{count:>4} services: worker policy {worker:>7,}  largest target policy "
            f"{max(targets, default=0):>7,}  events pattern {size(ecs_event_pattern(home)):>5,}"
            f" (every account's clusters: {size(ecs_event_pattern(every)):,})"
        )


if __name__ == "__main__":
    main()
