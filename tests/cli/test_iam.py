"""`iam-policy`'s gate statements: CloudWatch only as far as the allowlist's gates use it."""

from __future__ import annotations

from typing import Any

import pytest

from deployworker.cli.iam import Scope, worker_policy
from deployworker.intake.entries import Allowlist

SCOPE = Scope(region="eu-west-1", account_id="123456789012", partition="aws")


def allowlist(*metrics: dict[str, Any]) -> Allowlist:
    entry: dict[str, Any] = {
        "cluster": "prod",
        "service": "web",
        "containers": ["app"],
        "images": ["123456789012.dkr.ecr.eu-west-1.amazonaws.com/web"],
    }
    if metrics:
        entry["gates"] = [{"at": "converged", "analysis": list(metrics)}]
    return Allowlist.model_validate({"version": 1, "services": [entry]})


def gate_statements(policy: dict[str, Any]) -> dict[str, Any]:
    return {
        s["Sid"]: (s["Action"], s["Resource"])
        for s in policy["Statement"]
        if any(a.startswith("cloudwatch:") for a in s["Action"]) or s["Sid"] == "ReadPrometheusAuth"
    }


ALARMS = {"name": "a", "cloudwatch_alarms": ["web-5xx", "web-latency", "web-5xx"]}
METRIC = {"name": "m", "cloudwatch": {"namespace": "N", "metric": "M"}, "max": 1}
PROMQL = {"name": "p", "prometheus": "up", "min": 1}


@pytest.mark.parametrize(
    ("metrics", "expected"),
    [
        ((), {}),
        ((PROMQL,), {}),
        (
            (ALARMS,),
            {
                "ReadGateAlarms": (
                    ["cloudwatch:DescribeAlarms"],
                    [
                        "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:web-5xx",
                        "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:web-latency",
                    ],
                )
            },
        ),
        ((METRIC, PROMQL), {"ReadGateMetrics": (["cloudwatch:GetMetricData"], ["*"])}),
    ],
)
def test_cloudwatch_reads_follow_the_gates(
    metrics: tuple[dict[str, Any], ...], expected: dict[str, Any]
) -> None:
    assert gate_statements(worker_policy(allowlist(*metrics), SCOPE)) == expected


def test_the_prometheus_secret_is_readable_when_given() -> None:
    arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:prometheus-AbCdEf"
    scope = Scope(region="eu-west-1", account_id="123456789012", prometheus_secret_arn=arn)
    assert gate_statements(worker_policy(allowlist(), scope)) == {
        "ReadPrometheusAuth": (["secretsmanager:GetSecretValue"], [arn])
    }


def test_the_iam_modules_import_one_way() -> None:
    """`iam_statements` is the base; `iam_releases` and `iam_targets` build on it and
    `iam` on them and `iam_events`: no module imports one that imports it (no cycle, no deferred
    import to hide one)."""
    import ast
    from pathlib import Path

    cli = Path(__file__).resolve().parents[2] / "src" / "deployworker" / "cli"
    imports: dict[str, set[str]] = {}
    for name in ("iam", "iam_statements", "iam_releases", "iam_targets", "iam_events", "quotas"):
        tree = ast.parse((cli / f"{name}.py").read_text())
        imports[name] = {
            node.module.rsplit(".", 1)[1]
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom)
            and node.module
            and node.module.startswith("deployworker.cli.")
        }
    assert imports["iam_statements"] == set()
    assert imports["iam_releases"] == {"iam_statements"}
    assert imports["iam_targets"] == {"iam_statements"}
    assert imports["iam_events"] == set()
    assert imports["iam"] == {"iam_statements", "iam_releases", "iam_targets", "iam_events"}
    assert "quotas" not in set().union(*(imports[n] for n in imports if n != "quotas"))
