"""Where the message-signing key and the tag key come from: a setting, or Secrets Manager.

Read once at start-up by `app.build`; `signing` does the (pure) checking.
"""

from __future__ import annotations

import structlog
from pydantic import SecretStr

from deployworker.aws._retry import Caller
from deployworker.aws.clients import make_client
from deployworker.aws.secrets import Secrets
from deployworker.errors import AwsError, ConfigError, NotFoundError
from deployworker.intake.signing import Verifier, queue_arn
from deployworker.settings import Settings

# A rotation's versions: the current key, the next one staged before signers switch to
# it, and the one they signed with before. Each that exists verifies.
ROTATION_STAGES = ("AWSCURRENT", "AWSPENDING", "AWSPREVIOUS")


def load_signing_keys(settings: Settings, caller: Caller) -> tuple[bytes, ...]:
    """The HMAC keys a message may be signed with; empty when signing is off.

    Raises `ConfigError` when the secret cannot be read: a worker that cannot check
    signatures must not start.
    """
    if settings.signing_key is not None:
        given = {
            "DEPLOYWORKER_SIGNING_KEY": settings.signing_key,
            "DEPLOYWORKER_SIGNING_KEY_PREVIOUS": settings.signing_key_previous,
        }
        return tuple(_given(name, k) for name, k in given.items() if k is not None)
    if not settings.signing_key_secret_arn:
        return ()
    secrets = Secrets(make_client("secretsmanager", settings.region, settings.endpoint_url), caller)
    keys: list[bytes] = []
    for stage in ROTATION_STAGES:
        try:
            keys.append(secrets.value(settings.signing_key_secret_arn, stage).encode())
        except NotFoundError:
            continue  # no version holds this label (no rotation under way)
        except AwsError as exc:
            raise ConfigError(f"cannot read the signing key secret: {exc}") from exc
    if not keys:
        raise ConfigError("the signing key secret has no current version")
    return tuple(dict.fromkeys(keys))


def load_signing(settings: Settings, caller: Caller, queue_url: str) -> Verifier | None:
    """What signatures are checked with: the keys, and the destinations a signed message
    may have been sent to (this worker's queue and the topic that feeds it); None when
    signing is off."""
    keys = load_signing_keys(settings, caller)
    if not keys:
        return None
    destinations = [queue_arn(queue_url, settings.region)]
    if settings.deploy_topic_arn:
        destinations.append(settings.deploy_topic_arn)
    return Verifier(keys, tuple(destinations))


def load_signing_key(settings: Settings, caller: Caller) -> bytes | None:
    """The current signing key (what `deployworker publish` signs with), or None."""
    keys = load_signing_keys(settings, caller)
    return keys[0] if keys else None


def load_tag_key(settings: Settings, caller: Caller) -> bytes | None:
    """The key of the MAC on the worker's own tags (`deploy.trust`), or None (tags are
    then read unsealed, as before). Only the worker may read it: not CI, not approvers.

    Raises `ConfigError` when the secret cannot be read."""
    if settings.tag_key is not None:
        return _given("DEPLOYWORKER_TAG_KEY", settings.tag_key)
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


def _given(name: str, key: SecretStr) -> bytes:
    """A key set in the environment. Raises `ConfigError` when it is empty (say, a CI
    secret that was never filled in): an HMAC under an empty key is anybody's."""
    if not key.get_secret_value().strip():
        raise ConfigError(f"{name} is empty: set a random key, or unset it")
    return key.get_secret_value().encode()
