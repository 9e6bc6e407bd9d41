"""What service deployments roll out, remembered: facts ECS never changes.

"A service revision is immutable" (Amazon ECS Developer Guide, "Amazon ECS service
revisions"), and a service deployment always targets the one service revision it was
created with. So the task definition and images a service revision names, and the
revision (task definition) a service deployment the worker created rolls out, are read
once and kept. Nothing here says which deployments a service has: that is always read
fresh (ListServiceDeployments), so one someone else started is seen, and its unknown
target described. No tag is kept: a task definition's tags can change, its containers
cannot.

A deployment's target is remembered from the worker's own UpdateService, as the deploy
already follows it (`deploy.apply.deployment_of`): its currentServiceDeployment, when the
service it returns runs the worker's revision, or the deployment found for that revision.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from deployworker.aws.ecs import Ecs

PER_CALL = 20  # DescribeServiceRevisions takes at most 20 ARNs
DEFAULT_SIZE = 10_000


@dataclass(frozen=True, slots=True)
class Rolled:
    """What a service revision (or a service deployment's target) runs."""

    task_definition: str
    images: tuple[tuple[str, str], ...]  # (container name, image)


def rolled(task_definition: str, images: Mapping[str, str]) -> Rolled:
    return Rolled(task_definition, tuple(sorted(images.items())))


def _of_revision(revision: Mapping[str, Any]) -> Rolled:
    images = {
        str(c.get("containerName")): str(c.get("image"))
        for c in revision.get("containerImages") or []
    }
    return rolled(str(revision.get("taskDefinition")), images)


class Rollouts:
    """Service revisions and the worker's own service deployments, by ARN (bounded)."""

    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        self._size = size
        self._known: OrderedDict[str, Rolled] = OrderedDict()  # revision or deployment ARN
        self._lock = threading.Lock()

    def deployed(
        self, deployment_arn: str, task_definition: str, images: Mapping[str, str]
    ) -> None:
        """The worker's own service deployment `deployment_arn` rolls out `task_definition`."""
        self._keep([(deployment_arn, rolled(task_definition, images))])

    def of_deployment(self, deployment_arn: str) -> Rolled | None:
        with self._lock:
            return self._known.get(deployment_arn)

    def of_revisions(self, ecs: Ecs, arns: Iterable[str]) -> dict[str, Rolled]:
        """Service revision ARN to what it runs: remembered, or described (20 a call)."""
        wanted = list(dict.fromkeys(a for a in arns if a))
        with self._lock:
            found = {a: self._known[a] for a in wanted if a in self._known}
        missing = [a for a in wanted if a not in found]
        for start in range(0, len(missing), PER_CALL):
            described = ecs.describe_service_revisions(missing[start : start + PER_CALL])
            pairs = [(str(r["serviceRevisionArn"]), _of_revision(r)) for r in described]
            self._keep(pairs)
            found.update(pairs)
        return found

    def _keep(self, pairs: Iterable[tuple[str, Rolled]]) -> None:
        with self._lock:
            for arn, what in pairs:
                self._known[arn] = what
                self._known.move_to_end(arn)
            while len(self._known) > self._size:
                self._known.popitem(last=False)
