"""The approval message and its caller proof: what the worker refuses before STS sees it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.credentials import Credentials
from hypothesis import given
from hypothesis import strategies as st

from deployworker.aws.callerproof import BINDING_HEADER, PROOF_BODY, endpoint_host, sign_proof
from deployworker.errors import Rejection, RejectionKind
from deployworker.intake.approval import (
    PROOF_REMOVED,
    approval_group,
    binding,
    binding_of,
    check_approval_group,
    is_approval_group,
    parse_approval,
    without_proof,
)
from deployworker.intake.parse import Unwrapped, unwrap
from deployworker.intake.proof import check_proof, signed_at

ENDPOINT = "https://sts.eu-west-1.amazonaws.com"
HOST = "sts.eu-west-1.amazonaws.com"
CREDENTIALS = Credentials("ASIAEXAMPLE0000000001", "secret", "session-token")


def proof_for(
    action: str = "approve", deploy_id: str = "build-1", comment: str = "", **sign: Any
) -> dict[str, Any]:
    bound = binding(action, "prod", "web", deploy_id, comment)
    return sign_proof(
        sign.get("credentials", CREDENTIALS),
        sign.get("region", "eu-west-1"),
        sign.get("endpoint", ENDPOINT),
        sign.get("binding", bound),
    )


def vote(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "action": "approve",
        "cluster": "prod",
        "service": "web",
        "deploy_id": "build-1",
        "comment": "",
        "proof": proof_for(),
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


def parse(body: dict[str, Any] | str) -> Any:
    text = body if isinstance(body, str) else json.dumps(body)
    return parse_approval(unwrap(text))


def test_a_vote_parses_and_names_its_group() -> None:
    request = parse(vote(comment="canary looks fine"))
    assert (request.action, request.cluster, request.service) == ("approve", "prod", "web")
    assert approval_group("prod", "web") == "prod/web/approvals"
    check_approval_group(request, "prod/web/approvals")
    assert is_approval_group("prod/web/approvals") and not is_approval_group("prod/web")


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("{nope", "not valid JSON"),
        ("[1]", "must be a JSON object"),
        (vote(action="deploy"), "action"),
        (vote(action=None), "action: Field required"),
        (vote(proof=None), "proof: Field required"),
        (vote(cluster="arn:aws:ecs:eu-west-1:123456789012:cluster/prod"), "not a valid ECS name"),
        (vote(service="web/x"), "not a valid ECS name"),
        (vote(deploy_id="-x"), "deploy_id must be"),
        (vote(comment="x" * 1025), "comment"),
        (vote(colour="blue"), "unknown field 'colour'"),
        (
            vote(proof={"headers": {}, "body": "", "url": "http://evil"}),
            "unknown field 'proof.url'",
        ),
        (vote(proof={"headers": {"X-A": "a\r\nHost: evil"}, "body": ""}), "line break"),
        (vote(proof={"headers": {"X-A": "a" * 5000}, "body": ""}), "too long"),
    ],
)
def test_bad_votes_are_refused_by_name(body: dict[str, Any] | str, reason: str) -> None:
    with pytest.raises(Rejection) as caught:
        parse(body)
    assert caught.value.kind == RejectionKind.INVALID
    assert reason in caught.value.reason


@pytest.mark.parametrize("group", ["prod/web", "prod/web/approvals ", "prod/api/approvals", ""])
def test_a_vote_in_another_group_is_refused_naming_the_right_one(group: str) -> None:
    with pytest.raises(Rejection, match="'prod/web/approvals'"):
        check_approval_group(parse(vote()), group)


def check(proof: dict[str, Any], bound: str | None = None, now: float | None = None) -> float:
    headers = proof["headers"]
    at = signed_at(headers["X-Amz-Date"])
    expected = bound or binding("approve", "prod", "web", "build-1", "")
    return check_proof(
        headers, proof["body"], expected, HOST, "eu-west-1", now or at + 10, max_age=300
    )


def test_a_proof_signed_by_the_cli_passes_and_says_when_it_was_signed() -> None:
    proof = proof_for()
    assert check(proof) == signed_at(proof["headers"]["X-Amz-Date"])
    assert endpoint_host("https://sts.eu-west-1.amazonaws.com:443/") == HOST
    assert endpoint_host("http://127.0.0.1:4566") == "127.0.0.1:4566"


def _edit(proof: dict[str, Any], **headers: str | None) -> dict[str, Any]:
    edited = dict(proof["headers"])
    for key, value in headers.items():
        name = key.replace("_", "-")
        if value is None:
            edited.pop(name, None)
        else:
            edited[name] = value
    return {"headers": edited, "body": proof["body"]}


def _unsign(header: str) -> dict[str, Any]:
    proof = proof_for()
    head, _, rest = proof["headers"]["Authorization"].partition("SignedHeaders=")
    signed, _, tail = rest.partition(",")
    kept = ";".join(h for h in signed.split(";") if h != header.lower())
    return _edit(proof, Authorization=f"{head}SignedHeaders={kept},{tail}")


@pytest.mark.parametrize(
    ("proof", "reason"),
    [
        ({**proof_for(), "body": "Action=AssumeRole&Version=2011-06-15"}, "only GetCallerIdentity"),
        (_edit(proof_for(), Transfer_Encoding="chunked"), "has no use for"),
        (_edit(proof_for(), Authorization=None), "no AWS4-HMAC-SHA256 Authorization"),
        (_edit(proof_for(), Authorization="AWS AKIA:abc"), "no AWS4-HMAC-SHA256 Authorization"),
        (proof_for(region="us-east-1"), "signed for sts in us-east-1"),
        (proof_for(endpoint="https://evil.example.com"), "signed for host 'evil.example.com'"),
        (proof_for(endpoint="https://sts.eu-west-1.amazonaws.com.evil.io"), "signed for host"),
        (proof_for(action="reject"), "signed for another vote"),
        (proof_for(deploy_id="build-2"), "signed for another vote"),
        (proof_for(comment="other"), "signed for another vote"),
        (_unsign(BINDING_HEADER), "does not sign header(s)"),
        (_unsign("X-Amz-Security-Token"), "does not sign header(s) ['x-amz-security-token']"),
        (_edit(proof_for(), X_Amz_Date="yesterday"), "not YYYYMMDDTHHMMSSZ"),
        (_edit(proof_for(), X_Amz_Date="20261399T000000Z"), "is not a date"),
    ],
)
def test_proofs_the_worker_must_not_send_are_refused(proof: dict[str, Any], reason: str) -> None:
    with pytest.raises(Rejection) as caught:
        check(proof)
    assert caught.value.kind == RejectionKind.NOT_ALLOWED
    assert reason in caught.value.reason


def test_a_header_given_twice_in_two_cases_is_refused() -> None:
    proof = proof_for()
    doubled = _edit(proof, host="evil.example.com")
    with pytest.raises(Rejection, match="twice"):
        check(doubled)


@pytest.mark.parametrize("age", [-301, 301, 3600])
def test_a_stale_or_future_proof_is_refused(age: float) -> None:
    proof = proof_for()
    at = signed_at(proof["headers"]["X-Amz-Date"])
    with pytest.raises(Rejection, match="more than 300s from now"):
        check(proof, now=at + age)
    check(proof, now=at + 299)


names = st.from_regex(r"[A-Za-z0-9_-]{1,40}", fullmatch=True)
ids = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._:/@+=-]{0,40}", fullmatch=True)
actions = st.sampled_from(["approve", "reject"])


@given(actions, names, names, ids, st.text(max_size=200))
def test_any_valid_vote_parses_and_its_binding_is_its_own(
    action: str, cluster: str, service: str, deploy_id: str, comment: str
) -> None:
    body = {
        "action": action,
        "cluster": cluster,
        "service": service,
        "deploy_id": deploy_id,
        "comment": comment,
        "proof": {"headers": {}, "body": PROOF_BODY},
    }
    request = parse_approval(Unwrapped(json.dumps(body), {}, False))
    assert binding_of(request) == binding(action, cluster, service, deploy_id, comment)
    other = "reject" if action == "approve" else "approve"
    assert binding(other, cluster, service, deploy_id, comment) != binding_of(request)
    assert binding(action, cluster, service, deploy_id + "x", comment) != binding_of(request)


@given(st.text(max_size=300))
def test_any_text_is_refused_or_parsed_never_raising_anything_else(text: str) -> None:
    try:
        parse_approval(Unwrapped(text, {}, False))
    except Rejection:
        pass


def test_without_proof_removes_a_votes_proof_also_under_snss_envelope() -> None:
    vote = json.dumps({"action": "approve", "deploy_id": "b-1", "proof": {"headers": {"a": "b"}}})
    assert json.loads(without_proof(vote)) == {
        "action": "approve",
        "deploy_id": "b-1",
        "proof": PROOF_REMOVED,
    }
    envelope = json.dumps({"Type": "Notification", "Message": vote, "Signature": "x"})
    inner = json.loads(json.loads(without_proof(envelope))["Message"])
    assert inner["proof"] == PROOF_REMOVED
    for untouched in ("not json", "[1, 2]", json.dumps({"cluster": "prod"}), envelope[:-5]):
        assert without_proof(untouched) == untouched
