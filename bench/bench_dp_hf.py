"""DP step cost on a Hugging Face causal LM against a non-private step, side by side.

Builds a small Llama-style model (``--hidden``, ``--layers``; character-level tokenizer over
the bundled support chats) into a temporary directory, loads it the way ``leakguard dp
train`` does (:func:`leakguard.dp.hf.load_hf`: full fine-tuning, or LoRA r=8 on q_proj and
v_proj), and times one full training step (forward, backward, clip, noise, update) on one
physical batch: non-private, DP with ``hooks`` and DP with ``ghost``, the modes taking turns.
Reports medians and the ratio to the non-private step. Needs ``leakguard[dp-hf]``.
Run niced: ``nice .venv/bin/python bench/bench_dp_hf.py``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from leakguard.dp import parse_dp_config
from leakguard.dp.config import HFModelConfig
from leakguard.dp.engines import one_batch_private, physical_backward
from leakguard.dp.hf import HFCollate, dataset_ids, hf_losses, load_hf

warnings.filterwarnings("ignore")
torch.set_num_threads(1)
CORPUS = Path(__file__).resolve().parent.parent / "examples" / "dp_support_chats.jsonl"


def build_model(directory: Path, *, hidden: int, layers: int) -> list[str]:
    """A Llama-style model and a character-level tokenizer, saved with save_pretrained."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast
    from transformers.utils import logging as hf_logging

    texts = [json.loads(line)["text"] for line in CORPUS.read_text(encoding="utf-8").splitlines()]
    specials = ["<pad>", "<s>", "</s>", "<unk>"]
    vocab = {t: i for i, t in enumerate(specials + sorted({c for t in texts for c in t}))}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Split("", "isolated")
    tok.decoder = decoders.Fuse()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        pad_token="<pad>",
    )
    config = LlamaConfig(
        vocab_size=len(vocab),
        hidden_size=hidden,
        intermediate_size=4 * hidden,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=512,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
    )
    hf_logging.disable_progress_bar()
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return texts


def stepper(
    model_config: HFModelConfig, mode: str, texts: list[str], size: int, length: int
) -> Callable[[], float]:
    """One full training step on a freshly loaded model; returns its seconds."""
    loaded = load_hf(model_config)
    model = loaded.model
    collate = HFCollate(loaded.tokenizer.pad_token_id)
    items = dataset_ids(loaded.tokenizer, texts[:size], max_length=length)
    batch = collate(items)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer: Any = torch.optim.Adam(params, lr=1e-3)
    private = None
    if mode != "plain":
        private = one_batch_private(
            model,
            optimizer,
            items,
            collate,
            noise_multiplier=1.0,
            max_grad_norm=1.0,
            mode=mode,  # type: ignore[arg-type]
        )
        optimizer = private.optimizer

    def step() -> float:
        start = time.perf_counter()
        losses = hf_losses(model, batch)
        if private is None:
            (losses.sum() / len(items)).backward()
        else:
            physical_backward(mode, private, losses)  # type: ignore[arg-type]
        optimizer.step()
        optimizer.zero_grad()
        return time.perf_counter() - start

    step()  # warm-up
    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--length", type=int, default=96)
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        texts = build_model(Path(tmp), hidden=args.hidden, layers=args.layers)
        texts = [t * 3 for t in texts]  # long enough to fill --length tokens
        print(
            f"Llama-style hidden {args.hidden}, {args.layers} layers, batch {args.batch}, "
            f"T={args.length}, 1 torch thread; medians of {args.repeats} interleaved steps"
        )
        for name, lora in (("all trainable", None), ("LoRA r=8 q,v", {"r": 8})):
            data = {"kind": "hf", "path": tmp, **({"lora": lora} if lora else {})}
            model_config = parse_dp_config({"data": {"path": "x"}, "model": data}).model
            assert isinstance(model_config, HFModelConfig)
            steps = {
                mode: stepper(model_config, mode, texts, args.batch, args.length)
                for mode in ("plain", "hooks", "ghost")
            }
            times: dict[str, list[float]] = {mode: [] for mode in steps}
            for _ in range(args.repeats):
                for mode, step in steps.items():
                    times[mode].append(step())
            med = {mode: statistics.median(t) for mode, t in times.items()}
            print(
                f"{name:14s} plain {med['plain'] * 1e3:7.1f} ms | "
                + " | ".join(
                    f"{m} {med[m] * 1e3:7.1f} ms ({med[m] / med['plain']:.2f}x)"
                    for m in ("hooks", "ghost")
                )
            )


if __name__ == "__main__":
    main()
