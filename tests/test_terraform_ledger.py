"""The ledger in Terraform: the table as local mode makes it, the worker's one write,
and the CI role's policy, the same document as `deployworker iam-policy --ci`."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from deployworker.aws.dynamodb import table_definition
from test_terraform import EXAMPLE, MODULE, actions, conditions, hcl, module_statements


def _table() -> Any:
    resource = next(b for b in hcl(MODULE / "ledger.tf")["resource"] if "aws_dynamodb_table" in b)
    return resource["aws_dynamodb_table"]["ledger"]


def _plain(value: Any) -> Any:
    """hcl2's parse with every one-element list unwrapped."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if not k.startswith("__")}
    if isinstance(value, list):
        return _plain(value[0]) if len(value) == 1 else [_plain(v) for v in value]
    return value


def test_the_table_has_ttl_point_in_time_recovery_encryption_and_local_modes_keys() -> None:
    table = _plain(_table())
    assert table["ttl"] == {"attribute_name": "expires_at", "enabled": True}
    assert table["point_in_time_recovery"] == {"enabled": True}
    assert table["server_side_encryption"]["enabled"] is True
    local = table_definition("t")
    assert (table["hash_key"], table["range_key"]) == ("target", "deploy_id")
    attributes = {(a["name"], a["type"]) for a in table["attribute"]}
    assert attributes == {
        (a["AttributeName"], a["AttributeType"]) for a in local["AttributeDefinitions"]
    }
    lsi = local["LocalSecondaryIndexes"][0]
    assert table["local_secondary_index"]["name"] == lsi["IndexName"]
    assert table["local_secondary_index"]["range_key"] == lsi["KeySchema"][1]["AttributeName"]
    gsi = table["global_secondary_index"]
    assert (gsi["name"], gsi["hash_key"], gsi["range_key"]) == ("by_phase", "phase", "updated_at")


def test_the_worker_gains_exactly_the_ledger_write() -> None:
    statement = module_statements()["WriteDeployLedger"]
    assert actions(statement) == {"dynamodb:UpdateItem"}
    assert _plain(statement["resources"]) == "${aws_dynamodb_table.ledger.arn}"


def test_iam_policy_ci_prints_the_modules_ci_document() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "deployworker",
            "iam-policy",
            "--ci",
            "--allowlist",
            str(EXAMPLE / "allowlist-production.yaml"),
            "--region",
            "eu-west-1",
            "--account-id",
            "123456789012",
            "--topic-arn",
            "arn:aws:sns:eu-west-1:123456789012:deployworker-deploys.fifo",
            "--kms-key-arn",
            "arn:aws:kms:eu-west-1:123456789012:key/1",
            "--ledger-table-arn",
            "arn:aws:dynamodb:eu-west-1:123456789012:table/deployworker-ledger",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    printed = {s["Sid"]: s for s in json.loads(result.stdout)["Statement"]}
    terraform = module_statements("ci")
    assert set(printed) == set(terraform)
    for sid, statement in printed.items():
        assert set(statement["Action"]) == actions(terraform[sid]), sid
        keys = {
            (test, key) for test, pairs in statement.get("Condition", {}).items() for key in pairs
        }
        assert keys == {(t, k) for t, k, _ in conditions(terraform[sid])}, sid
    leading = printed["ReadOwnLedgerItems"]["Condition"]["ForAllValues:StringEquals"]
    assert leading["dynamodb:LeadingKeys"] and all(
        key.count("/") == 1 for key in leading["dynamodb:LeadingKeys"]
    )
    assert "dynamodb:PutItem" not in json.dumps(printed)


def test_iam_policy_ci_sends_on_the_queue_when_ci_has_no_topic() -> None:
    from deployworker.cli.iam import Scope
    from deployworker.cli.iam_ci import ci_policy
    from deployworker.intake.allowlist import load_allowlist

    allowlist = load_allowlist((EXAMPLE / "allowlist-production.yaml").read_text())
    queue = "arn:aws:sqs:eu-west-1:123456789012:deployworker-deploys.fifo"
    policy = ci_policy(allowlist, Scope("eu-west-1", "123456789012"), None, queue)
    sids = [s["Sid"] for s in policy["Statement"]]
    assert sids[0] == "SendDeployMessages"
    assert policy["Statement"][0]["Action"] == ["sqs:SendMessage"]
    assert "ReadOwnLedgerItems" not in sids  # no ledger table given: nothing to read
