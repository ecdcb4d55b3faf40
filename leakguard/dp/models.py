"""The built-in small transformer (causal LM and text classifier), Opacus-ready.

Only layers Opacus computes per-sample gradients for: ``Embedding``, ``Linear``,
``LayerNorm``. Attention is parameter-free (``scaled_dot_product_attention``) between
linear projections; position ids are passed per sample, as Opacus' embedding hook needs;
the output head is not tied to the input embedding (Opacus cannot split a tied weight's
per-sample gradient between its two uses). Imports torch: load it only after
:func:`leakguard.dp.require_dp`.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from leakguard.dp.config import ModelConfig
from leakguard.dp.data import PAD, VOCAB_SIZE

__all__ = [
    "Decoder",
    "LoRALinear",
    "TinyClassifier",
    "TinyLM",
    "apply_trainable",
    "lora_adapters",
]


class LoRALinear(nn.Module):
    """A frozen linear layer plus a trainable low-rank update ``B·A`` (B starts at zero)."""

    def __init__(self, base: nn.Linear, *, rank: int, alpha: float) -> None:
        super().__init__()
        self.base = base
        self.lora_a = nn.Linear(base.in_features, rank, bias=False)
        self.lora_b = nn.Linear(rank, base.out_features, bias=False)
        nn.init.kaiming_uniform_(self.lora_a.weight, a=math.sqrt(5))
        nn.init.zeros_(self.lora_b.weight)
        self.scale = alpha / rank

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.base(x) + self.lora_b(self.lora_a(x)) * self.scale
        return out


class _Block(nn.Module):
    def __init__(self, d_model: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.ln1 = nn.LayerNorm(d_model)
        self.qkv: nn.Module = nn.Linear(d_model, 3 * d_model)
        self.proj: nn.Module = nn.Linear(d_model, d_model)
        self.ln2 = nn.LayerNorm(d_model)
        self.fc1 = nn.Linear(d_model, 4 * d_model)
        self.fc2 = nn.Linear(4 * d_model, d_model)

    def forward(self, x: torch.Tensor, pad: torch.Tensor, *, causal: bool) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(d, dim=-1)
        shape = (b, t, self.heads, d // self.heads)
        q, k, v = (z.reshape(shape).transpose(1, 2) for z in (q, k, v))
        if causal:
            # Right padding: a causal mask already keeps pads out of every real position.
            a = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            keep = ~pad[:, None, None, :]
            a = F.scaled_dot_product_attention(q, k, v, attn_mask=keep)
        x = x + self.proj(a.transpose(1, 2).reshape(b, t, d))
        out: torch.Tensor = x + self.fc2(F.gelu(self.fc1(self.ln2(x))))
        return out

    def extend(self, x: torch.Tensor, cache: _KV, keep: torch.Tensor | None) -> torch.Tensor:
        """:meth:`forward` (causal) over new positions ``x`` [B, t, D] that also attend to
        the keys and values in ``cache`` (appended to it). ``keep`` [B, 1, t, past + t]: which
        slots each new position may see; None for the first call (plain causal attention)."""
        b, t, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(d, dim=-1)
        shape = (b, t, self.heads, d // self.heads)
        q, k, v = (z.reshape(shape).transpose(1, 2) for z in (q, k, v))
        if cache.keys is not None and cache.values is not None:
            k = torch.cat([cache.keys, k], dim=2)
            v = torch.cat([cache.values, v], dim=2)
        cache.keys, cache.values = k, v
        if keep is None:
            a = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            a = F.scaled_dot_product_attention(q, k, v, attn_mask=keep)
        x = x + self.proj(a.transpose(1, 2).reshape(b, t, d))
        out: torch.Tensor = x + self.fc2(F.gelu(self.fc1(self.ln2(x))))
        return out


class _KV:
    """One block's keys and values so far [B, heads, T, D/heads] (incremental decoding)."""

    def __init__(self) -> None:
        self.keys: torch.Tensor | None = None
        self.values: torch.Tensor | None = None


class _Encoder(nn.Module):
    def __init__(self, config: ModelConfig, *, max_length: int, causal: bool) -> None:
        super().__init__()
        self.causal = causal
        self.tokens = nn.Embedding(VOCAB_SIZE, config.d_model)
        self.positions = nn.Embedding(max_length, config.d_model)
        self.blocks = nn.ModuleList(
            _Block(config.d_model, config.heads) for _ in range(config.layers)
        )
        self.ln = nn.LayerNorm(config.d_model)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        b, t = ids.shape
        # Per-sample position ids ([B, T], contiguous, not [T]): Opacus needs a batch dimension.
        positions = torch.arange(t, device=ids.device).repeat(b, 1)
        x = self.tokens(ids) + self.positions(positions)
        pad = ids == PAD
        for block in self.blocks:
            x = block(x, pad, causal=self.causal)
        out: torch.Tensor = self.ln(x)
        return out


class TinyLM(nn.Module):
    """A small byte-level causal language model that trains on CPU."""

    def __init__(self, config: ModelConfig, *, max_length: int) -> None:
        super().__init__()
        self.encoder = _Encoder(config, max_length=max_length, causal=True)
        self.head = nn.Linear(config.d_model, VOCAB_SIZE)  # untied from encoder.tokens

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        logits: torch.Tensor = self.head(self.encoder(ids))
        return logits

    def decoder(self) -> Decoder:
        """Incremental (key/value-cached) decoding of a batch with this model's weights."""
        return Decoder(self)


class Decoder:
    """Greedy or sampled decoding without recomputing the prompt: the first call runs the
    right-padded prompts once, each later call one new token per row. Logits equal
    :meth:`TinyLM.forward`'s at the same positions (``tests/test_dp_probe_resume.py`` checks)."""

    def __init__(self, model: TinyLM) -> None:
        self.model = model
        self.caches: list[_KV] = []
        self.lengths = torch.zeros(0, dtype=torch.long)
        self.valid = torch.zeros(0, 0, dtype=torch.bool)

    def start(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Logits [B, V] after each row's last real token; ``ids`` [B, T] right-padded."""
        encoder = self.model.encoder
        b, t = ids.shape
        positions = torch.arange(t, device=ids.device).repeat(b, 1)
        x = encoder.tokens(ids) + encoder.positions(positions)
        self.caches = [_KV() for _ in encoder.blocks]
        for block, cache in zip(encoder.blocks, self.caches, strict=True):
            assert isinstance(block, _Block)
            x = block.extend(x, cache, None)
        self.lengths = lengths.clone()
        # Padding slots of the prompt stay in the cache but are never attended to again.
        self.valid = torch.arange(t, device=ids.device)[None, :] < lengths[:, None]
        last = encoder.ln(x[torch.arange(b, device=ids.device), lengths - 1])
        logits: torch.Tensor = self.model.head(last)
        return logits

    def keep(self, rows: torch.Tensor) -> None:
        """Go on with only these rows (indices into the current batch), in this order."""
        for cache in self.caches:
            assert cache.keys is not None
            assert cache.values is not None
            cache.keys, cache.values = cache.keys[rows], cache.values[rows]
        self.lengths, self.valid = self.lengths[rows], self.valid[rows]

    def step(self, tokens: torch.Tensor) -> torch.Tensor:
        """Feed one token per row [B] (at each row's next position); the next logits [B, V]."""
        encoder = self.model.encoder
        b = tokens.shape[0]
        x = encoder.tokens(tokens[:, None]) + encoder.positions(self.lengths[:, None])
        self.valid = torch.cat([self.valid, self.valid.new_ones(b, 1)], dim=1)
        keep = self.valid[:, None, None, :]
        for block, cache in zip(encoder.blocks, self.caches, strict=True):
            assert isinstance(block, _Block)
            x = block.extend(x, cache, keep)
        self.lengths = self.lengths + 1
        logits: torch.Tensor = self.model.head(encoder.ln(x[:, 0]))
        return logits


class TinyClassifier(nn.Module):
    """The same encoder, mean-pooled over real tokens, with a linear classifier on top."""

    def __init__(self, config: ModelConfig, *, max_length: int, classes: int) -> None:
        super().__init__()
        self.encoder = _Encoder(config, max_length=max_length, causal=False)
        self.head = nn.Linear(config.d_model, classes)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        h = self.encoder(ids)
        real = (ids != PAD).unsqueeze(-1).to(h.dtype)
        pooled = (h * real).sum(1) / real.sum(1).clamp(min=1.0)
        logits: torch.Tensor = self.head(pooled)
        return logits


def apply_trainable(model: TinyLM | TinyClassifier, config: ModelConfig) -> None:
    """Freeze what ``model.trainable`` leaves out; for ``lora``, insert the adapters first."""
    encoder = model.encoder
    if config.trainable == "all":
        return
    model.requires_grad_(False)
    if config.trainable == "top":
        first = len(encoder.blocks) - config.top_layers
        for block in list(encoder.blocks)[first:]:
            block.requires_grad_(True)
        encoder.ln.requires_grad_(True)
        model.head.requires_grad_(True)
        return
    for block in encoder.blocks:
        assert isinstance(block, _Block)
        for name in ("qkv", "proj"):
            base = getattr(block, name)
            assert isinstance(base, nn.Linear)
            setattr(block, name, LoRALinear(base, rank=config.lora_rank, alpha=config.lora_alpha))
    # A new classification head has nothing to adapt from: it trains in full.
    if isinstance(model, TinyClassifier):
        model.head.requires_grad_(True)


def lora_adapters(model: nn.Module) -> dict[str, torch.Tensor]:
    """A detached copy of every LoRA ``B`` weight, to prove after training that they moved."""
    return {
        name: module.lora_b.weight.detach().clone()
        for name, module in model.named_modules()
        if isinstance(module, LoRALinear)
    }
