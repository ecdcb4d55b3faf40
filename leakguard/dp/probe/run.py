"""Running a probe: draw the groups, generate and score batch by batch, resume a killed run.

With a work directory (``dp probe --out DIR``), each finished batch's scores go to
``DIR/probe-batches/<group>-<batch>.json`` (numbers and labels, never generated text) under
a fingerprint of everything that decides them (``state.json``: the settings, the hashes of
the model files, corpus, control and index, the PII switch and the device). A run started
again with the same inputs skips the batches it finds and gives the same result; one with
other inputs is refused rather than mixed (a generator passed from Python is not in the
fingerprint: it is the caller's to keep the same).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from leakguard._files import write_atomically
from leakguard.dp.init_hf import read_texts
from leakguard.dp.probe.generate import Generator, Sampling, file_sha256, resolve_model
from leakguard.dp.probe.prompts import GROUPS, ProbeSettings, Prompt, draw_prompts
from leakguard.dp.probe.scoring import (
    IndexFlags,
    PIIValues,
    PromptScore,
    comparisons,
    score_batch,
    summarize,
)
from leakguard.exceptions import ConfigError, DatasetError
from leakguard.memorization.normalize import lexemes

__all__ = ["BATCHES_DIR", "RESULT_VERSION", "Progress", "draw_groups", "run_probe"]

RESULT_VERSION = 1
BATCHES_DIR = "probe-batches"
# (prompts done, prompts in all, prompts found done by an earlier run)
Progress = Callable[[int, int, int], None]
# The sampled pass's batches are told apart from the greedy ones by this group prefix.
_SAMPLED = "sampled-"


def _texts(path: Path, field: str, what: str) -> list[str]:
    texts = list(read_texts(path, field=field))
    if not texts:
        raise DatasetError(str(path), 0, f"the {what} holds no text")
    return texts


def draw_groups(
    training_texts: Sequence[str], control_texts: Sequence[str], settings: ProbeSettings
) -> tuple[dict[str, list[Prompt]], dict[str, int]]:
    """The prompts of each group (a control record that is also a training record was seen,
    and is dropped), and how many records of each file were too short to cut."""
    seen = set(training_texts)
    control_texts = [t for t in control_texts if t not in seen]
    groups: dict[str, list[Prompt]] = {}
    groups["training"], short = draw_prompts(training_texts, settings, salt=1)
    groups["repeated"], _ = draw_prompts(training_texts, settings, salt=2, repeated_only=True)
    groups["control"], control_short = draw_prompts(control_texts, settings, salt=3)
    return groups, {"training": short, "control": control_short}


def _check_cut(
    groups: dict[str, list[Prompt]],
    sources: dict[str, tuple[Path, Sequence[str]]],
    settings: ProbeSettings,
) -> None:
    """A clear error when no record of a file is long enough to cut into a prompt."""
    for name, (path, texts) in sources.items():
        if not groups[name]:
            longest = max((len(lexemes(t)) for t in texts), default=0)
            raise DatasetError(
                str(path),
                0,
                f"no record is longer than --prefix-words {settings.prefix_words} (the longest "
                f"has {longest} words): shorten the prefix",
            )


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
    progress: Progress | None = None,
    generator: Generator | None = None,
    work_dir: Path | None = None,
    training_texts: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Probe the model at ``target``; the result as ``probe.json`` holds it.

    ``generator``: continuations from Python instead of loading ``target``. ``work_dir``:
    keep each finished batch there and resume from them. ``training_texts``: what the model
    was trained on, when that is not exactly the ``corpus`` file (``dp audit`` adds its
    canaries); ``corpus`` then only names it."""
    settings = settings or ProbeSettings()
    training = (
        list(training_texts) if training_texts is not None else _texts(corpus, field, "corpus")
    )
    if not training:
        raise DatasetError(str(corpus), 0, "the corpus holds no text")
    control_texts = _texts(control, field, "control")
    groups, too_short = draw_groups(training, control_texts, settings)
    seen = set(training)
    unseen = [t for t in control_texts if t not in seen]
    _check_cut(groups, {"training": (corpus, training), "control": (control, unseen)}, settings)
    kind = "given"
    files: list[Path] = []
    if generator is None:
        _, kind, files = resolve_model(target)
    inputs = {
        "corpus": _hashed(corpus),
        "control": _hashed(control),
        "index": _hashed(index) if index is not None else None,
    }
    if training_texts is not None:
        inputs["corpus"] = {"path": str(corpus), "sha256": _texts_sha256(training)}
    model_files = [{"path": str(p), "sha256": file_sha256(p)} for p in files]
    state = {
        "version": RESULT_VERSION,
        "settings": asdict(settings),
        "model_files": [f["sha256"] for f in model_files],
        "model_kind": kind,
        "inputs": {k: (v["sha256"] if v else None) for k, v in inputs.items()},
        "field": field,
        "pii": pii,
        "device": device,
    }
    store = _BatchStore(work_dir, state) if work_dir is not None else None
    scorer = _Scorer(target, generator, settings, device=device, index=index, pii=pii)
    scores, resumed = _run_batches(groups, settings, scorer, store, progress)
    result: dict[str, Any] = {
        "version": RESULT_VERSION,
        "model": str(target),
        "model_kind": kind,
        "model_files": model_files,
        "corpus": str(corpus),
        "control": str(control),
        "index": str(index) if index is not None else None,
        "inputs": inputs,
        "settings": asdict(settings),
        "device": device,
        "too_short": too_short,
        "resumed_prompts": resumed,
        **_measures({name: scores[name] for name in GROUPS}, pii=pii),
        "sampled": None,
    }
    if settings.sample:
        sampled = {name: scores[_SAMPLED + name] for name in GROUPS}
        result["sampled"] = {"temperature": settings.temperature, **_measures(sampled, pii=pii)}
    return result


class _Scorer:
    """Generates and scores a batch; loads the model, the index and the PII pipeline on the
    first batch it is given (a probe whose batches are all done loads nothing)."""

    def __init__(
        self,
        target: Path,
        generator: Generator | None,
        settings: ProbeSettings,
        *,
        device: str,
        index: Path | None,
        pii: bool,
    ) -> None:
        self.target, self.generator, self.settings = target, generator, settings
        self.device, self.index, self.pii = device, index, pii
        self.loaded = False
        self.index_flags: IndexFlags | None = None
        self.pii_values: PIIValues | None = None

    def __call__(self, batch: Sequence[Prompt], sample: Sampling | None) -> list[PromptScore]:
        if not self.loaded:
            if self.generator is None:
                from leakguard.dp.probe.generate import load_generator

                self.generator, _ = load_generator(self.target, device=self.device)
            if self.index is not None:
                self.index_flags = _index_flags(self.index, self.settings)
            self.pii_values = _pii_values() if self.pii else None
            self.loaded = True
        assert self.generator is not None
        prefixes = [p.prefix for p in batch]
        words = self.settings.suffix_words
        texts = (
            self.generator(prefixes, max_words=words, sample=sample)
            if sample is not None  # a generator given from Python may know greedy only
            else self.generator(prefixes, max_words=words)
        )
        return score_batch(batch, texts, index_flags=self.index_flags, pii_values=self.pii_values)


def _run_batches(
    groups: dict[str, list[Prompt]],
    settings: ProbeSettings,
    scorer: _Scorer,
    store: _BatchStore | None,
    progress: Progress | None,
) -> tuple[dict[str, list[PromptScore]], int]:
    """Scores per group (``sampled-<group>`` for the sampled pass), and how many prompts
    were read back from an earlier run instead of generated."""
    passes: list[tuple[str, Sampling | None]] = [("", None)]
    if settings.sample:
        passes.append((_SAMPLED, Sampling(settings.temperature, settings.seed)))
    plan = [
        (prefix + name, start, sampling)
        for prefix, sampling in passes
        for name in GROUPS
        for start in range(0, len(groups[name]), settings.batch_size)
    ]
    total = sum(len(groups[name]) for name in GROUPS) * len(passes)
    scores: dict[str, list[PromptScore]] = {
        prefix + name: [] for prefix, _ in passes for name in GROUPS
    }
    done = resumed = 0
    for key, start, sampling in plan:
        batch = groups[key.removeprefix(_SAMPLED)][start : start + settings.batch_size]
        found = store.read(key, start) if store is not None else None
        if found is None:
            sample = None
            if sampling is not None:
                # Seeded per batch: a batch redone after a kill samples the same.
                sample = Sampling(sampling.temperature, _batch_seed(sampling.seed, key, start))
            found = scorer(batch, sample)
            if store is not None:
                store.write(key, start, found)
        else:
            resumed += len(batch)
        scores[key] += found
        done += len(batch)
        if progress is not None:
            progress(done, total, resumed)
    return scores, resumed


def _measures(scores: dict[str, list[PromptScore]], *, pii: bool) -> dict[str, Any]:
    groups = {name: summarize(scores[name], pii=pii) for name in GROUPS}
    return {"groups": groups, "comparisons": comparisons(groups)}


def _batch_seed(seed: int, key: str, start: int) -> int:
    digest = hashlib.sha256(f"{seed}/{key}/{start}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def _hashed(path: Path) -> dict[str, Any]:
    return {"path": str(path), "sha256": file_sha256(path) if path.is_file() else None}


def _texts_sha256(texts: Sequence[str]) -> str:
    digest = hashlib.sha256()
    for text in texts:
        digest.update(json.dumps(text).encode("utf-8") + b"\n")
    return digest.hexdigest()


class _BatchStore:
    """Finished batches of one probe in ``work_dir``: read back when their fingerprint
    matches, refused when another probe's are there."""

    def __init__(self, work_dir: Path, state: dict[str, Any]) -> None:
        self.dir = work_dir / BATCHES_DIR
        self.fingerprint = hashlib.sha256(
            json.dumps(state, sort_keys=True).encode("utf-8")
        ).hexdigest()
        state_path = self.dir / "state.json"
        if state_path.is_file():
            try:
                held = json.loads(state_path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise ConfigError(
                    f"{str(state_path)!r} is unreadable ({exc}): remove {str(self.dir)!r} to "
                    "start the probe afresh"
                ) from exc
            if held.get("fingerprint") != self.fingerprint:
                changed = sorted(k for k in state if held.get("state", {}).get(k) != state[k])
                raise ConfigError(
                    f"--out {str(work_dir)!r} holds the batches of another probe (different "
                    f"{', '.join(changed) or 'inputs'}): choose another --out, or remove "
                    f"{str(self.dir)!r} to start afresh"
                )
        else:
            write_atomically(
                state_path,
                json.dumps({"fingerprint": self.fingerprint, "state": state}, indent=2) + "\n",
            )

    def _path(self, key: str, start: int) -> Path:
        return self.dir / f"{key}-{start:07d}.json"

    def read(self, key: str, start: int) -> list[PromptScore] | None:
        path = self._path(key, start)
        if not path.is_file():
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("fingerprint") != self.fingerprint:
            return None
        return [PromptScore.from_dict(s) for s in data["scores"]]

    def write(self, key: str, start: int, scores: list[PromptScore]) -> None:
        payload = {"fingerprint": self.fingerprint, "scores": [s.to_dict() for s in scores]}
        write_atomically(self._path(key, start), json.dumps(payload) + "\n")


def _index_flags(index: Path, settings: ProbeSettings) -> IndexFlags | None:
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

    def flags(texts: Sequence[str]) -> list[bool]:
        return [
            any(f.detector == "memorization" for f in guard.scan(text).findings) for text in texts
        ]

    return flags


def _pii_values() -> PIIValues:
    """The default guard's PII findings, the batch way (one spaCy pass per batch)."""
    from leakguard.config import parse_config
    from leakguard.pii.batch import BatchPIIDetector
    from leakguard.pii.detector import PIIDetector

    detector = BatchPIIDetector(PIIDetector(parse_config({}).pii))

    def values(texts: Sequence[str]) -> list[set[tuple[str, str]]]:
        return [
            {(f.label, " ".join(lexemes(text[f.start : f.end]))) for f in found}
            for text, found in zip(texts, detector.detect_batch(texts), strict=True)
        ]

    return values
