"""Secrets Manager adapter: reads the message signing key once, at start-up."""

from __future__ import annotations

from typing import Any

from deployworker.aws._retry import Caller


class Secrets:
    """Reads secret values."""

    def __init__(self, client: Any, caller: Caller) -> None:
        self._client = client
        self._caller = caller

    def value(self, secret_id: str) -> str:
        """The secret's string value."""
        response = self._caller.call(
            "GetSecretValue", lambda: self._client.get_secret_value(SecretId=secret_id)
        )
        return str(response["SecretString"])
