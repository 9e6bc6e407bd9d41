"""`deployworker iam-policy --ci`: the least-privilege policy of a CI role (pure).

CI publishes deploys (on the deploy topic, or straight to the work queue), then waits:
it reads its services' records in the deploy ledger (GetItem and the `by_time` history
query, limited by `dynamodb:LeadingKeys` to the ledger keys of the allowlist's
services), and ECS for the service events `--wait` prints and for the fallback reading
of deploys older than the ledger. The Terraform module's `ci_policy_json` output is
the same document; tests hold the two together.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from deployworker.cli.iam_statements import statement as _statement
from deployworker.cli.iam_targets import service_arns
from deployworker.intake.entries import Allowlist

if TYPE_CHECKING:
    from deployworker.cli.iam_statements import Scope


def ledger_keys(allowlist: Allowlist) -> list[str]:
    """The ledger partition keys of the services `allowlist` opts in at home."""
    return sorted(
        {
            f"{entry.cluster}/{entry.service}"
            for entry in allowlist.services
            if allowlist.account_id_of(entry) is None and entry.region is None
        }
    )


def ci_policy(
    allowlist: Allowlist, scope: Scope, topic_arn: str | None, queue_arn: str | None
) -> dict[str, Any]:
    """The CI role's policy: publish, read its ledger items, read its services in ECS."""
    if topic_arn:
        send = _statement("PublishDeployMessages", ["sns:Publish"], [topic_arn])
    elif queue_arn:
        send = _statement("SendDeployMessages", ["sqs:SendMessage"], [queue_arn])
    else:
        raise ValueError("give --topic-arn or --queue-arn: where CI sends its deploys")
    statements = [send]
    if scope.kms_key_arn:  # the deploy topic or queue is encrypted with this key
        kms = ["kms:GenerateDataKey", "kms:Decrypt"]
        statements.append(_statement("EncryptDeployMessages", kms, [scope.kms_key_arn]))
    if scope.ledger_table_arn:
        table = scope.ledger_table_arn
        statements.append(
            _statement(
                "ReadOwnLedgerItems",
                ["dynamodb:GetItem", "dynamodb:Query"],
                [table, f"{table}/index/by_time"],
                {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ledger_keys(allowlist)}},
            )
        )
    services = service_arns(allowlist, scope.partition, scope.account_id, scope.region)
    statements += [
        _statement(
            "ReadServiceEvents", ["ecs:DescribeServices", "ecs:ListServiceDeployments"], services
        ),
        _statement(
            "ReadServiceDeployments",
            ["ecs:DescribeServiceDeployments"],
            [s.replace(":service/", ":service-deployment/") + "/*" for s in services],
        ),
        # No resource-level permissions exist for it: AWS requires "*".
        _statement("ReadTaskDefinitions", ["ecs:DescribeTaskDefinition"], ["*"]),
    ]
    return {"Version": "2012-10-17", "Statement": statements}
