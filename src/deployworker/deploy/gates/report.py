"""The events a gate sends: `gate_started`, `approval_requested`, `gate_progress` (for
the ledger only), `gate_passed`, `gate_failed` (pure). Each carries a `gate` document: the
stage, and what the step knows (metrics and their measured values, approvers, deadline,
the exact command)."""

from __future__ import annotations

from collections.abc import Sequence

from deployworker.deploy.approvals.votes import approve_command
from deployworker.deploy.gates.contract import Subject
from deployworker.deploy.gates.decide import Action, Decision
from deployworker.intake.gates import Gate
from deployworker.observe.events import DeployEvent
from deployworker.rollout.analysis.measure import MetricVerdict


def verdicts_doc(verdicts: Sequence[MetricVerdict]) -> list[dict[str, object]]:
    """Each metric's phase and measured values, for events and logs."""
    return [
        {"metric": v.name, "phase": v.phase.value, "values": list(v.values), "failures": v.failures}
        for v in verdicts
    ]


def event(
    kind: str, subject: Subject, gate: Gate, reason: str, detail: dict[str, object]
) -> DeployEvent:
    """A gate event for `subject`."""
    return DeployEvent(
        type=kind,
        deploy_id=subject.deploy_id,
        cluster=subject.cluster,
        service=subject.service,
        reason=reason or None,
        task_definition=subject.revision,
        gate={"stage": gate.at, **detail},
    )


def started(gate: Gate) -> dict[str, object]:
    """`gate_started`'s detail: what the gate will judge."""
    approvers = list(gate.approval.approvers) if gate.approval else []
    return {"metrics": [m.name for m in gate.analysis], "approvers": approvers}


def approval_requested(
    subject: Subject, gate: Gate, decision: Decision, to: Sequence[str] = ()
) -> dict[str, object]:
    """`approval_requested`'s detail: who may approve, until when, and the exact command
    with where votes go (`to`), so a Slack relay or AWS Chatbot shows it as is."""
    assert decision.tally is not None
    assert gate.approval is not None
    s = subject
    return {
        "approvers": list(gate.approval.approvers),
        "required": gate.approval.required,
        "needed": decision.tally.needed,
        "deadline": decision.tally.deadline,
        "command": approve_command(s.cluster, s.service, s.deploy_id, "approve", to, s.where),
        "reject_command": approve_command(s.cluster, s.service, s.deploy_id, "reject", to, s.where),
        "measurements": verdicts_doc(decision.verdicts),  # what the approvers weigh
    }


def progress(
    subject: Subject,
    gate: Gate,
    decision: Decision,
    shown: tuple[str, str],
    to: Sequence[str] = (),
) -> DeployEvent:
    """`gate_progress`: the gate's state and line as tagged, the measurements so far and,
    while it awaits approval, who approved, how many are still needed, until when, and
    the command. The ledger keeps the latest, so the board shows a gate as it stands."""
    state, line = shown
    detail: dict[str, object] = {
        "state": state,
        "line": line,
        "measurements": verdicts_doc(decision.verdicts),
    }
    if decision.action is Action.AWAIT and decision.tally is not None and gate.approval:
        detail |= approval_requested(subject, gate, decision, to)
        detail["approved_by"] = list(decision.tally.approved_by)
    return event("gate_progress", subject, gate, "", detail)


def ended(decision: Decision, gate: Gate) -> tuple[str, dict[str, object]]:
    """The ending's event kind (`gate_passed` for CONTINUE, else `gate_failed`) and
    detail: the result, the action, every metric's values, who voted, and who could
    have approved until when."""
    detail: dict[str, object] = {
        "result": decision.result,
        "action": decision.action.value,
        "measurements": verdicts_doc(decision.verdicts),
    }
    if decision.tally is not None:
        detail["approved_by"] = list(decision.tally.approved_by)
        detail["rejected_by"] = list(decision.tally.rejected_by)
        detail["deadline"] = decision.tally.deadline
        detail["approvers"] = list(gate.approval.approvers) if gate.approval else []
    kind = "gate_passed" if decision.action is Action.CONTINUE else "gate_failed"
    return kind, detail
