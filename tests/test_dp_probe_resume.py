"""``leakguard dp probe`` (issue 24 item 2): cached decoding, resumable batches after a real
kill, seeded sampled continuations, progress output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

pytest.importorskip("opacus")

from leakguard.cli import main
from leakguard.commands.exit_codes import EXIT_ERROR, EXIT_OK
from leakguard.dp.probe import BATCHES_DIR, ProbeSettings, Sampling, cut, run_probe

ROOT = Path(__file__).resolve().parent.parent
NAMES = ["Ada", "Brook", "Cyril", "Dana", "Emil", "Fern", "Gus", "Hana", "Ivo", "Jun"]


def _chats(path: Path, n: int, start: int) -> list[str]:
    texts = [
        f"hello, {NAMES[i % 10]} here. please send invoice {i:05d} to "
        f"{NAMES[i % 10].lower()}{i}@example.org today"
        for i in range(start, start + n)
    ]
    texts += texts[: n // 4]  # repeated records
    path.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts), encoding="utf-8")
    return texts


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny built-in model trained 3 steps, with its corpus and a control beside it."""
    root = tmp_path_factory.mktemp("probe")
    _chats(root / "c.jsonl", 80, 0)
    _chats(root / "control.jsonl", 40, 1000)
    (root / "job.yaml").write_text(
        "data: {path: c.jsonl, max_length: 96}\n"
        "model: {d_model: 16, layers: 1, heads: 2}\n"
        "privacy: {accountant: rdp, unit: example}\n"
        "training: {steps: 3, batch_size: 8, engine: hooks}\n",
        encoding="utf-8",
    )
    argv = ["dp", "train", str(root / "job.yaml"), "--out", str(root / "run"), "--quiet"]
    assert main(argv) == EXIT_OK
    return root


def test_cached_decoding_gives_the_logits_of_a_full_forward(trained: Path) -> None:
    import torch

    from leakguard.dp.data import PAD, encode
    from leakguard.dp.jobs import load_model
    from leakguard.dp.models import TinyLM

    model, _ = load_model(trained / "run" / "model.pt")
    assert isinstance(model, TinyLM)
    rows = [encode(t, max_length=96)[:-1] for t in ("hi", "hello, Ada here", "a much longer one")]
    ids = torch.full((3, max(map(len, rows))), PAD)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = torch.tensor(row)
    with torch.no_grad():
        decoder = model.decoder()
        logits = decoder.start(ids, torch.tensor([len(r) for r in rows]))
        for step, token in enumerate((ord("x"), ord(" "), ord("y"))):
            for i, row in enumerate(rows):
                full = model(torch.tensor([row]))[0, -1]
                torch.testing.assert_close(logits[i], full, atol=1e-5, rtol=1e-5)
                row.append(token)
            if step == 1:  # drop the middle row, as the generator drops finished ones
                decoder.keep(torch.tensor([0, 2]))
                rows = [rows[0], rows[2]]
            logits = decoder.step(torch.tensor([token] * len(rows)))


def _probe_argv(root: Path, out: Path, *extra: str) -> list[str]:
    return [
        "dp", "probe", str(root / "run"), "--corpus", str(root / "c.jsonl"),
        "--control", str(root / "control.jsonl"), "--out", str(out), "--prefixes", "40",
        "--batch-size", "2", "--no-pii", *extra,
    ]  # fmt: skip


def _measures(result: dict[str, object]) -> dict[str, object]:
    return {k: result[k] for k in ("groups", "comparisons", "sampled", "too_short")}


def test_a_killed_probe_resumes_from_its_finished_batches_with_the_same_result(
    trained: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "killed"
    batches = out / BATCHES_DIR
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    argv = [sys.executable, "-m", "leakguard.cli", *_probe_argv(trained, out, "--quiet")]
    log = tmp_path / "stderr.txt"
    with log.open("wb") as err, subprocess.Popen(argv, env=env, stderr=err) as proc:
        try:
            deadline = time.monotonic() + 300
            while not (batches.is_dir() and any(batches.glob("training-*.json"))):
                assert proc.poll() is None, log.read_text("utf-8")
                assert time.monotonic() < deadline, "no batch file after 300 s"
                time.sleep(0.01)
        finally:
            proc.kill()
    assert not (out / "probe.json").exists(), "the probe finished before it was killed"
    finished = len(list(batches.glob("*-*.json")))
    assert finished >= 1
    # The batch files hold scores, never the generated text.
    first = json.loads(next(batches.glob("training-*.json")).read_text("utf-8"))
    assert set(first) == {"fingerprint", "scores"}
    assert set(first["scores"][0]) == {
        "exact", "run", "suffix_words", "index_hit", "pii_in_suffix", "pii_recited",
    }  # fmt: skip

    assert main(_probe_argv(trained, out, "--quiet")) == EXIT_OK
    assert "resumed: " in capsys.readouterr().out
    resumed = json.loads((out / "probe.json").read_text("utf-8"))
    assert main(_probe_argv(trained, tmp_path / "whole", "--quiet")) == EXIT_OK
    whole = json.loads((tmp_path / "whole" / "probe.json").read_text("utf-8"))
    total = sum(g["prompts"] for g in whole["groups"].values())
    assert 0 < resumed["resumed_prompts"] < total
    assert whole["resumed_prompts"] == 0
    assert _measures(resumed) == _measures(whole)


def test_a_probe_dir_of_other_inputs_is_refused(
    trained: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "p"
    assert main([*_probe_argv(trained, out, "--quiet"), "--prefixes", "4"]) == EXIT_OK
    capsys.readouterr()
    assert main([*_probe_argv(trained, out, "--quiet"), "--prefixes", "5"]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert "holds the batches of another probe (different settings)" in err
    assert "choose another --out" in err


def test_pii_labels_survive_a_resume(tmp_path: Path) -> None:
    """Scores with PII labels read back from batch files equal freshly computed ones."""
    training = _chats(tmp_path / "c.jsonl", 24, 0)
    _chats(tmp_path / "control.jsonl", 24, 500)
    lookup = {}
    for text in training:
        prompt = cut(text, prefix_words=4, suffix_words=8)
        assert prompt is not None
        lookup[prompt.prefix] = text[len(prompt.prefix) :]

    def copier(
        prompts: Sequence[str], *, max_words: int, sample: Sampling | None = None
    ) -> list[str]:
        return [lookup.get(p, " nothing") for p in prompts]

    def probe(work: Path) -> dict[str, object]:
        return run_probe(
            tmp_path / "unused",
            corpus=tmp_path / "c.jsonl",
            control=tmp_path / "control.jsonl",
            settings=ProbeSettings(prefixes=12, prefix_words=4, batch_size=4),
            generator=copier,
            work_dir=work,
        )

    whole = probe(tmp_path / "work")
    for path in sorted((tmp_path / "work" / BATCHES_DIR).glob("*-*.json"))[::2]:
        path.unlink()
    again = probe(tmp_path / "work")
    assert 0 < int(str(again["resumed_prompts"])) < 36
    assert _measures(again) == _measures(whole)
    groups = whole["groups"]
    assert isinstance(groups, dict)
    assert groups["repeated"]["pii_recited"]["EMAIL_ADDRESS"] > 0
    assert groups["repeated"]["pii_recited"] == groups["repeated"]["pii_in_true_suffix"]


def test_sampled_continuations_are_seeded_and_leave_greedy_alone(trained: Path) -> None:
    from leakguard.dp.probe import load_generator

    generate, _ = load_generator(trained / "run")
    prompts = ["hello, Ada here.", "hello, Brook here. please send"]
    first = generate(prompts, max_words=8, sample=Sampling(1.0, 7))
    assert generate(prompts, max_words=8, sample=Sampling(1.0, 7)) == first
    assert generate(prompts, max_words=8, sample=Sampling(1.0, 8)) != first
    assert generate(prompts, max_words=8) == generate(prompts, max_words=8)

    def probe(settings: ProbeSettings) -> dict[str, object]:
        return run_probe(
            trained / "run",
            corpus=trained / "c.jsonl",
            control=trained / "control.jsonl",
            settings=settings,
            pii=False,
        )

    greedy = probe(ProbeSettings(prefixes=10))
    sampled = probe(ProbeSettings(prefixes=10, sample=True, temperature=0.7))
    assert sampled["groups"] == greedy["groups"]
    assert greedy["sampled"] is None
    part = sampled["sampled"]
    assert isinstance(part, dict)
    assert part["temperature"] == 0.7
    assert part["groups"]["training"]["prompts"] == 10
    assert probe(ProbeSettings(prefixes=10, sample=True, temperature=0.7)) == sampled


def test_progress_lines_off_a_terminal_and_silence_with_quiet(
    trained: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = _probe_argv(trained, tmp_path / "a")
    assert main(argv) == EXIT_OK
    err = capsys.readouterr().err.splitlines()
    total = err[-1].split("/")[1].split()[0]
    assert err[-1] == f"probe {total}/{total} prompts"
    assert 2 <= len(err) <= 12  # a line per tenth, not per batch
    assert main([*_probe_argv(trained, tmp_path / "b"), "--quiet"]) == EXIT_OK
    assert capsys.readouterr().err == ""
    assert main([*_probe_argv(trained, tmp_path / "c"), "--temperature", "0"]) == EXIT_ERROR
    assert "--temperature must be a positive number, got 0.0" in capsys.readouterr().err


def test_a_hugging_face_model_is_probed_greedy_and_sampled(trained: Path, tmp_path: Path) -> None:
    pytest.importorskip("transformers")
    argv = ["dp", "init-hf", str(tmp_path / "lm"), "--corpus", str(trained / "c.jsonl")]
    assert main([*argv, "--vocab-size", "300"]) == EXIT_OK

    def probe() -> dict[str, object]:
        return run_probe(
            tmp_path / "lm",
            corpus=trained / "c.jsonl",
            control=trained / "control.jsonl",
            settings=ProbeSettings(prefixes=6, batch_size=4, sample=True, seed=3),
            pii=False,
        )

    result = probe()
    assert result["model_kind"] == "hf"
    files = result["model_files"]
    assert isinstance(files, list)
    assert "model.safetensors" in {Path(f["path"]).name for f in files}
    assert all(len(f["sha256"]) == 64 for f in files)
    sampled = result["sampled"]
    assert isinstance(sampled, dict)
    assert sampled["groups"]["training"]["prompts"] == 6
    assert probe() == result  # seeded: the sampled continuations repeat


def test_device_cuda_without_a_gpu_is_a_clear_error(
    trained: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA device")
    assert main([*_probe_argv(trained, tmp_path / "a"), "--device", "cuda"]) == EXIT_ERROR
    assert "--device is 'cuda' but this torch" in capsys.readouterr().err
