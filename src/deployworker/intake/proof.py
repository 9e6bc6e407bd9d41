"""What a caller proof must look like before the worker sends it to STS (pure).

STS decides who signed a proof; these checks decide whether the worker sends it at
all. A proof must be exactly a GetCallerIdentity POST, signed with SigV4 for STS in the
worker's region and for the worker's own STS host, with every header it carries
signed, the `X-Deployworker-Approval` header among them holding this vote's binding,
and signed within `max_age` seconds of now (STS itself allows 15 minutes).
"""

from __future__ import annotations

import calendar
import re
import time
from collections.abc import Mapping

from deployworker.aws.callerproof import BINDING_HEADER, PROOF_BODY, PROOF_HEADERS
from deployworker.errors import not_allowed

_AUTHORIZATION = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<key>[A-Z0-9]{16,128})/(?P<date>[0-9]{8})/"
    r"(?P<region>[a-z0-9-]{1,32})/(?P<service>[a-z0-9-]{1,32})/aws4_request, ?"
    r"SignedHeaders=(?P<signed>[a-z0-9;-]{1,512}), ?Signature=(?P<signature>[0-9a-f]{64})$"
)
_AMZ_DATE = re.compile(r"^[0-9]{8}T[0-9]{6}Z$")
REQUIRED_SIGNED = ("host", "x-amz-date", BINDING_HEADER.lower())


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    lowered: dict[str, str] = {}
    for name, value in headers.items():
        if name.lower() in lowered:
            raise not_allowed(f"proof carries the header {name!r} twice")
        lowered[name.lower()] = value
    return lowered


def signed_at(amz_date: str) -> float:
    """Unix time of an `X-Amz-Date` value (`20261124T061500Z`). Raises `Rejection`."""
    if not _AMZ_DATE.fullmatch(amz_date):
        raise not_allowed(f"proof's X-Amz-Date {amz_date[:32]!r} is not YYYYMMDDTHHMMSSZ")
    try:
        return float(calendar.timegm(time.strptime(amz_date, "%Y%m%dT%H%M%SZ")))
    except ValueError:
        raise not_allowed(f"proof's X-Amz-Date {amz_date!r} is not a date") from None


def check_proof(
    headers: Mapping[str, str],
    body: str,
    expected_binding: str,
    host: str,
    region: str,
    now: float,
    max_age: float,
) -> float:
    """Refuse a proof the worker must not send, saying why; returns when it was signed.

    Raises `Rejection` (kind `not_allowed`): the vote goes to the DLQ with the reason.
    """
    if body != PROOF_BODY:
        raise not_allowed(f"proof body is not {PROOF_BODY!r}: only GetCallerIdentity is sent")
    lowered = _lower(headers)
    extra = sorted(set(lowered) - PROOF_HEADERS)
    if extra:
        raise not_allowed(f"proof carries header(s) a caller proof has no use for: {extra}")
    match = _AUTHORIZATION.fullmatch(lowered.get("authorization", ""))
    if match is None:
        raise not_allowed("proof has no AWS4-HMAC-SHA256 Authorization header")
    if match["service"] != "sts" or match["region"] != region:
        raise not_allowed(
            f"proof is signed for {match['service']} in {match['region']}; "
            f"the worker verifies with sts in {region}"
        )
    signed = set(match["signed"].split(";"))
    missing = [h for h in (*REQUIRED_SIGNED, *lowered) if h not in signed and h != "authorization"]
    if missing:
        raise not_allowed(f"proof does not sign header(s) {sorted(set(missing))}")
    if lowered.get("host") != host:
        raise not_allowed(
            f"proof is signed for host {lowered.get('host', '')[:128]!r}; the worker "
            f"verifies with its own STS endpoint, {host!r}"
        )
    if lowered.get(BINDING_HEADER.lower()) != expected_binding:
        raise not_allowed(
            f"proof's {BINDING_HEADER} header was signed for another vote (another "
            "deploy, service, action or comment)"
        )
    at = signed_at(lowered.get("x-amz-date", ""))
    if abs(now - at) > max_age:
        raise not_allowed(
            f"proof was signed at {lowered['x-amz-date']}, more than {max_age:.0f}s from now: "
            "vote again"
        )
    return at
