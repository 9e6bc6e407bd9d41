"""Where the message-signing key comes from: the setting itself, or Secrets Manager.

Read once at start-up by `app.build`; `signing` does the (pure) checking.
"""

from __future__ import annotations

from deployworker.aws._retry import Caller
from deployworker.aws.clients import make_client
from deployworker.aws.secrets import Secrets
from deployworker.errors import AwsError, ConfigError
from deployworker.settings import Settings


def load_signing_key(settings: Settings, caller: Caller) -> bytes | None:
    """The HMAC key messages must be signed with, or None when signing is off.

    Raises `ConfigError` when the secret cannot be read: a worker that cannot check
    signatures must not start.
    """
    if settings.signing_key is not None:
        return settings.signing_key.get_secret_value().encode()
    if settings.signing_key_secret_arn:
        client = make_client("secretsmanager", settings.region, settings.endpoint_url)
        try:
            return Secrets(client, caller).value(settings.signing_key_secret_arn).encode()
        except AwsError as exc:
            raise ConfigError(f"cannot read the signing key secret: {exc}") from exc
    return None
