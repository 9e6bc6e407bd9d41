"""Settings as the command line meets them: an invalid `DEPLOYWORKER_*` value is one line
naming the variable and what it allows (exit 78, EX_CONFIG, no traceback); a misspelt
variable is a warning naming the nearest valid one; `run --help` lists every setting.

Commands that publish or read (publish, status, approve, reject) use only a few
settings (`CLIENT_SETTINGS`), so a bad value elsewhere does not stop them.
"""

from __future__ import annotations

import difflib
import os
import types
import typing
from collections.abc import Mapping
from typing import Any

import annotated_types
import structlog
from pydantic import ValidationError
from pydantic.fields import FieldInfo

from deployworker.cli import exits
from deployworker.errors import ConfigError
from deployworker.intake.problems import message_of
from deployworker.settings import Settings

log = structlog.get_logger("deployworker.settings")
EX_CONFIG = exits.CONFIG  # sysexits.h: configuration error; the table is cli/exits.py
PREFIX = "DEPLOYWORKER_"
# Read outside `Settings` (failpoints for the crash tests).
OTHER_VARIABLES = frozenset({"DEPLOYWORKER_FAILPOINT"})
# What publish, status, approve and reject read.
CLIENT_SETTINGS = frozenset(
    {
        *("region", "endpoint_url", "local_port", "account_id", "allowlist_path"),
        *("allowlist_yaml", "signing_key", "signing_key_secret_arn"),
    }
)


class SettingsError(ConfigError):
    """An invalid setting; exits with EX_CONFIG."""


def variable(field: str) -> str:
    """The environment variable of a setting."""
    return PREFIX + field.upper()


def allowed(info: FieldInfo) -> str:
    """What a setting accepts, in words: `a whole number from 1 to 10000`, `reject or keep`."""
    kind = info.annotation
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        kind = next(a for a in typing.get_args(kind) if a is not type(None))
    if typing.get_origin(kind) is typing.Literal:
        return "one of " + ", ".join(str(v) for v in typing.get_args(kind))
    names: dict[object, str] = {int: "a whole number", float: "a number", bool: "true or false"}
    words = names.get(kind, "")
    if not words:
        return "text" if kind is str else getattr(kind, "__name__", str(kind))
    bounds = []
    for item in info.metadata:
        for attr, text in (("ge", ">= {}"), ("gt", "> {}"), ("le", "<= {}"), ("lt", "< {}")):
            if isinstance(item, getattr(annotated_types, attr.capitalize())):
                bounds.append(text.format(getattr(item, attr)))
    return f"{words} {' and '.join(bounds)}".strip()


def describe(exc: ValidationError, environ: Mapping[str, str] | None = None) -> str:
    """One line: each invalid variable, its value, what is wrong and what it allows."""
    environ = os.environ if environ is None else environ
    parts = []
    for error in exc.errors(include_url=False):
        field = str(error["loc"][0]) if error["loc"] else ""
        info = Settings.model_fields.get(field)
        if info is None:
            parts.append(message_of(error))
            continue
        name = variable(field)
        value = environ.get(name, environ.get(name.lower()))
        shown = f"={value!r}" if value is not None else ""
        parts.append(f"{name}{shown}: {message_of(error)} (allowed: {allowed(info)})")
    return "; ".join(parts)


def load_settings(only: frozenset[str] | None = None, **overrides: Any) -> Settings:
    """`Settings()` from the environment. With `only`, a setting outside it that does not
    validate takes its default instead of failing. Raises `SettingsError`."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        bad = {str(e["loc"][0]) for e in exc.errors() if e["loc"]}
        if only is None or bad & only or not bad:
            raise SettingsError(describe(exc)) from None
        defaults = {f: Settings.model_fields[f].get_default(call_default_factory=True) for f in bad}
        return load_settings(only, **overrides, **defaults)


def unknown_variables(environ: Mapping[str, str] | None = None) -> list[tuple[str, str | None]]:
    """Each `DEPLOYWORKER_*` variable no setting reads, with the nearest valid name."""
    environ = os.environ if environ is None else environ
    known = {variable(f) for f in Settings.model_fields} | OTHER_VARIABLES
    found = []
    for name in sorted(environ):
        upper = name.upper()
        if upper.startswith(PREFIX) and upper not in known:
            near = difflib.get_close_matches(upper, sorted(known), n=1, cutoff=0.6)
            found.append((name, near[0] if near else None))
    return found


def settings_help() -> str:
    """`run --help`'s list of settings: variable, description and default."""
    lines = ["settings (environment variables):"]
    for field, info in Settings.model_fields.items():
        default = info.get_default(call_default_factory=True)
        shown = "unset" if default is None else str(default)
        about = info.description or allowed(info)
        lines.append(f"  {variable(field)}\n      {about} (default: {shown})")
    return "\n".join(lines)


def warn_unknown_variables(environ: Mapping[str, str] | None = None) -> None:
    """Log a warning for each `DEPLOYWORKER_*` variable no setting reads."""
    for name, near in unknown_variables(environ):
        log.warning("settings.unknown_variable", variable=name, did_you_mean=near)
