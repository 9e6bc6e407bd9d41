"""A customer-managed key: the key-policy statements AWS's services need, and the KMS
actions of the roles that write to the encrypted topic and queues (read from the HCL)."""

from __future__ import annotations

import json

from test_terraform import MODULE, TF, _one, actions, conditions, hcl, module_statements

KMS = TF / "modules" / "deployworker-kms-key-policy"


def key_statements() -> dict[str, dict[str, object]]:
    found: dict[str, dict[str, object]] = {}
    policy = hcl(KMS / "main.tf")["data"][-1]["aws_iam_policy_document"]["key"]
    for statement in policy.get("statement", []):
        found[_one(statement["sid"])] = statement
    for dynamic in policy.get("dynamic", []):
        content = dynamic["statement"]["content"][0]
        found[_one(content["sid"])] = content
    return found


def principal(statement: dict[str, object]) -> tuple[str, str]:
    block = _one(statement["principals"])
    assert isinstance(block, dict)
    return _one(block["type"]), _one(_one(block["identifiers"]))


def test_the_key_policy_lets_sns_eventbridge_and_logs_use_the_key() -> None:
    statements = key_statements()
    assert set(statements) == {
        "DeployTopicDeliversToWorkQueue",
        "EcsEventsRuleDeliversToEventsQueue",
        "LogsEncryptWorkerLogs",
    }
    # SNS -> SQS and EventBridge -> SQS: the two actions AWS documents, for the one
    # topic and the one rule (aws:SourceArn), so no other topic or rule can use the key.
    sns = statements["DeployTopicDeliversToWorkQueue"]
    assert principal(sns) == ("Service", "sns.amazonaws.com")
    assert actions(sns) == {"kms:GenerateDataKey", "kms:Decrypt"}
    assert conditions(sns) == {("ArnEquals", "aws:SourceArn", json.dumps(["${local.topic_arn}"]))}
    events = statements["EcsEventsRuleDeliversToEventsQueue"]
    assert principal(events) == ("Service", "events.amazonaws.com")
    assert actions(events) == {"kms:GenerateDataKey", "kms:Decrypt"}
    assert conditions(events) == {
        ("ArnEquals", "aws:SourceArn", json.dumps(["${statement.value}"]))
    }
    logs = statements["LogsEncryptWorkerLogs"]
    assert principal(logs) == ("Service", "logs.${local.region}.amazonaws.com")
    assert conditions(logs) == {
        (
            "ArnEquals",
            "kms:EncryptionContext:aws:logs:arn",
            json.dumps(["${local.log_group}"]),
        )
    }
    for statement in statements.values():
        assert all(a.startswith("kms:") for a in actions(statement))
        assert "kms:*" not in actions(statement)


def test_the_key_policy_names_exactly_the_modules_topic_rule_and_log_group() -> None:
    # The statements are built from the module's name alone (known before anything
    # exists, so the key's owner can apply them first); they must name what the
    # deployworker module creates.
    text = (KMS / "main.tf").read_text()
    assert 'topic_arn  = "arn:${format(local.where, "sns")}:${var.name}-deploys.fifo"' in text
    assert 'rule_arn   = "arn:${format(local.where, "events")}:rule/${var.name}-ecs-events"' in text
    assert 'log_group  = "arn:${format(local.where, "logs")}:log-group:/ecs/${var.name}"' in text
    assert (
        'name                        = "${var.name}-deploys.fifo"'
        in (MODULE / "main.tf").read_text()
    )
    assert 'name          = "${var.name}-ecs-events"' in (MODULE / "ecs_events.tf").read_text()
    assert 'name              = "/ecs/${var.name}"' in (MODULE / "main.tf").read_text()
    # The worker module passes its own name and ecs_events, and outputs the statements.
    iam = hcl(MODULE / "iam.tf")
    called = next(m["kms_key_policy"] for m in iam["module"] if "kms_key_policy" in m)
    assert _one(called["source"]) == "../deployworker-kms-key-policy"
    assert _one(called["name"]) == "${var.name}"
    assert _one(called["ecs_events"]) == "${var.ecs_events}"
    outputs = {n: b for block in hcl(MODULE / "outputs.tf")["output"] for n, b in block.items()}
    assert _one(outputs["kms_key_policy_json"]["value"]) == "${module.kms_key_policy.json}"


def test_publisher_and_worker_get_the_kms_actions_for_the_encrypted_topic_and_queues() -> None:
    publisher = module_statements("publisher")
    assert set(publisher) == {"PublishDeployMessages", "EncryptDeployMessages"}
    assert actions(publisher["EncryptDeployMessages"]) == {"kms:GenerateDataKey", "kms:Decrypt"}
    assert _one(publisher["EncryptDeployMessages"]["resources"]) == ["${statement.value}"]
    text = (MODULE / "iam.tf").read_text()
    assert (
        'for_each = compact([var.kms_key_arn])\n    content {\n      sid       = "EncryptDeployMessages"'
        in text
    )
    # The worker receives from and sends to the encrypted queues, and publishes events.
    worker = module_statements()
    assert actions(worker["UseQueueKey"]) == {"kms:Decrypt", "kms:GenerateDataKey"}
