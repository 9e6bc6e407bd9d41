"""The ECS fake's task definitions: RegisterTaskDefinition and DescribeTaskDefinition.

A mixin of `FakeEcs`; every registration keeps its document and tags, and a
family name resolves to its latest revision.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from bench.fakeaws import ECS_ARN, _Fake, accounted, client_error


class TaskDefinitionsApi(_Fake):
    """Task definitions, on `FakeEcs`'s lock."""

    def _init_task_definitions(self) -> None:
        self._task_definitions: dict[str, dict[str, Any]] = {}
        self._tags: dict[str, list[dict[str, str]]] = {}
        self._latest: dict[str, str] = {}
        self._revisions: defaultdict[str, int] = defaultdict(int)

    def _register(self, given: dict[str, Any]) -> str:
        family = str(given["family"])
        self._revisions[family] += 1
        revision = self._revisions[family]
        arn = f"{ECS_ARN}:task-definition/{family}:{revision}"
        document = {k: copy.deepcopy(v) for k, v in given.items() if k != "tags"}
        document.update(
            taskDefinitionArn=arn,
            revision=revision,
            status="ACTIVE",
            compatibilities=["EC2"],
            registeredAt=datetime.now(UTC),
        )
        self._task_definitions[arn] = document
        self._tags[arn] = list(given.get("tags") or [])
        self._latest[family] = arn
        return arn

    def _images(self, arn: str) -> list[tuple[str, str]]:
        """(container, image) of every container of a registered task definition."""
        definitions = self._task_definitions[arn]["containerDefinitions"]
        return [(str(c["name"]), str(c["image"])) for c in definitions]

    @accounted
    def register_task_definition(self, **given: Any) -> dict[str, Any]:
        self._enter("RegisterTaskDefinition")
        with self.lock:
            arn = self._register(given)
            document = copy.deepcopy(self._task_definitions[arn])
        return {"taskDefinition": document, "tags": given.get("tags") or []}

    @accounted
    def describe_task_definition(
        self, taskDefinition: str, include: list[str] | None = None
    ) -> dict[str, Any]:
        self._enter("DescribeTaskDefinition")
        with self.lock:
            arn = self._latest.get(taskDefinition, taskDefinition)
            if arn not in self._task_definitions:
                raise client_error(
                    "DescribeTaskDefinition",
                    "ClientException",
                    "Unable to describe task definition.",
                )
            response: dict[str, Any] = {
                "taskDefinition": copy.deepcopy(self._task_definitions[arn])
            }
            if include and "TAGS" in include:
                response["tags"] = [dict(t) for t in self._tags[arn]]
        return response
