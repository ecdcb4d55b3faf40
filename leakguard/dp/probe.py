"""``leakguard dp probe``: does a trained model recite its training data?

The extraction test of the memorization literature (Carlini et al., "extractable
memorization"): prompt the model with the first K words of a training record, continue it
greedily, and compare the continuation with the record's true next M words. The same is done
for a *control*: records of the same kind the model never saw. The control's rates are what a
model that generalises (not memorises) reaches; the gap between the two is memorization.

Words are the normalized lexemes of :mod:`leakguard.memorization.normalize`, so "the same
words" means what the memorization index means by it. Reported per group (all training
prefixes, repeated training records, control):

- exact extraction: the continuation's first words equal the true suffix;
- near extraction: the longest common run of words between continuation and true suffix;
- index hits: continuations the memorization detector flags (needs ``--index``);
- PII recited: a PII value of the true suffix that reappears in the continuation, counted
  by label, never printed.

Imports torch: load it only after :func:`leakguard.dp.require_dp`.
"""

from __future__ import annotations

import json
import random
import statistics
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from leakguard.dp.init_hf import read_texts
from leakguard.exceptions import ConfigError, DatasetError
from leakguard.memorization.normalize import lex, lexemes

__all__ = [
    "GROUPS",
    "ProbeSettings",
    "Prompt",
    "draw_prompts",
    "load_generator",
    "run_probe",
    "score_group",
]

GROUPS = ("training", "repeated", "control")
PROBE_NAME = "probe.json"
PROBE_MD = "PROBE.md"


@dataclass(frozen=True, slots=True)
class ProbeSettings:
    """How many prompts, how long, which seed; ``batch_size`` prompts generate together."""

    prefixes: int = 200
    prefix_words: int = 6
    suffix_words: int = 8
    seed: int = 0
    batch_size: int = 64

    def __post_init__(self) -> None:
        for name in ("prefixes", "prefix_words", "suffix_words", "batch_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"--{name.replace('_', '-')} must be at least 1")


@dataclass(frozen=True, slots=True)
class Prompt:
    """A record cut in two: the prefix as written, and the true suffix (normalized words and
    the original text). ``repeats``: how often the record's text occurs in its corpus."""

    prefix: str
    suffix: tuple[str, ...]
    suffix_text: str
    repeats: int = 1


class Generator(Protocol):
    """Greedy continuations of a batch of prompts, each at most ``max_words`` words long."""

    def __call__(self, prompts: Sequence[str], *, max_words: int) -> list[str]: ...


def cut(text: str, *, prefix_words: int, suffix_words: int) -> Prompt | None:
    """``text`` split after ``prefix_words`` words, or None if no word follows the prefix."""
    words = lex(text)
    if len(words) <= prefix_words:
        return None
    last = min(len(words), prefix_words + suffix_words) - 1
    start = int(words.starts[prefix_words])
    return Prompt(
        prefix=text[: int(words.ends[prefix_words - 1])],
        suffix=tuple(words.words[prefix_words : last + 1]),
        suffix_text=text[start : int(words.ends[last])],
    )


def draw_prompts(
    texts: Sequence[str], settings: ProbeSettings, *, salt: int = 0, repeated_only: bool = False
) -> tuple[list[Prompt], int]:
    """Up to ``settings.prefixes`` prompts from distinct records (seeded), and how many
    records were too short to cut. ``repeated_only``: only records whose text occurs more
    than once (the training data's duplicates, what memorisation studies single out)."""
    counts = Counter(texts)
    distinct = sorted(counts)
    if repeated_only:
        distinct = [t for t in distinct if counts[t] > 1]
    prompts: list[Prompt] = []
    short = 0
    for text in distinct:
        prompt = cut(text, prefix_words=settings.prefix_words, suffix_words=settings.suffix_words)
        if prompt is None:
            short += 1
        else:
            prompts.append(Prompt(prompt.prefix, prompt.suffix, prompt.suffix_text, counts[text]))
    rng = random.Random(settings.seed * 1_000_003 + salt)
    rng.shuffle(prompts)
    return prompts[: settings.prefixes], short


def longest_common_run(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest run of consecutive words that ``a`` and ``b`` share."""
    best = 0
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0] * (len(b) + 1)
        for j, y in enumerate(b, 1):
            if x == y:
                current[j] = previous[j - 1] + 1
                best = max(best, current[j])
        previous = current
    return best


@dataclass(slots=True)
class _Tally:
    exact: int = 0
    runs: list[int] = field(default_factory=list)
    index_hits: int = 0
    pii_in_suffix: Counter[str] = field(default_factory=Counter)
    pii_recited: Counter[str] = field(default_factory=Counter)


def score_group(
    prompts: Sequence[Prompt],
    continuations: Sequence[str],
    *,
    index_flags: Callable[[str], bool] | None = None,
    pii_values: Callable[[str], Iterable[tuple[str, str]]] | None = None,
) -> dict[str, Any]:
    """The rates of one group. ``pii_values(text)`` yields (label, normalized value) pairs."""
    tally = _Tally()
    for prompt, text in zip(prompts, continuations, strict=True):
        said = lexemes(text)
        if tuple(said[: len(prompt.suffix)]) == prompt.suffix:
            tally.exact += 1
        tally.runs.append(longest_common_run(said, prompt.suffix))
        if index_flags is not None and index_flags(text):
            tally.index_hits += 1
        if pii_values is not None:
            truth = set(pii_values(prompt.suffix_text))
            recited = truth & set(pii_values(text))
            tally.pii_in_suffix.update(label for label, _ in truth)
            tally.pii_recited.update(label for label, _ in recited)
    n = len(prompts)
    result: dict[str, Any] = {
        "prompts": n,
        "exact_extraction_rate": tally.exact / n if n else 0.0,
        "exact_extractions": tally.exact,
        "near_extraction_mean_run": statistics.fmean(tally.runs) if n else 0.0,
        "near_extraction_max_run": max(tally.runs, default=0),
        "mean_suffix_words": statistics.fmean(len(p.suffix) for p in prompts) if n else 0.0,
    }
    if index_flags is not None:
        result["index_hit_rate"] = tally.index_hits / n if n else 0.0
    if pii_values is not None:
        result["pii_in_true_suffix"] = dict(sorted(tally.pii_in_suffix.items()))
        result["pii_recited"] = dict(sorted(tally.pii_recited.items()))
    return result


def _builtin_generator(path: Path, device: str) -> Generator:
    import torch

    from leakguard.dp.data import EOS, PAD, encode
    from leakguard.dp.devices import resolve_device
    from leakguard.dp.jobs import load_model

    model, saved = load_model(path)
    if saved["task"] != "causal_lm":
        raise ConfigError(f"{str(path)!r} is a classifier: the probe needs a causal LM")
    where = resolve_device(device)
    model.to(where)
    max_length = int(saved["max_length"])

    @torch.no_grad()
    def generate(prompts: Sequence[str], *, max_words: int) -> list[str]:
        rows = [encode(p, max_length=max_length)[:-1] for p in prompts]  # no EOS: continue
        lengths = [len(r) for r in rows]
        ids = torch.full((len(rows), max_length), PAD, dtype=torch.long)
        for i, row in enumerate(rows):
            ids[i, : len(row)] = torch.tensor(row)
        new: list[list[int]] = [[] for _ in rows]
        live = [n < max_length for n in lengths]
        # A word is at most ~16 bytes here: enough room for max_words words.
        for _ in range(max_words * 16):
            if not any(live):
                break
            width = max(lengths)
            logits = model(ids[:, :width].to(where))
            at = torch.tensor([n - 1 for n in lengths]).to(where)
            token = logits[torch.arange(len(rows)), at].argmax(-1).tolist()
            for i, t in enumerate(token):
                if not live[i]:
                    continue
                if t >= 256 or t == EOS:
                    live[i] = False
                    continue
                new[i].append(t)
                ids[i, lengths[i]] = t
                lengths[i] += 1
                if lengths[i] >= max_length or len(bytes(new[i]).split()) > max_words:
                    live[i] = False
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
    where = resolve_device(device)
    model.to(where).eval()
    tokenizer.padding_side = "left"
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token

    @torch.no_grad()
    def generate(prompts: Sequence[str], *, max_words: int) -> list[str]:
        batch = tokenizer(list(prompts), return_tensors="pt", padding=True).to(where)
        with quiet_transformers():
            out = model.generate(
                **batch,
                max_new_tokens=max_words * 4,
                do_sample=False,
                pad_token_id=tokenizer.pad_token_id,
            )
        texts: list[str] = tokenizer.batch_decode(
            out[:, batch["input_ids"].shape[1] :], skip_special_tokens=True
        )
        return texts

    return generate


def load_generator(target: Path, *, device: str = "cpu") -> tuple[Generator, str]:
    """A greedy generator for a ``dp train`` output directory, a ``model.pt``, or a
    ``save_pretrained`` directory (with or without LoRA adapters); and what it is."""
    if target.is_dir() and (target / "model.pt").is_file():
        target = target / "model.pt"
    elif target.is_dir() and any(
        (target / "model" / name).is_file() for name in ("config.json", "adapter_config.json")
    ):
        target = target / "model"
    if target.is_file():
        return _builtin_generator(target, device), "builtin"
    if (target / "config.json").is_file() or (target / "adapter_config.json").is_file():
        return _hf_generator(target, device), "hf"
    raise ConfigError(
        f"no model in {str(target)!r}: give a 'leakguard dp train' output directory, its "
        "model.pt, or a directory written by save_pretrained()"
    )


def _texts(path: Path, field: str, what: str) -> list[str]:
    texts = list(read_texts(path, field=field))
    if not texts:
        raise DatasetError(str(path), 0, f"the {what} holds no text")
    return texts


def run_probe(
    target: Path,
    *,
    corpus: Path,
    control: Path,
    field: str = "text",
    index: Path | None = None,
    settings: ProbeSettings | None = None,
    device: str = "cpu",
    pii: bool = True,
    progress: Callable[[int, int], None] | None = None,
    generator: Generator | None = None,
) -> dict[str, Any]:
    """Probe the model at ``target``; the result as ``probe.json`` holds it."""
    settings = settings or ProbeSettings()
    training_texts = _texts(corpus, field, "corpus")
    seen = set(training_texts)
    # A control record that is also a training record was seen: it would not be a control.
    control_texts = [t for t in _texts(control, field, "control") if t not in seen]
    groups: dict[str, list[Prompt]] = {}
    groups["training"], short = draw_prompts(training_texts, settings, salt=1)
    groups["repeated"], _ = draw_prompts(training_texts, settings, salt=2, repeated_only=True)
    groups["control"], control_short = draw_prompts(control_texts, settings, salt=3)
    for name, path in (("training", corpus), ("control", control)):
        if not groups[name]:
            texts = training_texts if name == "training" else control_texts
            longest = max(len(lexemes(t)) for t in texts)
            raise DatasetError(
                str(path),
                0,
                f"no record is longer than --prefix-words {settings.prefix_words} (the longest "
                f"has {longest} words): shorten the prefix",
            )
    kind = "given"
    if generator is None:
        generator, kind = load_generator(target, device=device)
    total = sum(len(p) for p in groups.values())
    done = 0
    continuations: dict[str, list[str]] = {}
    for name, prompts in groups.items():
        out: list[str] = []
        for start in range(0, len(prompts), settings.batch_size):
            batch = prompts[start : start + settings.batch_size]
            out += generator([p.prefix for p in batch], max_words=settings.suffix_words)
            done += len(batch)
            if progress is not None:
                progress(done, total)
        continuations[name] = out
    index_flags = _index_flags(index, settings) if index is not None else None
    pii_values = _pii_values() if pii else None
    result: dict[str, Any] = {
        "version": 1,
        "model": str(target),
        "model_kind": kind,
        "corpus": str(corpus),
        "control": str(control),
        "index": str(index) if index is not None else None,
        "settings": asdict(settings),
        "too_short": {"training": short, "control": control_short},
        "groups": {
            name: score_group(
                groups[name], continuations[name], index_flags=index_flags, pii_values=pii_values
            )
            for name in GROUPS
        },
    }
    return result


def _index_flags(index: Path, settings: ProbeSettings) -> Callable[[str], bool] | None:
    """Whether the memorization detector flags a continuation on its own, with the index's
    n-gram length as the shortest run (the guard's default of 40 words is for long answers);
    None (not measurable) when the suffix is shorter than one n-gram."""
    from leakguard.config import parse_config
    from leakguard.guard import Guard
    from leakguard.memorization.bloom import BloomFilter

    ngram = int(BloomFilter.open(index).header.params.get("ngram", 8))
    if settings.suffix_words < ngram:
        return None
    config = parse_config(
        {
            "pii": {"enabled": False},
            "memorization": {"index": str(index), "ngram": ngram, "min_words": ngram},
        }
    )
    guard = Guard(config)

    def flags(text: str) -> bool:
        return any(f.detector == "memorization" for f in guard.scan(text).findings)

    return flags


def _pii_values() -> Callable[[str], Iterable[tuple[str, str]]]:
    from leakguard.config import parse_config
    from leakguard.guard import Guard

    guard = Guard(parse_config({}))

    def values(text: str) -> Iterable[tuple[str, str]]:
        for finding in guard.scan(text).findings:
            if finding.detector == "pii":
                yield finding.label, " ".join(lexemes(text[finding.start : finding.end]))

    return values


def write_probe(result: dict[str, Any], out_dir: Path) -> tuple[Path, Path]:
    """``probe.json`` and ``PROBE.md`` in ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out_dir / PROBE_NAME, out_dir / PROBE_MD
    json_path.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    md_path.write_text("\n".join(probe_md({"model": result})) + "\n", encoding="utf-8")
    return json_path, md_path


def probe_md(results: dict[str, dict[str, Any]]) -> list[str]:
    """A table of the probe's rates for one or more models (e.g. DP and non-DP)."""
    first = next(iter(results.values()))
    s = first["settings"]
    names = list(results)
    lines = [
        "### Extraction probe",
        "",
        f"Prompted with the first {s['prefix_words']} words of {s['prefixes']} seeded training "
        f"records (and of records the model never saw, the control), greedy continuation "
        f"of up to {s['suffix_words']} words, compared with the records' true next words.",
        "",
        "| | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
    ]
    for group, title in (
        ("training", "training records"),
        ("repeated", "repeated training records"),
        ("control", "control (never seen)"),
    ):
        cells = []
        for name in names:
            g = results[name]["groups"][group]
            cells.append(
                f"{g['exact_extraction_rate']:.1%} exact ({g['exact_extractions']}/{g['prompts']}),"
                f" run {g['near_extraction_mean_run']:.2f} words"
            )
        lines.append(f"| {title} | " + " | ".join(cells) + " |")
    if all("index_hit_rate" in r["groups"]["training"] for r in results.values()):
        cells = [
            f"{r['groups']['training']['index_hit_rate']:.1%} vs control "
            f"{r['groups']['control']['index_hit_rate']:.1%}"
            for r in results.values()
        ]
        lines.append("| index hits, training vs control | " + " | ".join(cells) + " |")
    if all("pii_recited" in r["groups"]["training"] for r in results.values()):
        cells = []
        for r in results.values():
            recited = r["groups"]["repeated"]["pii_recited"]
            total = sum(r["groups"]["repeated"]["pii_in_true_suffix"].values())
            cells.append(
                f"{sum(recited.values())} of {total} "
                + (f"({', '.join(f'{k} {v}' for k, v in recited.items())})" if recited else "")
            )
        lines.append("| PII values recited (repeated records) | " + " | ".join(cells) + " |")
    lines += [
        "",
        "How to read it: the control's rate is what the model reaches by generalising (the "
        "records follow common patterns); a training rate clearly above the control's is "
        "memorisation: the model recites text because it was trained on it. DP bounds how "
        "much any one record can change the model, so a DP model's training and control "
        "rates should be close; ε bounds this for every record, the probe measures it for "
        "the records drawn.",
    ]
    return lines
