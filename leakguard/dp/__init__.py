"""Differentially private training with Opacus, its privacy report and a canary audit.

Importing this package is cheap and never imports torch or opacus: the functions that
need them (``train_private``, ``run_training``, ``run_audit``) are loaded on first access,
after :func:`require_dp` has checked the ``[dp]`` extra.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from leakguard.dp.config import (
    AuditConfig,
    DataConfig,
    DPConfig,
    HFModelConfig,
    LoRAConfig,
    ModelConfig,
    PrivacyConfig,
    TrainingConfig,
    load_dp_config,
    parse_dp_config,
)
from leakguard.exceptions import MissingExtraError

if TYPE_CHECKING:
    from leakguard.dp.canary_audit import run_audit
    from leakguard.dp.jobs import run_training
    from leakguard.dp.training import train_private

__all__ = [
    "AuditConfig",
    "DPConfig",
    "DataConfig",
    "HFModelConfig",
    "LoRAConfig",
    "ModelConfig",
    "PrivacyConfig",
    "TrainingConfig",
    "load_dp_config",
    "parse_dp_config",
    "require_dp",
    "run_audit",
    "run_training",
    "train_private",
]

_DP_MODULES = ("torch", "opacus")


def require_dp(feature: str = "DP training") -> None:
    """Raise :class:`MissingExtraError` naming the install command if torch/opacus are missing."""
    for name in _DP_MODULES:
        try:
            importlib.import_module(name)
        except ImportError:
            raise MissingExtraError(feature, "dp", name) from None


# The functions that need torch, loaded on first access (PEP 562): ``leakguard.dp.train_private``
# *is* :func:`leakguard.dp.training.train_private`, with its real signature and docstring.
_LAZY = {
    "train_private": ("leakguard.dp.training", "DP training"),
    "run_training": ("leakguard.dp.jobs", "DP training"),
    "run_audit": ("leakguard.dp.canary_audit", "the DP canary audit"),
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module, feature = _LAZY[name]
    require_dp(feature)
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
