"""Digest pinning from a named registry account: the entry's `registry_account` (an
alias from `accounts:`) holds the images, and its tags resolve in that account's ECR
through its role (moto's AssumeRole acts in the role's account, so the repository
exists only there)."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
import yaml

from conftest import REGION, World, default_entry, deploy, drain
from deployworker.deploy.pin import pin_images
from deployworker.errors import PermanentAwsError, Rejection
from deployworker.intake.allowlist import AllowlistError, load_allowlist

REGISTRY = "333333333333"
ROLE = f"arn:aws:iam::{REGISTRY}:role/deployworker-registry"
IMAGE = f"{REGISTRY}.dkr.ecr.{REGION}.amazonaws.com/web"


def registry_ecr(world: World) -> Any:
    """ECR in the registry account (as its own admin)."""
    sts = boto3.client("sts", region_name=REGION, endpoint_url=world.endpoint)
    role = f"arn:aws:iam::{REGISTRY}:role/admin"
    c = sts.assume_role(RoleArn=role, RoleSessionName="setup")["Credentials"]
    return boto3.client(
        "ecr",
        region_name=REGION,
        endpoint_url=world.endpoint,
        aws_access_key_id=c["AccessKeyId"],
        aws_secret_access_key=c["SecretAccessKey"],
        aws_session_token=c["SessionToken"],
    )


def push(ecr: Any, tag: str) -> str:
    ecr.create_repository(repositoryName="web")
    layer = {"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 1}
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "size": 1,
            "digest": "sha256:" + "a" * 64,
        },
        "layers": [{**layer, "digest": "sha256:" + "b" * 64}],
    }
    image = ecr.put_image(repositoryName="web", imageManifest=json.dumps(manifest), imageTag=tag)
    return str(image["image"]["imageId"]["imageDigest"])


def allowlist(world: World, **entry: Any) -> Any:
    path = world.tmp / "registry.yaml"
    document = {
        "version": 1,
        "accounts": {"registry": {"account_id": REGISTRY, "role_arn": ROLE}},
        "services": [default_entry(pin_digest=True, images=[IMAGE], **entry)],
    }
    path.write_text(yaml.safe_dump(document))
    return path


def reasons(world: World) -> list[str]:
    return [
        m["MessageAttributes"]["deployworker.reason"]["StringValue"] for m in world.dead_letters()
    ]


def test_tags_resolve_in_the_registry_accounts_ecr(world: World) -> None:
    world.service()
    digest = push(registry_ecr(world), "prod")
    app = world.app(allowlist(world, registry_account="registry"), account_id="123456789012")
    world.send(deploy(f"{IMAGE}:prod", deploy_id="pin-1"), dedup="1")
    drain(app)
    assert world.images()["app"] == f"{IMAGE}:prod@{digest}"
    world.send(deploy(f"{IMAGE}:missing", deploy_id="pin-2"), dedup="2")
    drain(app)
    [reason] = reasons(world)
    assert "tag 'missing'" in reason and "cannot be resolved" in reason


def test_without_a_registry_account_another_accounts_image_is_not_pinned(world: World) -> None:
    world.service()
    push(registry_ecr(world), "prod")
    app = world.app(allowlist(world), account_id="123456789012")
    world.send(deploy(f"{IMAGE}:prod", deploy_id="pin-1"), dedup="1")
    drain(app)
    [reason] = reasons(world)
    assert "not an ECR repository of this worker's account and region" in reason


class Refusing:
    """ECR in a registry account whose role lets nothing be read."""

    def digest(self, registry_id: str, repository: str, tag: str) -> str:
        raise PermanentAwsError("DescribeImages", "AccessDeniedException", "not authorized")


def test_an_image_the_registry_cannot_check_is_refused_saying_so() -> None:
    refusing: Any = Refusing()
    home: Any = None  # never asked: the image is the registry's
    with pytest.raises(Rejection) as caught:
        pin_images(
            {"app": f"{IMAGE}:prod"},
            home,
            REGION,
            "123456789012",
            "reject",
            (REGISTRY, lambda _: refusing),
        )
    assert caught.value.reason.startswith(f"cannot check '{IMAGE}:prod' in registry account")
    assert "AccessDeniedException" in caught.value.reason


def test_a_registry_account_must_be_listed() -> None:
    document = {
        "version": 1,
        "services": [default_entry(registry_account="registry", images=[IMAGE])],
    }
    with pytest.raises(AllowlistError, match="registry_account 'registry' is not in accounts"):
        load_allowlist(yaml.safe_dump(document))


def test_the_worker_may_assume_the_registry_accounts_role() -> None:
    from deployworker.cli.iam import Scope
    from deployworker.cli.iam_targets import target_policy, target_roles

    document = {
        "version": 1,
        "accounts": {"registry": {"account_id": REGISTRY, "role_arn": ROLE}},
        "services": [default_entry(registry_account="registry", images=[IMAGE])],
    }
    allowlist = load_allowlist(yaml.safe_dump(document))
    assert target_roles(allowlist) == {ROLE}
    # The registry's role: reading its repositories, and nothing of ECS.
    repository = f"arn:aws:ecr:{REGION}:{REGISTRY}:repository/web"
    scope = Scope(region=REGION, account_id="123456789012", ecr_repository_arns=[repository])
    policy = target_policy(allowlist, "registry", scope)
    [statement] = policy["Statement"]
    assert statement["Sid"] == "ResolveImageDigests"
    assert statement["Resource"] == [repository]
