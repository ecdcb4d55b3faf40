"""Hugging Face causal LMs from a local directory, optionally with peft LoRA, made Opacus-ready.

What DP-SGD with Opacus needs from a ``transformers`` model, and what this module does:

- **Per-sample gradients of every trainable layer.** Opacus 1.6 has grad samplers for
  ``nn.Linear``, ``nn.Embedding``, ``nn.LayerNorm``, ``nn.RMSNorm`` and friends; for other
  layers (GPT-2's ``Conv1D``, Llama's ``LlamaRMSNorm``) it falls back to functorch
  (``torch.func``), which is exact but slower. For full fine-tuning, RMSNorm layers that
  compute exactly what ``nn.RMSNorm`` computes (Llama, Mistral, Qwen2: checked on a probe
  input, the same weight kept) are replaced by ``nn.RMSNorm``, so every layer of such a model
  has a grad sampler. A trainable layer with buffers is refused by Opacus' validator
  (``IncompatibleModelError``, from the trainer).
- **No tied weights.** GPT-2-style models share one matrix between the input embedding and
  the output head. Ghost clipping refuses a parameter used twice; and the per-sample
  gradient of a shared weight is the sum of two layers' contributions. When the embedding is
  trainable (full fine-tuning) the head gets its own copy of the matrix (*untied*), and the
  saved model says so (``tie_word_embeddings: false``). Under LoRA both stay frozen and tied.
- **Per-sample position ids.** Models with learned position embeddings (GPT-2's ``wpe``)
  build ``position_ids`` of shape ``[1, T]`` and broadcast them; Opacus' embedding sampler
  needs one row per example. The collate function passes a contiguous ``[B, T]`` tensor.
- **Padding.** Right padding with an attention mask; padded positions are labelled -100
  and count in no loss: each example's loss is the mean over its own tokens.
- ``wrap_model=False`` (the trainer's default): the caller keeps the plain (or peft) model.

Loading never touches the network: the path must be a local directory written by
``save_pretrained`` and everything is loaded with ``local_files_only=True``. Imports torch,
transformers and (for LoRA) peft: load it only after :func:`require_hf`.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from leakguard.dp.config import HFModelConfig
from leakguard.exceptions import ConfigError, MissingExtraError

__all__ = [
    "IGNORE",
    "HFBatch",
    "HFCollate",
    "LoadedHF",
    "check_model_dir",
    "dataset_ids",
    "hf_losses",
    "load_hf",
    "require_hf",
    "save_hf",
    "tokenize",
    "torch_rmsnorm",
    "untie_embeddings",
]

IGNORE = -100  # label of a position that counts in no loss (Hugging Face's convention)


def require_hf(feature: str = "fine-tuning a Hugging Face model", *, lora: bool = False) -> None:
    """Raise :class:`MissingExtraError` naming ``leakguard[dp-hf]`` if a module is missing."""
    for name in ("transformers", "peft") if lora else ("transformers",):
        try:
            importlib.import_module(name)
        except ImportError:
            raise MissingExtraError(feature, "dp-hf", name) from None


def check_model_dir(path: Path) -> Path:
    """``path`` if it is a local model directory (``config.json`` inside); else a clear error.

    leakguard never downloads a model: a hub id such as ``gpt2`` is refused, not resolved.
    """
    if not path.is_dir():
        looks_like_hub_id = not path.is_absolute() and len(path.parts) <= 2
        hint = (
            " It looks like a model id on a hub: leakguard never downloads models. Save the "
            "model and its tokenizer with save_pretrained(DIR) where you have them, and set "
            "model.path to DIR"
            if looks_like_hub_id
            else " Set model.path to a directory written by save_pretrained()"
        )
        raise ConfigError(f"model.path {str(path)!r} is not a local directory.{hint}")
    if not (path / "config.json").is_file():
        raise ConfigError(
            f"model.path {str(path)!r} has no config.json: it is not a directory written by "
            f"a model's save_pretrained()"
        )
    return path


@contextmanager
def quiet_transformers() -> Iterator[None]:
    """No progress bars or info lines from transformers: library code does not print."""
    from transformers.utils import logging

    hf_logging: Any = logging  # untyped functions
    bars = hf_logging.is_progress_bar_enabled()
    verbosity = hf_logging.get_verbosity()
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


def untie_embeddings(model: nn.Module) -> bool:
    """Give the output head its own copy of a weight it shares with the input embedding.

    Returns whether the weights were tied. The model's config records the change, so a
    saved and reloaded model stays untied.
    """
    get_in = getattr(model, "get_input_embeddings", None)
    get_out = getattr(model, "get_output_embeddings", None)
    if get_in is None or get_out is None:
        return False
    head, embedding = get_out(), get_in()
    if head is None or embedding is None or head.weight is not embedding.weight:
        return False
    head.weight = nn.Parameter(embedding.weight.detach().clone())
    config: Any = model.config
    config.tie_word_embeddings = False
    text_config = config.get_text_config()
    if text_config is not config:
        text_config.tie_word_embeddings = False
    return True


def _same_as_torch_rmsnorm(module: nn.Module) -> nn.RMSNorm | None:
    """An ``nn.RMSNorm`` sharing ``module``'s weight if it gives the same output, else None."""
    weight = getattr(module, "weight", None)
    eps = getattr(module, "variance_epsilon", getattr(module, "eps", None))
    if (
        not isinstance(weight, nn.Parameter)
        or weight.dim() != 1
        or not isinstance(eps, float)
        or len(list(module.parameters())) != 1
    ):
        return None
    norm = nn.RMSNorm(weight.shape[0], eps=eps, device=weight.device, dtype=weight.dtype)
    norm.weight = weight  # the same Parameter: names and the saved model are unchanged
    probe = torch.randn(
        2, 3, weight.shape[0], generator=torch.Generator().manual_seed(0), dtype=weight.dtype
    ).to(weight.device)
    with torch.no_grad():
        try:
            expected = module(probe)
        except (TypeError, RuntimeError):
            return None
        scaled = torch.nn.init.uniform_(torch.empty_like(weight), 0.5, 1.5)
        with _swapped_weight(weight, scaled):  # a weight of ones would hide a (1 + w) form
            expected_scaled, got_scaled = module(probe), norm(probe)
        same = torch.allclose(norm(probe), expected, rtol=1e-5, atol=1e-6) and torch.allclose(
            got_scaled, expected_scaled, rtol=1e-5, atol=1e-6
        )
    return norm if same else None


@contextmanager
def _swapped_weight(weight: nn.Parameter, value: torch.Tensor) -> Iterator[None]:
    saved = weight.detach().clone()
    weight.copy_(value)
    try:
        yield
    finally:
        weight.copy_(saved)


def torch_rmsnorm(model: nn.Module) -> list[str]:
    """Replace each RMSNorm layer that computes exactly ``nn.RMSNorm`` by one (same weight).

    Opacus (and leakguard's own per-sample gradient path) has a grad sampler for
    ``nn.RMSNorm`` but not for e.g. ``LlamaRMSNorm``, which falls back to slower functorch.
    Returns the class names replaced. Forms that differ (Gemma's ``1 + weight``) are kept.
    """
    replaced = []
    for name, module in list(model.named_modules()):
        if isinstance(module, nn.RMSNorm) or not type(module).__name__.endswith("RMSNorm"):
            continue
        norm = _same_as_torch_rmsnorm(module)
        if norm is None:
            continue
        parent_name, _, child = name.rpartition(".")
        setattr(model.get_submodule(parent_name), child, norm)
        replaced.append(type(module).__name__)
    return sorted(set(replaced))


@dataclass(frozen=True, slots=True)
class LoadedHF:
    """A model ready for :func:`leakguard.dp.training.train_private`, and what the report says."""

    model: nn.Module
    tokenizer: Any
    info: dict[str, Any]


def _count(model: nn.Module, *, trainable: bool) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable)


def _load_tokenizer(path: Path) -> Any:
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    except (OSError, ValueError, TypeError) as exc:
        raise ConfigError(
            f"no usable tokenizer in model.path {str(path)!r} ({type(exc).__name__}): save the "
            f"tokenizer next to the model with tokenizer.save_pretrained(DIR)"
        ) from None
    if tokenizer.pad_token_id is None and tokenizer.eos_token_id is None:
        raise ConfigError(
            f"the tokenizer in {str(path)!r} has neither a pad nor an end-of-sequence token: "
            f"set tokenizer.pad_token before save_pretrained"
        )
    return tokenizer


def load_hf(config: HFModelConfig, *, seed: int = 0) -> LoadedHF:
    """The model and tokenizer from ``config.path``, with LoRA adapters if configured.

    Full fine-tuning: every parameter trains, tied embeddings are untied. LoRA: only the
    adapters train (peft freezes the rest); peft's ``B`` matrices start at zero, so the
    trainer's "every trainable tensor moved" check proves the adapters learned something.
    """
    require_hf(lora=config.lora is not None)
    from transformers import AutoModelForCausalLM

    path = check_model_dir(config.path)
    tokenizer = _load_tokenizer(path)
    with quiet_transformers():
        try:
            model = AutoModelForCausalLM.from_pretrained(
                path, local_files_only=True, dtype=torch.float32
            )
        except (OSError, ValueError, KeyError) as exc:
            raise ConfigError(
                f"cannot load a causal LM from model.path {str(path)!r}: {exc}"
            ) from None
    info: dict[str, Any] = {
        "kind": "hf",
        "path": path.name,
        "architecture": type(model).__name__,
        "model_type": model.config.model_type,
    }
    torch.manual_seed(seed)  # LoRA's A matrices are drawn at random
    if config.lora is None:
        info["embeddings"] = "untied" if untie_embeddings(model) else "not tied"
        replaced = torch_rmsnorm(model)
        if replaced:
            info["norm_layers"] = ", ".join(replaced) + " computed as torch.nn.RMSNorm"
    else:
        model = _add_lora(model, config)
        info["embeddings"] = "frozen"
        info["lora"] = {
            "r": config.lora.r,
            "alpha": config.lora.alpha,
            "dropout": config.lora.dropout,
            "target_modules": sorted(model.peft_config["default"].target_modules),
            "trainable_parameters": _count(model, trainable=True),
        }
    info["parameters"] = _count(model, trainable=False)
    info["trainable_parameters"] = _count(model, trainable=True)
    model.train()  # from_pretrained returns eval mode; Opacus needs training mode
    return LoadedHF(model, tokenizer, info)


def _add_lora(model: nn.Module, config: HFModelConfig) -> Any:
    from peft import LoraConfig, get_peft_model

    assert config.lora is not None
    lora = config.lora
    targets = list(lora.target_modules) if lora.target_modules is not None else None
    try:
        peft_config = LoraConfig(
            task_type="CAUSAL_LM",
            r=lora.r,
            lora_alpha=lora.alpha,
            lora_dropout=lora.dropout,
            target_modules=targets,
            bias="none",
        )
        with warnings.catch_warnings():
            # peft reads a property transformers deprecated (its own business), and fixes
            # fan_in_fan_out for GPT-2's Conv1D itself, with a warning saying so.
            warnings.filterwarnings("ignore", message="`is_gradient_checkpointing` is deprecated")
            warnings.filterwarnings("ignore", message="fan_in_fan_out is set to False")
            return get_peft_model(model, peft_config)
    except ValueError as exc:
        raise ConfigError(f"model.lora does not fit this model: {exc}") from None


def tokenize(tokenizer: Any, text: str, *, max_length: int) -> list[int]:
    """The tokenizer's ids for ``text`` (its own special tokens), then end-of-sequence."""
    ids: list[int] = tokenizer(text, truncation=True, max_length=max_length)["input_ids"]
    eos = tokenizer.eos_token_id
    if eos is not None and (not ids or ids[-1] != eos):
        ids = [*ids[: max_length - 1], eos]
    return ids


@dataclass(frozen=True, slots=True)
class HFBatch:
    """A right-padded batch: ids, attention mask, per-sample position ids, labels (-100 = pad)."""

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    position_ids: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return int(self.input_ids.shape[0])


@dataclass(frozen=True, slots=True)
class HFCollate:
    """Collates lists of token ids into an :class:`HFBatch`; ``pad_id`` fills the right."""

    pad_id: int

    def __call__(self, items: list[list[int]]) -> HFBatch:
        width = max((len(ids) for ids in items), default=2)
        ids = torch.full((len(items), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(items), width), dtype=torch.long)
        for row, tokens in enumerate(items):
            ids[row, : len(tokens)] = torch.tensor(tokens, dtype=torch.long)
            mask[row, : len(tokens)] = 1
        # [B, T] and contiguous (not an expand()ed [1, T]): Opacus needs a row per example.
        positions = torch.arange(width).repeat(len(items), 1)
        labels = ids.masked_fill(mask == 0, IGNORE)
        return HFBatch(ids, mask, positions, labels)


def hf_losses(model: nn.Module, batch: HFBatch) -> torch.Tensor:
    """Mean next-token loss of each example over its own tokens (pads excluded), shape [B]."""
    out = model(
        input_ids=batch.input_ids,
        attention_mask=batch.attention_mask,
        position_ids=batch.position_ids,
    )
    logits = out.logits[:, :-1]
    targets = batch.labels[:, 1:]
    nll = F.cross_entropy(
        logits.reshape(-1, logits.shape[-1]),
        targets.reshape(-1),
        ignore_index=IGNORE,
        reduction="none",
    ).view_as(targets)
    real = (targets != IGNORE).to(nll.dtype)
    return (nll * real).sum(1) / real.sum(1).clamp(min=1.0)


def save_hf(model: nn.Module, tokenizer: Any, out_dir: Path) -> Path:
    """``save_pretrained`` of the model (for LoRA: only the adapter) and the tokenizer."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with quiet_transformers():
        model.save_pretrained(out_dir)  # type: ignore[operator]
        tokenizer.save_pretrained(out_dir)
    return out_dir


def dataset_ids(tokenizer: Any, texts: Sequence[str], *, max_length: int) -> list[list[int]]:
    """Every text tokenized (see :func:`tokenize`)."""
    return [tokenize(tokenizer, text, max_length=max_length) for text in texts]
