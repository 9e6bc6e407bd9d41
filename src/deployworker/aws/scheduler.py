"""EventBridge Scheduler adapter: read a schedule and write it back whole.

UpdateSchedule replaces the schedule: a field it is not given is reset, not kept.
So a change is always GetSchedule, one field changed, and the whole input shape
written back; `update_input` projects the read schedule through botocore's input
shape for UpdateSchedule so that read-only fields (Arn, dates) never leak in.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

from botocore.model import Shape

from deployworker.aws._retry import Caller
from deployworker.aws.clients import shared_session


@cache
def update_schedule_shape() -> Shape:
    """botocore's input shape for UpdateSchedule (loaded once, from the SDK's model)."""
    model = shared_session().get_service_model("scheduler")
    shape = model.operation_model("UpdateSchedule").input_shape
    assert shape is not None
    return shape


class Scheduler:
    """GetSchedule and UpdateSchedule. Holds no state besides the client."""

    def __init__(self, client: Any, caller: Caller) -> None:
        self._client = client
        self._caller = caller

    def get_schedule(self, name: str, group: str) -> dict[str, Any]:
        """The schedule as GetSchedule returns it (without ResponseMetadata).
        Raises `NotFoundError` when it does not exist."""
        response = self._caller.call(
            "GetSchedule", lambda: self._client.get_schedule(Name=name, GroupName=group)
        )
        return {k: v for k, v in response.items() if k != "ResponseMetadata"}

    def update_schedule(self, update_input: Mapping[str, Any]) -> None:
        """UpdateSchedule with a whole input (see `update_input` in the release planner)."""
        self._caller.call("UpdateSchedule", lambda: self._client.update_schedule(**update_input))
