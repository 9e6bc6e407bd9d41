"""Where the message-signing key and the tag key come from: a setting, or Secrets Manager.

Read once at start-up by `app.build`; `signing` does the (pure) checking.
"""

from __future__ import annotations

import structlog

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


def load_tag_key(settings: Settings, caller: Caller) -> bytes | None:
    """The key of the MAC on the worker's own tags (`deploy.trust`), or None (tags are
    then read unsealed, as before). Only the worker may read it: not CI, not approvers.

    Raises `ConfigError` when the secret cannot be read."""
    if settings.tag_key is not None:
        return settings.tag_key.get_secret_value().encode()
    if settings.tag_key_secret_arn:
        client = make_client("secretsmanager", settings.region, settings.endpoint_url)
        try:
            return Secrets(client, caller).value(settings.tag_key_secret_arn).encode()
        except AwsError as exc:
            raise ConfigError(f"cannot read the tag key secret: {exc}") from exc
    structlog.get_logger("deployworker.keys").warning(
        "tags.unsealed", hint="set DEPLOYWORKER_TAG_KEY or DEPLOYWORKER_TAG_KEY_SECRET_ARN"
    )
    return None
