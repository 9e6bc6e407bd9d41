"""The allowlist's gate schema: what loads, and what is refused with a reason."""

from __future__ import annotations

import json
import textwrap
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from deployworker.intake.allowlist import AllowlistError, load_allowlist
from deployworker.intake.gates import Gate, Metric, gates_seconds

ROLE = "arn:aws:iam::123456789012:role/release-managers"
EXAMPLE = textwrap.dedent(
    f"""
    version: 1
    services:
      - cluster: prod
        service: web
        containers: [app]
        images: [123456789012.dkr.ecr.eu-west-1.amazonaws.com/web]
        gates:
          - at: POST_TEST_TRAFFIC_SHIFT
            analysis:
              - name: error-ratio
                prometheus: sum(rate(http_requests_total{{code=~"5.."}}[1m]))
                max: 0.01
                interval: 30s
                count: 5
                failure_limit: 0
              - name: alarms
                cloudwatch_alarms: [web-5xx, web-latency]
              - name: p99
                cloudwatch:
                  namespace: AWS/ApplicationELB
                  metric: TargetResponseTime
                  dimensions: {{LoadBalancer: app/web/50dc6c495c0c9188}}
                  stat: p99
                  period: 60
                max: 0.5
            approval:
              approvers: [{ROLE}]
              required: 1
              timeout: 2h
            on_timeout: rollback
            on_inconclusive: approval
          - at: converged
            analysis:
              - name: alarms
                cloudwatch_alarms: [web-5xx]
    """
)


def test_the_issue_example_loads() -> None:
    entry = load_allowlist(EXAMPLE).entry("prod", "web")
    assert entry is not None
    first, converged = entry.gates
    assert first.at == "POST_TEST_TRAFFIC_SHIFT" and converged.at == "converged"
    assert [m.name for m in first.analysis] == ["error-ratio", "alarms", "p99"]
    assert first.analysis[0].interval == 30 and first.analysis[0].seconds == 120
    assert first.approval is not None and first.approval.timeout == 7200
    assert first.seconds == 120 + 7200
    assert gates_seconds(entry.gates) == 7320


BAD_GATES: list[tuple[dict[str, Any], str]] = [
    ({"at": "converged"}, "neither analysis nor approval"),
    ({"at": "SOMEWHERE"}, "Input should be"),
    ({"at": "converged", "approval": {"approvers": []}}, "at least one approver"),
    ({"at": "converged", "approval": {"approvers": ["bob"]}}, "not an IAM role ARN"),
    ({"at": "converged", "approval": {"approvers": [ROLE], "timeout": "2d"}}, "not a duration"),
    ({"at": "converged", "analysis": [{"name": "m", "max": 1}]}, "exactly one of"),
    (
        {
            "at": "converged",
            "analysis": [{"name": "m", "prometheus": "up", "cloudwatch_alarms": ["a"], "max": 1}],
        },
        "exactly one of",
    ),
    ({"at": "converged", "analysis": [{"name": "m", "prometheus": "up"}]}, "needs min, max"),
    (
        {"at": "converged", "analysis": [{"name": "m", "cloudwatch_alarms": ["a"], "max": 1}]},
        "no min or max",
    ),
    (
        {"at": "converged", "analysis": [{"name": "m", "prometheus": "up", "min": 2, "max": 1}]},
        "above max",
    ),
    (
        {
            "at": "converged",
            "analysis": [
                {"name": "m", "prometheus": "up", "max": 1, "count": 2, "failure_limit": 2}
            ],
        },
        "could never fail",
    ),
    (
        {
            "at": "converged",
            "analysis": [
                {
                    "name": "m",
                    "cloudwatch": {"namespace": "N", "metric": "M", "period": 90},
                    "max": 1,
                }
            ],
        },
        "multiple of 60",
    ),
    (
        {
            "at": "converged",
            "analysis": [
                {"name": "m", "prometheus": "up", "max": 1},
                {"name": "m", "prometheus": "up", "max": 2},
            ],
        },
        "unique",
    ),
]


@pytest.mark.parametrize(("gate", "reason"), BAD_GATES)
def test_bad_gates_are_refused_with_their_reason(gate: dict[str, Any], reason: str) -> None:
    with pytest.raises(ValidationError, match=reason):
        Gate.model_validate(gate)


def _with_gates(gates: str) -> str:
    return EXAMPLE.split("\n    gates:")[0] + "\n" + textwrap.indent(gates, "    ")


def test_two_gates_at_one_stage_are_refused() -> None:
    text = _with_gates(
        "gates:\n"
        f"  - {{at: converged, approval: {{approvers: [{ROLE}]}}}}\n"
        f"  - {{at: converged, approval: {{approvers: [{ROLE}]}}}}\n"
    )
    with pytest.raises(AllowlistError, match="two gates sit at converged"):
        load_allowlist(text)


def test_a_gate_that_outlasts_the_message_budget_is_refused() -> None:
    text = _with_gates(
        "timeout: 10m\n"
        "gates:\n"
        f"  - {{at: converged, approval: {{approvers: [{ROLE}], timeout: 12h}}}}\n"
    )
    with pytest.raises(AllowlistError, match="its gates may wait"):
        load_allowlist(text)


@given(
    count=st.integers(1, 1000),
    interval=st.integers(1, 3600),
    limit=st.integers(0, 1000),
)
def test_analysis_time_is_the_measurements_after_the_first(
    count: int, interval: int, limit: int
) -> None:
    spec = {"name": "m", "prometheus": "up", "max": 1, "count": count, "interval": interval}
    spec["failure_limit"] = limit
    if limit >= count:
        with pytest.raises(ValidationError):
            Metric.model_validate(spec)
        return
    assert Metric.model_validate(spec).seconds == (count - 1) * interval


@pytest.mark.parametrize("stage", ["TEST_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT"])
def test_a_gate_where_ecs_refuses_pause_hooks_is_refused_at_load(stage: str) -> None:
    # botocore 1.44, DeploymentLifecycleHook.lifecycleStages: "PAUSE hooks cannot be
    # configured at TEST_TRAFFIC_SHIFT or PRODUCTION_TRAFFIC_SHIFT stages."
    text = EXAMPLE.replace("at: POST_TEST_TRAFFIC_SHIFT", f"at: {stage}")
    with pytest.raises(AllowlistError) as refused:
        load_allowlist(text)
    assert f"a gate cannot sit at {stage}: ECS refuses PAUSE hooks there" in str(refused.value)


SSO = (
    "arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/eu-west-1/"
    "AWSReservedSSO_ReleaseManagers_0123456789abcdef"
)


def approval(approvers: list[Any], required: int = 1) -> str:
    gate = {
        "at": "POST_TEST_TRAFFIC_SHIFT",
        "approval": {"approvers": approvers, "required": required},
    }
    entry = {
        "cluster": "prod",
        "service": "web",
        "containers": ["app"],
        "images": ["123456789012.dkr.ecr.eu-west-1.amazonaws.com/web"],
        "gates": [gate],
    }
    return json.dumps({"version": 1, "services": [entry]})


@pytest.mark.parametrize(
    ("approvers", "required", "error"),
    [
        # one role counts as one person: two approvals from it would be session names
        ([ROLE], 2, "required 2 approvals, but the 1 approver role(s) listed count as 1"),
        ([ROLE, {"role": ROLE, "kind": "role"}], 2, "count as 1 person(s)"),
        # only Identity Center's roles carry sign-in names
        ([{"role": ROLE, "kind": "sso"}], 1, "is not an IAM Identity Center permission-set"),
        ([{"role": SSO, "kind": "people"}], 1, "kind"),
        ([{"role": SSO, "kinds": "sso"}], 1, "write a role ARN, or {role: <arn>"),
    ],
)
def test_an_approval_one_principal_could_meet_is_refused(
    approvers: list[Any], required: int, error: str
) -> None:
    with pytest.raises(AllowlistError) as refused:
        load_allowlist(approval(approvers, required))
    assert error in str(refused.value)


@pytest.mark.parametrize(
    ("approvers", "required"),
    [
        ([{"role": SSO, "kind": "sso"}], 3),  # three sign-in names
        ([ROLE, "arn:aws:iam::123456789012:role/oncall"], 2),  # one role per person
        ([ROLE], 1),
    ],
)
def test_approvals_people_can_meet_load(approvers: list[Any], required: int) -> None:
    entry = load_allowlist(approval(approvers, required)).entry("prod", "web")
    assert entry is not None
    [gate] = entry.gates
    assert gate.approval is not None and gate.approval.required == required


def test_check_allowlist_refuses_an_approval_one_principal_could_meet(
    tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from deployworker.cli.main import main

    path = tmp_path / "allowlist.json"
    path.write_text(approval([ROLE], 2))
    assert main(["check-allowlist", str(path)]) == 1
    assert "one role, one vote" in capsys.readouterr().err
