"""Secrets of the config (HMAC keys, the review password): read once, when it is built.

The ``*_env`` keys name environment variables; :func:`secret_from_env` fills a secret left
out of the file from its variable while the section is validated, so every component gets
the resolved key from its section and none reads the environment on its own.
"""

from __future__ import annotations

import os
from typing import Any

from pydantic import SecretStr

__all__ = ["MIN_KEY_BYTES", "long_enough", "secret_from_env"]

# Keys for HMACs (the hash action, the audit log's fingerprints and chain): as long as a
# SHA-256 block's worth of guessing makes sense, and what `secrets.token_hex(32)` exceeds.
MIN_KEY_BYTES = 16
_KEY_HINT = "generate one with: python -c 'import secrets; print(secrets.token_hex(32))'"


def secret_from_env(data: Any, *, key: str, env_key: str, default_env: str) -> Any:
    """Fill a secret left out of the config from the environment variable its ``*_env``
    key names. The one place keys are read from the environment: when the config is
    built, so every component sees the same resolved key and none reads it on its own."""
    if not isinstance(data, dict) or data.get(key) is not None:
        return data
    env = data.get(env_key, default_env)
    value = os.environ.get(env) if isinstance(env, str) and env else None
    return {**data, key: value} if value else data


def long_enough(value: SecretStr | None, *, key: str, env_key: str) -> SecretStr | None:
    if value is not None and len(value.get_secret_value().encode()) < MIN_KEY_BYTES:
        size = len(value.get_secret_value().encode())
        raise ValueError(
            f"{key} has {size} bytes; use at least {MIN_KEY_BYTES} (set inline or in the "
            f"environment variable named by {env_key}); {_KEY_HINT}"
        )
    return value
