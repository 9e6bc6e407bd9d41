"""Where the signing key and the tag key come from: an empty one is refused, since an
HMAC under an empty key is one anybody can compute."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import SecretStr

from deployworker.errors import ConfigError
from deployworker.intake.keys import load_signing_keys, load_tag_key
from deployworker.settings import Settings

NO_CALLER: Any = None  # neither key is read from Secrets Manager here


@pytest.mark.parametrize("value", ["", " "])
def test_an_empty_tag_key_is_refused(value: str) -> None:
    # DEPLOYWORKER_TAG_KEY= (a secret that was never filled in): every seal would be one
    # the attacker can compute, and the worker would still trust it.
    settings = Settings(tag_key=SecretStr(value))
    with pytest.raises(ConfigError, match="DEPLOYWORKER_TAG_KEY is empty"):
        load_tag_key(settings, NO_CALLER)


@pytest.mark.parametrize("value", ["", " "])
def test_an_empty_signing_key_is_refused(value: str) -> None:
    settings = Settings(signing_key=SecretStr(value))
    with pytest.raises(ConfigError, match="DEPLOYWORKER_SIGNING_KEY is empty"):
        load_signing_keys(settings, NO_CALLER)
    previous = Settings(signing_key=SecretStr("k"), signing_key_previous=SecretStr(value))
    with pytest.raises(ConfigError, match="DEPLOYWORKER_SIGNING_KEY_PREVIOUS is empty"):
        load_signing_keys(previous, NO_CALLER)


def test_a_given_key_is_used_as_it_is() -> None:
    assert load_tag_key(Settings(tag_key=SecretStr("t")), NO_CALLER) == b"t"
    assert load_signing_keys(Settings(signing_key=SecretStr("s")), NO_CALLER) == (b"s",)
