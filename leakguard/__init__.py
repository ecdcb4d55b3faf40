"""leakguard: stop LLM services from leaking PII and memorized training data.

The curated public API. Importing this package is cheap: models load when a
:class:`Guard` is built, never at import time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from leakguard import _moved
from leakguard.config import LeakGuardConfig, PIIConfig, PolicyConfig, load_config
from leakguard.exceptions import (
    ConfigError,
    DetectorError,
    LeakGuardError,
    MissingExtraError,
    ModelNotInstalledError,
)
from leakguard.findings import Action, Finding, Outcome, OutcomeAction
from leakguard.guard import Detector, Guard, scan
from leakguard.policy import Numbering

if TYPE_CHECKING:
    from leakguard.middleware import LeakGuardMiddleware

__version__ = "0.1.0"

_moved.install()

__all__ = [
    "Action",
    "ConfigError",
    "Detector",
    "DetectorError",
    "Finding",
    "Guard",
    "LeakGuardConfig",
    "LeakGuardError",
    "LeakGuardMiddleware",
    "MissingExtraError",
    "ModelNotInstalledError",
    "Numbering",
    "Outcome",
    "OutcomeAction",
    "PIIConfig",
    "PolicyConfig",
    "__version__",
    "load_config",
    "scan",
]


def __getattr__(name: str) -> object:
    # The ASGI middleware pulls in anyio and the streaming machinery: load it on first use,
    # so that `import leakguard` stays cheap for the CLI and the offline tools.
    if name == "LeakGuardMiddleware":
        from leakguard.middleware import LeakGuardMiddleware

        return LeakGuardMiddleware
    raise AttributeError(f"module 'leakguard' has no attribute {name!r}")
