"""Local mode: an emulated AWS endpoint (moto) with simulated ECS rollouts, and its seed data.

This package's `__init__` imports nothing from moto, so `publish --local` works
without the `local` extra installed. May import `intake` (to seed from an allowlist),
`aws` and the base modules; only `cli` (and the tests) import it.
"""

from __future__ import annotations

import os

DEFAULT_REGION = "eu-west-1"
DEFAULT_PORT = 4566


def use_fake_credentials() -> None:
    """moto accepts any credentials; set some so boto3 never looks for real ones."""
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
