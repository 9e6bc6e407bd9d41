"""ECR adapter: resolves an image tag to its digest, for digest pinning."""

from __future__ import annotations

from typing import Any

from deployworker.aws._retry import Caller


class Ecr:
    """Reads image digests."""

    def __init__(self, client: Any, caller: Caller) -> None:
        self._client = client
        self._caller = caller

    def digest(self, registry_id: str, repository: str, tag: str) -> str:
        """The digest (`sha256:...`) the tag points at now.

        Raises `NotFoundError` when the repository or the tag does not exist.
        """
        response = self._caller.call(
            "DescribeImages",
            lambda: self._client.describe_images(
                registryId=registry_id, repositoryName=repository, imageIds=[{"imageTag": tag}]
            ),
        )
        return str(response["imageDetails"][0]["imageDigest"])

    def digest_exists(self, registry_id: str, repository: str, digest: str) -> None:
        """Raise `NotFoundError` unless the repository holds an image with `digest`."""
        self._caller.call(
            "DescribeImages",
            lambda: self._client.describe_images(
                registryId=registry_id,
                repositoryName=repository,
                imageIds=[{"imageDigest": digest}],
            ),
        )
