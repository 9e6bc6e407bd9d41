"""Caller proofs: a signed STS GetCallerIdentity request that one side makes and the
other executes, so the executor learns who signed it (the design of Vault's AWS auth).

`sign_proof` (the approver's side) signs a POST of GetCallerIdentity with the caller's
own credentials, adding the `X-Deployworker-Approval` header (what the vote is for) to
the signed headers. `CallerProof.verify` (the worker's side) sends those headers and
body, and nothing else, to the worker's own STS endpoint, never to a host the proof
names, and returns the ARN STS answers with. STS checks the signature, the credentials
and the time; the pure checks before that call are `intake.proof`'s.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.exceptions import ClientError
from botocore.httpsession import URLLib3Session

from deployworker.aws._retry import Caller
from deployworker.errors import PermanentAwsError

PROOF_BODY = "Action=GetCallerIdentity&Version=2011-06-15"
PROOF_CONTENT_TYPE = "application/x-www-form-urlencoded; charset=utf-8"
BINDING_HEADER = "X-Deployworker-Approval"
# The only headers a proof may carry (lower case): the signature and what it covers.
PROOF_HEADERS = frozenset(
    {"authorization", "x-amz-date", "x-amz-security-token", "content-type", "host"}
    | {BINDING_HEADER.lower()}
)
_NS = "{https://sts.amazonaws.com/doc/2011-06-15/}"


def endpoint_host(url: str) -> str:
    """The Host header SigV4 signs for `url`: lower case, default ports dropped."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    default = {"http": 80, "https": 443}.get(parts.scheme)
    return f"{host}:{parts.port}" if parts.port is not None and parts.port != default else host


def sign_proof(credentials: Any, region: str, endpoint_url: str, binding: str) -> dict[str, Any]:
    """A GetCallerIdentity POST for `endpoint_url`, signed (SigV4, service `sts`) with
    `credentials` (botocore's), binding it to `binding`. Returns the proof as a message
    carries it: `{"headers": {...}, "body": ...}`; the URL is left out on purpose."""
    request = AWSRequest(
        method="POST",
        url=endpoint_url,
        data=PROOF_BODY,
        headers={
            "Content-Type": PROOF_CONTENT_TYPE,
            "Host": endpoint_host(endpoint_url),
            BINDING_HEADER: binding,
        },
    )
    SigV4Auth(credentials, "sts", region).add_auth(request)
    headers = {k: str(v) for k, v in request.headers.items() if k.lower() in PROOF_HEADERS}
    return {"headers": headers, "body": PROOF_BODY}


def _error(status: int, text: str) -> ClientError:
    """STS's error document as botocore's ClientError, for `Caller` to classify."""
    code, message = "Unknown", text[:200]
    try:
        root = ET.fromstring(text)  # noqa: S314 - STS's own answer, from our endpoint
        code = next((e.text or code for e in root.iter() if e.tag.endswith("Code")), code)
        message = next((e.text or "" for e in root.iter() if e.tag.endswith("Message")), message)
    except ET.ParseError:
        pass
    response: Any = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(response, "GetCallerIdentity")


class CallerProof:
    """Executes caller proofs against the worker's own STS endpoint.

    The endpoint is the STS client's (its region, or `endpoint_url`): a proof carries
    no URL, and its Host header must name this endpoint (`intake.proof` checks that
    first), so the worker never sends a request to a host a message chose.
    """

    def __init__(self, client: Any, caller: Caller, timeout: int = 10) -> None:
        self._client = client
        self._caller = caller
        self._http: URLLib3Session | None = None
        self._timeout = timeout

    @property
    def endpoint_url(self) -> str:
        """The STS endpoint proofs are sent to."""
        return str(self._client.meta.endpoint_url)

    @property
    def host(self) -> str:
        """The Host header a proof must have been signed for."""
        return endpoint_host(self.endpoint_url)

    @property
    def region(self) -> str:
        """The region a proof's credential scope must name."""
        return str(self._client.meta.region_name)

    def verify(self, headers: Mapping[str, str], body: str) -> str:
        """Send the proof's request to STS; returns the caller's ARN.

        Raises `PermanentAwsError` when STS refuses it (a bad signature, expired or
        unknown credentials: code as STS says), `RetryableAwsError` on throttling,
        5xx or the network after retries.
        """
        sent = {k: v for k, v in headers.items() if k.lower() in PROOF_HEADERS}
        return self._caller.call("GetCallerIdentity", lambda: self._send(sent, body))

    def _send(self, headers: Mapping[str, str], body: str) -> str:
        if self._http is None:
            self._http = URLLib3Session(timeout=self._timeout, max_pool_connections=4)
        request = AWSRequest(method="POST", url=self.endpoint_url, data=body, headers=headers)
        response = self._http.send(request.prepare())
        text = response.content.decode("utf-8", errors="replace")
        if response.status_code != 200:
            raise _error(response.status_code, text)
        try:
            root = ET.fromstring(text)  # noqa: S314 - STS's own answer, from our endpoint
        except ET.ParseError as exc:
            raise PermanentAwsError("GetCallerIdentity", "BadResponse", str(exc)) from None
        arn = root.find(f"{_NS}GetCallerIdentityResult/{_NS}Arn")
        if arn is None:
            arn = next((e for e in root.iter() if e.tag.endswith("Arn")), None)
        if arn is None or not arn.text:
            raise PermanentAwsError("GetCallerIdentity", "BadResponse", "no Arn in the answer")
        return arn.text.strip()
