"""Continuations from the model under test: the built-in byte-level LM (key/value-cached
batched decoding) or a local Hugging Face causal LM (``generate``, with or without LoRA).

Greedy by default; with a :class:`Sampling`, softmax sampling at a temperature from a
generator seeded per batch, so that a batch redone (a resumed probe) says the same.
Imports torch inside the loaders: call them only after :func:`leakguard.dp.require_dp`.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from leakguard.exceptions import ConfigError

__all__ = ["Generator", "Sampling", "file_sha256", "load_generator", "resolve_model"]

# Room for a word of the built-in byte-level model, in tokens (bytes): a word plus its space.
_BYTES_PER_WORD = 16
# Room for a word of a subword tokenizer, in tokens.
_TOKENS_PER_WORD = 4


@dataclass(frozen=True, slots=True)
class Sampling:
    """Sample instead of taking the most likely token: softmax at ``temperature``."""

    temperature: float
    seed: int


class Generator(Protocol):
    """Continuations of a batch of prompts, each at most ``max_words`` words long; greedy,
    or sampled when ``sample`` is given."""

    def __call__(
        self, prompts: Sequence[str], *, max_words: int, sample: Sampling | None = None
    ) -> list[str]: ...


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def resolve_model(target: Path) -> tuple[Path, Literal["builtin", "hf"], list[Path]]:
    """What ``target`` names (a ``dp train`` output directory, a ``model.pt``, or a
    ``save_pretrained`` directory with or without LoRA adapters): the path to load, its
    kind, and the files the model is read from (for their hashes)."""
    if target.is_dir() and (target / "model.pt").is_file():
        target = target / "model.pt"
    elif target.is_dir() and any(
        (target / "model" / name).is_file() for name in ("config.json", "adapter_config.json")
    ):
        target = target / "model"
    if target.is_file():
        return target, "builtin", [target]
    if (target / "config.json").is_file() or (target / "adapter_config.json").is_file():
        return target, "hf", sorted(p for p in target.rglob("*") if p.is_file())
    raise ConfigError(
        f"no model in {str(target)!r}: give a 'leakguard dp train' output directory, its "
        "model.pt, or a directory written by save_pretrained()"
    )


def load_generator(target: Path, *, device: str = "cpu") -> tuple[Generator, str]:
    """A generator for the model ``target`` names (see :func:`resolve_model`), and its kind."""
    path, kind, _ = resolve_model(target)
    if kind == "builtin":
        return _builtin_generator(path, device), kind
    return _hf_generator(path, device), kind


def _pick(logits: Any, sample: Sampling | None, rng: Any) -> Any:
    import torch

    if sample is None:
        return logits.argmax(-1)
    probs = torch.softmax(logits.float() / sample.temperature, dim=-1)
    return torch.multinomial(probs, 1, generator=rng)[:, 0]


@contextlib.contextmanager
def _one_thread(where: Any) -> Iterator[None]:
    """On the CPU, torch on one thread while the built-in model decodes: each step's
    operations are tiny ([batch, 1, d_model]) and intra-op threads spend more waiting for
    each other than they save (128 prompts of the bundled chats: 4.6 CPU seconds on 2
    threads, 0.26 on one, on a busy 2-core machine)."""
    import torch

    if where.type != "cpu":
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _builtin_generator(path: Path, device: str) -> Generator:
    import torch

    from leakguard.dp.data import EOS, PAD, encode
    from leakguard.dp.devices import resolve_device
    from leakguard.dp.jobs import load_model
    from leakguard.dp.models import TinyLM

    model, saved = load_model(path)
    if saved["task"] != "causal_lm" or not isinstance(model, TinyLM):
        raise ConfigError(f"{str(path)!r} is a classifier: the probe needs a causal LM")
    where = resolve_device(device, setting="--device")
    model.to(where)
    max_length = int(saved["max_length"])

    @torch.no_grad()
    def generate(
        prompts: Sequence[str], *, max_words: int, sample: Sampling | None = None
    ) -> list[str]:
        with _one_thread(where):
            return decode(prompts, max_words=max_words, sample=sample)

    def decode(prompts: Sequence[str], *, max_words: int, sample: Sampling | None) -> list[str]:
        rows = [encode(p, max_length=max_length)[:-1] for p in prompts]  # no EOS: continue
        new: list[list[int]] = [[] for _ in rows]
        active = [i for i, r in enumerate(rows) if len(r) < max_length]
        if not active:
            return ["" for _ in rows]
        ids = torch.full((len(active), max(len(rows[i]) for i in active)), PAD, dtype=torch.long)
        for slot, i in enumerate(active):
            ids[slot, : len(rows[i])] = torch.tensor(rows[i])
        lengths = [len(rows[i]) for i in active]
        rng = None
        if sample is not None:
            rng = torch.Generator(device=where).manual_seed(sample.seed)
        decoder = model.decoder()
        logits = decoder.start(ids.to(where), torch.tensor(lengths, device=where))
        for _ in range(max_words * _BYTES_PER_WORD):
            tokens = _pick(logits, sample, rng).tolist()
            keep: list[int] = []
            for slot, (i, t) in enumerate(zip(active, tokens, strict=True)):
                if t >= 256 or t == EOS:  # end of text (or a special token): done
                    continue
                new[i].append(t)
                lengths[slot] += 1
                if lengths[slot] < max_length and len(bytes(new[i]).split()) <= max_words:
                    keep.append(slot)
            if not keep:
                break
            if len(keep) < len(active):
                decoder.keep(torch.tensor(keep, device=where))
                active = [active[s] for s in keep]
                lengths = [lengths[s] for s in keep]
                tokens = [tokens[s] for s in keep]
            logits = decoder.step(torch.tensor(tokens, device=where))
        return [bytes(n).decode("utf-8", errors="replace") for n in new]

    return generate


def _hf_generator(path: Path, device: str) -> Generator:
    import torch

    from leakguard.dp.devices import resolve_device
    from leakguard.dp.hf import quiet_transformers, require_hf

    require_hf("probing a Hugging Face model")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    adapter = (path / "adapter_config.json").is_file()
    with quiet_transformers():
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        if adapter:
            from peft import AutoPeftModelForCausalLM

            model = AutoPeftModelForCausalLM.from_pretrained(path, local_files_only=True)
        else:
            model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True)
    where = resolve_device(device, setting="--device")
    model.to(where).eval()
    tokenizer.padding_side = "left"
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token

    @torch.no_grad()
    def generate(
        prompts: Sequence[str], *, max_words: int, sample: Sampling | None = None
    ) -> list[str]:
        batch = tokenizer(list(prompts), return_tensors="pt", padding=True).to(where)
        options: dict[str, Any] = {"do_sample": False}
        if sample is not None:
            # Plain softmax sampling: no top-k / top-p truncation.
            options = {"do_sample": True, "temperature": sample.temperature, "top_k": 0}
            options["top_p"] = 1.0
        devices = [where] if where.type == "cuda" else []
        # generate() draws from torch's global generator: seed a fork of it, not the caller's.
        with torch.random.fork_rng(devices=devices), quiet_transformers():
            if sample is not None:
                torch.manual_seed(sample.seed)
            out = model.generate(
                **batch,
                max_new_tokens=max_words * _TOKENS_PER_WORD,
                pad_token_id=tokenizer.pad_token_id,
                **options,
            )
        texts: list[str] = tokenizer.batch_decode(
            out[:, batch["input_ids"].shape[1] :], skip_special_tokens=True
        )
        return texts

    return generate
