"""Secrets Manager adapter: reads the signing and tag keys once, at start-up."""

from __future__ import annotations

from typing import Any

from deployworker.aws._retry import Caller


class Secrets:
    """Reads secret values."""

    def __init__(self, client: Any, caller: Caller) -> None:
        self._client = client
        self._caller = caller

    def value(self, secret_id: str, stage: str | None = None) -> str:
        """The secret's string value (of one staging label, such as AWSPREVIOUS)."""
        kwargs = {"SecretId": secret_id, **({"VersionStage": stage} if stage else {})}
        response = self._caller.call(
            "GetSecretValue", lambda: self._client.get_secret_value(**kwargs)
        )
        return str(response["SecretString"])
