"""Differentially private training with Opacus, its privacy report and a canary audit.

Importing this package is cheap and never imports torch or opacus: the functions that
need them import them on call, after :func:`require_dp` has checked the ``[dp]`` extra.
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
    from leakguard.dp.canary_audit import AuditResult
    from leakguard.dp.jobs import JobResult
    from leakguard.dp.training import TrainResult

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


def train_private(*args: Any, **kwargs: Any) -> TrainResult:
    """See :func:`leakguard.dp.training.train_private` (imported on call)."""
    require_dp()
    from leakguard.dp.training import train_private as impl

    return impl(*args, **kwargs)


def run_training(*args: Any, **kwargs: Any) -> JobResult:
    """See :func:`leakguard.dp.jobs.run_training` (imported on call)."""
    require_dp()
    from leakguard.dp.jobs import run_training as impl

    return impl(*args, **kwargs)


def run_audit(*args: Any, **kwargs: Any) -> AuditResult:
    """See :func:`leakguard.dp.canary_audit.run_audit` (imported on call)."""
    require_dp("the DP canary audit")
    from leakguard.dp.canary_audit import run_audit as impl

    return impl(*args, **kwargs)
