"""`publish --dry-run`: the task-definition change a deploy would make, and whether
each image exists, with nothing sent (ecspresso's `diff` and `verify` are the model).

The plan is the worker's own (`deploy.plan.plan_deploy` over the service's current
revision), printed as a unified diff of the RegisterTaskDefinition input; each
image of this account's (or another account's) ECR is looked up by tag or digest.
"""

from __future__ import annotations

import difflib
import json
import re
from typing import Any

from deployworker.aws._retry import Caller, RetryPolicy
from deployworker.aws.clients import make_client
from deployworker.aws.ecr import Ecr
from deployworker.aws.ecs import Ecs, register_input_shape
from deployworker.cli import exits
from deployworker.cli.publish import build_body
from deployworker.deploy.plan import plan_deploy, project
from deployworker.errors import AwsError, NotFoundError
from deployworker.intake.imageref import parse_image

ECR_HOST = re.compile(r"^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/(.+)$")


def diff(before: dict[str, Any], after: dict[str, Any], name: str) -> str:
    """A unified diff of two RegisterTaskDefinition inputs (pretty JSON)."""
    old = json.dumps(before, indent=2, sort_keys=True, default=str).splitlines(keepends=True)
    new = json.dumps(after, indent=2, sort_keys=True, default=str).splitlines(keepends=True)
    return "".join(difflib.unified_diff(old, new, f"{name} (running)", f"{name} (planned)"))


def verify(images: dict[str, str], region: str | None, endpoint: str | None) -> list[str]:
    """One line per image: found in ECR, missing, or not in ECR (not checked)."""
    lines = []
    for container, text in images.items():
        ref = parse_image(text)
        found = ECR_HOST.match(ref.repository)
        if found is None:
            lines.append(f"{container}: {text}: not in ECR, not checked")
            continue
        registry, where, repository = found.groups()
        ecr = Ecr(make_client("ecr", where or region, endpoint), Caller("ecr", RetryPolicy(3)))
        try:
            if ref.digest:
                ecr.digest_exists(registry, repository, ref.digest)
            else:
                ecr.digest(registry, repository, ref.tag or "latest")
            lines.append(f"{container}: {text}: ok")
        except NotFoundError:
            lines.append(f"{container}: {text}: MISSING in ECR")
    return lines


def dry_run(fields: dict[str, Any], ecs: Ecs, region: str | None, endpoint: str | None) -> int:
    """Print the plan and the image check; exit 0 when every ECR image exists."""
    request, _ = build_body({**fields, "deploy_id": fields.get("deploy_id") or "dry-run"})
    images = {name: str(ref) for name, ref in request.targets.items()}
    if not images:
        return exits.fail(f"--dry-run plans deploys of images, not {request.action}", exits.USAGE)
    try:
        service = ecs.describe_service(request.cluster_ref.name, request.service_ref.name)
        task_definition, tags = ecs.describe_task_definition(str(service["taskDefinition"]))
        shape = register_input_shape()
        plan = plan_deploy(task_definition, tags, images, {}, shape)
        name = f"{task_definition['family']}:{task_definition['revision']}"
        if plan is None:
            print(f"{name}: no change: the service already runs these images")
        else:
            print(diff(project(task_definition, shape), plan.register_input, name), end="")
        checked = verify(images, region, endpoint)
    except AwsError as exc:
        return exits.fail(str(exc), exits.of_aws(exc))
    for line in checked:
        print(line)
    return exits.FAILED if any("MISSING" in line for line in checked) else exits.OK
