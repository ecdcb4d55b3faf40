"""leakguard: stop LLM services from leaking PII and memorized training data.

The curated public API. Importing this package is cheap: models load when a
:class:`Guard` is built, never at import time.
"""

from __future__ import annotations

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

__version__ = "0.1.0"

__all__ = [
    "Action",
    "ConfigError",
    "Detector",
    "DetectorError",
    "Finding",
    "Guard",
    "LeakGuardConfig",
    "LeakGuardError",
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
