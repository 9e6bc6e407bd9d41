"""EventBridge rules adapter: a rule's targets, read in full and written back.

PutTargets replaces each target it is given by Id, so a target is always written
back with every field it was read with; `put_targets_shape` lets the release
planner project what ListTargetsByRule returned onto what PutTargets accepts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

from botocore.model import Shape

from deployworker.aws._retry import Caller
from deployworker.aws.clients import shared_session
from deployworker.errors import PermanentAwsError


@cache
def target_shape() -> Shape:
    """botocore's input shape of one PutTargets target (from the SDK's model)."""
    model = shared_session().get_service_model("events")
    shape = model.operation_model("PutTargets").input_shape
    assert shape is not None
    return shape.members["Targets"].member  # type: ignore[attr-defined, no-any-return]


class EventRules:
    """ListTargetsByRule and PutTargets. Holds no state besides the client."""

    def __init__(self, client: Any, caller: Caller) -> None:
        self._client = client
        self._caller = caller

    def targets(self, rule: str, bus: str) -> list[dict[str, Any]]:
        """Every target of the rule, following NextToken. Raises `NotFoundError` when
        the rule does not exist."""
        found: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            response = self._page(rule, bus, token)
            found.extend(response.get("Targets", []))
            token = response.get("NextToken")
            if not token:
                return found

    def _page(self, rule: str, bus: str, token: str | None) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"Rule": rule, "EventBusName": bus}
        if token:
            kwargs["NextToken"] = token
        response: dict[str, Any] = self._caller.call(
            "ListTargetsByRule", lambda: self._client.list_targets_by_rule(**kwargs)
        )
        return response

    def put_targets(self, rule: str, bus: str, targets: Sequence[Mapping[str, Any]]) -> None:
        """PutTargets; a target the call reports as failed raises `PermanentAwsError`."""
        response = self._caller.call(
            "PutTargets",
            lambda: self._client.put_targets(Rule=rule, EventBusName=bus, Targets=list(targets)),
        )
        failed = response.get("FailedEntries") or []
        if failed:
            first = failed[0]
            raise PermanentAwsError(
                "PutTargets", str(first.get("ErrorCode")), str(first.get("ErrorMessage"))
            )
