"""``leakguard dp init-hf`` (issue 25, item 7): a Hugging Face model and a tokenizer trained on
the user's corpus, offline, that ``leakguard dp train`` fine-tunes with LoRA as the README says."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("opacus")
pytest.importorskip("transformers")
pytest.importorskip("peft")

from leakguard.cli import main
from leakguard.commands.exit_codes import EXIT_ERROR, EXIT_OK

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_init_hf_builds_a_model_the_lora_example_trains(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = EXAMPLES / "dp_support_chats.jsonl"
    model_dir = tmp_path / "base-lm"
    argv = ["dp", "init-hf", str(model_dir), "--corpus", str(corpus), "--vocab-size", "512"]
    assert main(argv) == EXIT_OK
    said = capsys.readouterr().out
    assert "tokenizer (512 tokens, trained on 1545 texts)" in said
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= {
        p.name for p in model_dir.iterdir()
    }
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    text = "Hi Zoë, your ticket #4411 is closed."
    assert tokenizer.decode(tokenizer(text)["input_ids"]) == text  # byte-level: lossless

    # The shipped LoRA example, pointed at the new model, shortened to a few steps.
    config = (EXAMPLES / "dp_hf_lora.yaml").read_text("utf-8")
    config = config.replace("path: ../models/base-lm", f"path: {model_dir}")
    config = config.replace("path: dp_support_chats.jsonl", f"path: {corpus}")
    config = config.replace("epochs: 3", "steps: 2")
    job = tmp_path / "job.yaml"
    job.write_text(config, encoding="utf-8")
    out = tmp_path / "out"
    assert main(["dp", "train", str(job), "--out", str(out), "--quiet"]) == EXIT_OK
    report = json.loads((out / "privacy_report.json").read_text("utf-8"))
    assert report["model"]["kind"] == "hf"
    assert report["model"]["lora"]["r"] == 8
    assert report["steps"] == 2


def test_init_hf_refuses_a_directory_in_use_and_an_empty_corpus(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    used = tmp_path / "used"
    used.mkdir()
    (used / "keep.txt").write_text("x", encoding="utf-8")
    corpus = tmp_path / "c.jsonl"
    corpus.write_text(json.dumps({"text": "hello"}) + "\n", encoding="utf-8")
    assert main(["dp", "init-hf", str(used), "--corpus", str(corpus)]) == EXIT_ERROR
    assert "is not an empty directory" in capsys.readouterr().err
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n", encoding="utf-8")
    assert main(["dp", "init-hf", str(tmp_path / "m"), "--corpus", str(empty)]) == EXIT_ERROR
    assert "the corpus holds no text" in capsys.readouterr().err
    argv = ["dp", "init-hf", str(tmp_path / "m"), "--corpus", str(corpus), "--field", "body"]
    assert main(argv) == EXIT_ERROR
    assert "no string field 'body' (set --field)" in capsys.readouterr().err
