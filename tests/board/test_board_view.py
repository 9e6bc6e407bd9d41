"""The board's documents from ledger entries (pure): sections, redaction, hints, schema."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import jsonschema
import pytest
from hypothesis import given
from hypothesis import strategies as st

from deployworker.board.hints import allowlist_hint
from deployworker.board.view import REDACTED, board_doc, clean, console_url, service_doc
from deployworker.ledger.record import Entry
from deployworker.ledger.states import State

SCHEMA = json.loads((resources.files("deployworker.board") / "schema.json").read_text())
NOW = 1_800_000_000.0


def entry(deploy_id: str, state: State, target: str = "prod/web", **extra: Any) -> Entry:
    cluster, service = target.split("/")[-2:]
    fields: dict[str, Any] = {"cluster": cluster, "service": service, **extra}
    return Entry(target, deploy_id, state, NOW - 60, NOW - 5, **fields)


def _schema(kind: str) -> dict[str, Any]:
    return {"$defs": SCHEMA["$defs"], "$ref": f"#/$defs/{kind}"}


def test_the_sections_split_the_ledger_as_a_person_reads_it() -> None:
    running = entry("b-2", State.PAUSED, gate={"stage": "POST_TEST_TRAFFIC_SHIFT"})
    queued = entry("b-3", State.QUEUED)
    elsewhere = entry("x-1", State.IN_PROGRESS, "111122223333/us-east-1/prod/api")
    ended = [entry("b-1", State.DEPLOYED), entry("b-0", State.SUPERSEDED)]
    doc = board_doc([running, queued, elsewhere], ended, [], "eu-west-1", NOW, 3.0)
    jsonschema.validate(doc, _schema("Board"))
    assert [d["deploy_id"] for d in doc["now"]] == ["b-2", "x-1"]
    assert doc["now"][0]["stage"] == "POST_TEST_TRAFFIC_SHIFT"
    assert (doc["now"][1]["account"], doc["now"][1]["region"]) == ("111122223333", "us-east-1")
    assert doc["now"][0]["region"] == "eu-west-1"  # home
    # Queued behind the deploy in flight on the same service; superseded ones too.
    assert [(d["deploy_id"], d["behind"]) for d in doc["waiting"]] == [
        ("b-3", "b-2"),
        ("b-0", None),
    ]
    assert [d["deploy_id"] for d in doc["recent"]] == ["b-1", "b-0"]
    assert doc["now"][1]["console_url"].startswith("https://us-east-1.console.aws.amazon.com/")


def test_a_gate_shows_its_measurements_approvals_and_command() -> None:
    gate = {
        "stage": "POST_TEST_TRAFFIC_SHIFT",
        "state": "awaiting",
        "measurements": [{"metric": "errors", "values": [0.001, None], "failures": 0}],
        "approvers": ["arn:aws:iam::123456789012:role/release-managers"],
        "needed": 1,
        "required": 2,
        "deadline": NOW + 600,
        "command": "deployworker approve --cluster prod --service web --deploy-id b-2",
    }
    votes = [{"action": "approve", "principal": "arn:aws:sts::1:assumed-role/rm/alice"}]
    doc = board_doc(
        [entry("b-2", State.AWAITING_APPROVAL, gate=gate, votes=votes)], [], [], None, NOW, 3
    )
    jsonschema.validate(doc, _schema("Board"))
    shown = doc["now"][0]
    assert shown["gate"]["measurements"][0]["values"] == [0.001, None]
    assert shown["gate"]["command"].startswith("deployworker approve")
    assert shown["gate"]["received"][0]["principal"].endswith("/alice")
    assert shown["approved_by"] == ["arn:aws:sts::1:assumed-role/rm/alice"]


@pytest.mark.parametrize(
    ("reason", "images", "needs"),
    [
        (
            "image repository 'evil.example.com/web' is not allowlisted for prod/web",
            {},
            "add evil.example.com/web to `images` of the entry for prod/web",
        ),
        (
            "container 'sidecar' of prod/web is not allowlisted (allowed: app)",
            {},
            "add sidecar to `containers` of the entry for prod/web",
        ),
        (
            "service prod/new is not in the allowlist",
            {"app": "1.dkr.ecr.eu-west-1.amazonaws.com/new:7"},
            "an entry: cluster prod, service new, containers [app], "
            "images [1.dkr.ecr.eu-west-1.amazonaws.com/new]",
        ),
        ("signature expired", {}, "none: the message itself must change (see the reason)"),
    ],
)
def test_a_rejection_says_what_the_allowlist_would_need(
    reason: str, images: dict[str, str], needs: str
) -> None:
    assert allowlist_hint(entry("r-1", State.REJECTED, reason=reason, images=images)) == needs


def test_no_environment_secret_or_proof_reaches_a_document() -> None:
    evidence = {
        "stopped": [{"reason": "exit 1", "environment": [{"name": "DB", "value": "hunter2"}]}],
        "containerDefinitions": [{"secrets": [{"valueFrom": "arn:...:secret:db"}]}],
        "caller_proof": {"signed": "AWS4-HMAC-SHA256 Signature=abc"},
        "prometheus_password": "p4ss",
        "Authorization": "Bearer t0ken",
    }
    doc = board_doc([], [entry("f-1", State.FAILED, evidence=evidence)], [], None, NOW, 3)
    text = json.dumps(doc)
    for secret in ("hunter2", "secret:db", "Signature=abc", "p4ss", "t0ken"):
        assert secret not in text
    assert doc["recent"][0]["evidence"]["stopped"][0]["reason"] == "exit 1"
    assert doc["recent"][0]["evidence"]["caller_proof"] == REDACTED


KEYS = st.sampled_from(["environment", "secrets", "token", "apiToken", "password", "proof", "ok"])


@given(st.recursive(st.text(max_size=5), lambda kids: st.dictionaries(KEYS, kids, max_size=3)))
def test_clean_leaves_no_secret_key_at_any_depth(value: Any) -> None:
    def visible(v: Any) -> set[str]:
        """Keys whose values are shown, at any depth."""
        found: set[str] = set()
        for key, inner in v.items() if isinstance(v, dict) else ():
            if inner != REDACTED:
                found |= {key} | visible(inner)
        return found

    assert visible(clean(value)) <= {"ok"}


def test_a_service_history_reads_newest_first_with_a_timeline_oldest_first() -> None:
    entries = [entry("b-3", State.ROLLED_BACK), entry("b-2", State.DEPLOYED)]
    doc = service_doc("prod/web", entries, "eu-west-1", NOW)
    jsonschema.validate(doc, _schema("Service"))
    assert [t["mark"] for t in doc["timeline"]] == ["ok", "back"]
    assert console_url(None, "prod", "web") is None
