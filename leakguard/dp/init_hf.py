"""``leakguard dp init-hf``: a small Hugging Face causal LM and a tokenizer trained on the
user's own corpus, built entirely offline, so the HF + LoRA path can be tried anywhere.

The tokenizer is a byte-level BPE (the GPT-2 scheme: every byte is covered, so no text is
ever out of vocabulary) learned from the corpus; the model is a freshly initialised Llama
(``nn.Linear`` + RMSNorm, the shapes Opacus and peft handle best). Both are written with
``save_pretrained`` into one directory that ``model.path`` can point at.
Needs the ``dp-hf`` extra (transformers, tokenizers); imports it lazily.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from leakguard.dp.hf import quiet_transformers, require_hf
from leakguard.exceptions import ConfigError, DatasetError

__all__ = ["SIZES", "InitResult", "init_hf", "read_texts"]

Size = Literal["tiny", "small"]
# Llama shapes: tiny trains a few hundred steps a minute on 2 CPU cores; small is ~4x slower.
SIZES: dict[str, dict[str, int]] = {
    "tiny": {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "heads": 4},
    "small": {"hidden_size": 128, "intermediate_size": 344, "num_hidden_layers": 4, "heads": 4},
}
# Special tokens (names as transformers spells them): padding, start, end, unknown.
SPECIALS = {"pad_token": "<|pad|>", "bos_token": "<|bos|>", "eos_token": "<|eos|>"}
UNKNOWN = "<|unk|>"


@dataclass(frozen=True, slots=True)
class InitResult:
    """What was written: the directory, the vocabulary and parameter counts, the corpus size."""

    path: Path
    vocab_size: int
    parameters: int
    texts: int


def read_texts(corpus: Path, *, field: str) -> Iterator[str]:
    """The texts of a JSON Lines corpus (``field`` of each object) or of a plain text file
    (one per non-blank line). A bad line is an error naming file and line, never its text."""
    jsonl = corpus.suffix.lower() in (".jsonl", ".ndjson")
    try:
        handle = corpus.open(encoding="utf-8")
    except OSError as exc:
        raise DatasetError(str(corpus), 0, f"cannot read the corpus: {exc.strerror}") from None
    with handle:
        try:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                if not jsonl:
                    yield line.rstrip("\n")
                    continue
                try:
                    record = json.loads(line)
                except ValueError:
                    raise DatasetError(str(corpus), number, "invalid JSON") from None
                text = record.get(field) if isinstance(record, dict) else None
                if not isinstance(text, str):
                    raise DatasetError(
                        str(corpus), number, f"no string field {field!r} (set --field)"
                    )
                yield text
        except UnicodeDecodeError:
            raise DatasetError(str(corpus), 0, "not valid UTF-8") from None


def _train_tokenizer(texts: list[str], vocab_size: int) -> Any:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.BPE(unk_token=UNKNOWN))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[*SPECIALS.values(), UNKNOWN],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    core.train_from_iterator(texts, trainer=trainer)
    fast: Any = PreTrainedTokenizerFast  # untyped constructor
    return fast(tokenizer_object=core, unk_token=UNKNOWN, **SPECIALS)


def init_hf(
    out: Path,
    *,
    corpus: Path,
    field: str = "text",
    size: Size = "tiny",
    vocab_size: int = 2048,
    seed: int = 0,
) -> InitResult:
    """Train a tokenizer on ``corpus`` and write it with a fresh Llama of ``size`` to ``out``."""
    require_hf("building a Hugging Face model offline")
    if size not in SIZES:
        raise ConfigError(f"unknown size {size!r}; choose one of: {', '.join(SIZES)}")
    if not 300 <= vocab_size <= 65536:
        raise ConfigError(f"--vocab-size must be between 300 and 65536, not {vocab_size}")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConfigError(f"{str(out)!r} exists and is not an empty directory: choose another")
    texts = list(read_texts(corpus, field=field))
    if not texts:
        raise DatasetError(str(corpus), 0, "the corpus holds no text")
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = _train_tokenizer(texts, vocab_size)
    shape = SIZES[size]
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=shape["hidden_size"],
        intermediate_size=shape["intermediate_size"],
        num_hidden_layers=shape["num_hidden_layers"],
        num_attention_heads=shape["heads"],
        num_key_value_heads=shape["heads"],
        max_position_embeddings=512,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    out.mkdir(parents=True, exist_ok=True)
    with quiet_transformers():
        model.save_pretrained(out)
        tokenizer.save_pretrained(out)
    parameters = sum(p.numel() for p in model.parameters())
    return InitResult(out, len(tokenizer), parameters, len(texts))
