"""``leakguard dp probe`` (issue 24): a model that copies its training data is caught reciting
it, one that emits random text is not, and bad inputs are clear errors."""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from pathlib import Path

import pytest

pytest.importorskip("opacus")

from leakguard.cli import main
from leakguard.commands.exit_codes import EXIT_ERROR, EXIT_OK
from leakguard.dp.probe import ProbeSettings, Sampling, cut, longest_common_run, run_probe
from leakguard.exceptions import DatasetError

WORDS = "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike"
WORDS_LIST = WORDS.split()


def _corpus(path: Path, n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    texts = [
        " ".join(rng.choice(WORDS_LIST) for _ in range(14)) + f" {rng.randrange(10**6)}"
        for _ in range(n)
    ]
    path.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts), encoding="utf-8")
    return texts


def test_a_model_that_copies_its_training_data_recites_all_of_it(tmp_path: Path) -> None:
    training = _corpus(tmp_path / "train.jsonl", 60, seed=1)
    _corpus(tmp_path / "control.jsonl", 60, seed=2)
    settings = ProbeSettings(prefixes=40, prefix_words=6, suffix_words=8)
    lookup = {}
    for text in training:
        prompt = cut(text, prefix_words=6, suffix_words=8)
        assert prompt is not None
        lookup[prompt.prefix] = text[len(prompt.prefix) :]

    def copier(
        prompts: Sequence[str], *, max_words: int, sample: Sampling | None = None
    ) -> list[str]:
        return [lookup.get(p, " unknown words only") for p in prompts]

    result = run_probe(
        tmp_path / "unused",
        corpus=tmp_path / "train.jsonl",
        control=tmp_path / "control.jsonl",
        settings=settings,
        pii=False,
        generator=copier,
    )
    groups = result["groups"]
    assert groups["training"]["exact_extraction_rate"] == 1.0
    assert groups["training"]["near_extraction_mean_run"] == 8.0
    assert groups["control"]["exact_extraction_rate"] == 0.0


def test_a_model_that_emits_random_text_scores_like_the_control(tmp_path: Path) -> None:
    _corpus(tmp_path / "train.jsonl", 60, seed=1)
    _corpus(tmp_path / "control.jsonl", 60, seed=2)
    rng = random.Random(0)

    def babbler(
        prompts: Sequence[str], *, max_words: int, sample: Sampling | None = None
    ) -> list[str]:
        return [" ".join(rng.choice(WORDS_LIST) for _ in range(max_words)) for _ in prompts]

    result = run_probe(
        tmp_path / "unused",
        corpus=tmp_path / "train.jsonl",
        control=tmp_path / "control.jsonl",
        settings=ProbeSettings(prefixes=60),
        pii=False,
        generator=babbler,
    )
    training, control = result["groups"]["training"], result["groups"]["control"]
    assert training["exact_extraction_rate"] == control["exact_extraction_rate"] == 0.0
    assert abs(training["near_extraction_mean_run"] - control["near_extraction_mean_run"]) < 0.5


def test_longest_common_run_counts_consecutive_words() -> None:
    assert longest_common_run(["a", "b", "c", "d"], ["x", "b", "c", "d", "y"]) == 3
    assert longest_common_run([], ["a"]) == 0


def test_bad_inputs_are_clear_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _corpus(tmp_path / "train.jsonl", 10, seed=1)
    _corpus(tmp_path / "control.jsonl", 10, seed=2)
    with pytest.raises(DatasetError, match=r"no record is longer than --prefix-words 40"):
        run_probe(
            tmp_path / "unused",
            corpus=tmp_path / "train.jsonl",
            control=tmp_path / "control.jsonl",
            settings=ProbeSettings(prefix_words=40),
            pii=False,
            generator=lambda prompts, *, max_words, sample=None: ["" for _ in prompts],
        )
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n", encoding="utf-8")
    argv = ["dp", "probe", str(tmp_path), "--corpus", str(empty), "--control", str(empty)]
    assert main(argv) == EXIT_ERROR
    assert "the corpus holds no text" in capsys.readouterr().err
    argv = ["dp", "probe", str(tmp_path / "nothing"), "--corpus", str(tmp_path / "train.jsonl")]
    assert main([*argv, "--control", str(tmp_path / "control.jsonl")]) == EXIT_ERROR
    assert "no model in" in capsys.readouterr().err


def test_probe_cli_on_a_trained_builtin_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _corpus(tmp_path / "c.jsonl", 48, seed=1)
    _corpus(tmp_path / "control.jsonl", 48, seed=2)
    config = tmp_path / "job.yaml"
    config.write_text(
        "data: {path: c.jsonl, max_length: 128}\n"
        "model: {d_model: 16, layers: 1, heads: 2}\n"
        "privacy: {accountant: rdp, unit: example}\n"
        "training: {steps: 3, batch_size: 8, engine: hooks}\n",
        encoding="utf-8",
    )
    run = tmp_path / "run"
    assert main(["dp", "train", str(config), "--out", str(run), "--quiet"]) == EXIT_OK
    out = tmp_path / "probe"
    argv = ["dp", "probe", str(run), "--corpus", str(tmp_path / "c.jsonl"), "--out", str(out)]
    argv += ["--control", str(tmp_path / "control.jsonl"), "--prefixes", "20", "--quiet"]
    assert main(argv) == EXIT_OK
    said = capsys.readouterr().out
    assert "training: exact extraction" in said
    result = json.loads((out / "probe.json").read_text("utf-8"))
    assert result["model_kind"] == "builtin"
    assert result["groups"]["training"]["prompts"] == 20
    assert "pii_recited" in result["groups"]["training"]
    assert "### Extraction probe" in (out / "PROBE.md").read_text("utf-8")
