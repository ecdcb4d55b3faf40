"""Where DP training runs: ``training.device`` (auto | cpu | cuda) and moving batches there.

Imports torch: load it only after :func:`leakguard.dp.require_dp`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch
from torch import nn

from leakguard.exceptions import ConfigError

__all__ = ["model_device", "resolve_device", "to_device"]


def resolve_device(choice: str, *, setting: str = "training.device") -> torch.device:
    """``auto``: the first CUDA device if torch sees one, else the CPU. ``setting``: how
    the error names the choice (the config key, or a command-line option)."""
    available = torch.cuda.is_available()
    if choice == "cuda" and not available:
        raise ConfigError(
            f"{setting} is 'cuda' but this torch ({torch.__version__}) sees no CUDA "
            f"device. Use auto or cpu, or install a CUDA build of torch"
        )
    if choice == "cuda" or (choice == "auto" and available):
        return torch.device("cuda")
    return torch.device("cpu")


def model_device(model: nn.Module) -> torch.device:
    """The device of the model's first parameter (the CPU for a model without any)."""
    return next((p.device for p in model.parameters()), torch.device("cpu"))


def to_device(batch: Any, device: torch.device) -> Any:
    """``batch`` with every tensor in it on ``device``: tensors, tuples, lists, dicts and
    dataclasses (such as a Hugging Face batch) are walked; anything else is kept as is."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, tuple | list):
        return type(batch)(to_device(x, device) for x in batch)
    if isinstance(batch, dict):
        return {k: to_device(v, device) for k, v in batch.items()}
    if dataclasses.is_dataclass(batch) and not isinstance(batch, type):
        fields = {
            f.name: to_device(getattr(batch, f.name), device) for f in dataclasses.fields(batch)
        }
        return dataclasses.replace(batch, **fields)
    return batch
