"""DP fine-tuning of Hugging Face causal LMs from a local directory, with and without LoRA.

The models are tiny (hidden size 32, 2 layers) and built here from a config, with a
character-level tokenizer made from the bundled corpus: nothing is downloaded. Llama
(nn.Linear + RMSNorm, rotary positions, untied head) and GPT-2 (Conv1D, learned position
embeddings, tied input/output embeddings, a tokenizer without a pad token) cover what
Opacus needs from transformers models.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("opacus")
if os.environ.get("CI"):
    # CI installs [dev], which includes [dp-hf]: there these tests must run, never skip.
    import peft  # noqa: F401
    import transformers  # noqa: F401
else:
    pytest.importorskip("transformers")
    pytest.importorskip("peft")

from torch import nn  # noqa: E402

from leakguard.cli import main  # noqa: E402
from leakguard.dp import HFModelConfig, load_dp_config, parse_dp_config, run_training  # noqa: E402
from leakguard.dp.data import read_examples  # noqa: E402
from leakguard.dp.hf import (  # noqa: E402
    IGNORE,
    HFCollate,
    dataset_ids,
    hf_losses,
    load_hf,
)
from leakguard.dp.training import clipped_gradient_sum  # noqa: E402
from leakguard.exceptions import ConfigError  # noqa: E402

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
CORPUS = EXAMPLES / "dp_support_chats.jsonl"
TEXTS = [json.loads(line)["text"] for line in CORPUS.read_text(encoding="utf-8").splitlines()]


def _tokenizer(*, pad: bool) -> Any:
    """A character-level tokenizer over the corpus' characters (tokenizers' WordLevel)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    specials = ["<pad>", "<s>", "</s>", "<unk>"]
    chars = sorted({c for text in TEXTS for c in text})
    vocab = {token: i for i, token in enumerate(specials + chars)}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Split("", "isolated")
    tok.decoder = decoders.Fuse()
    fast: Any = PreTrainedTokenizerFast  # untyped constructor
    return fast(
        tokenizer_object=tok,
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        **({"pad_token": "<pad>"} if pad else {}),
    )


def _save(model: Any, tokenizer: Any, path: Path) -> Path:
    from transformers.utils import logging

    hf_logging: Any = logging  # untyped functions
    hf_logging.disable_progress_bar()
    try:
        model.save_pretrained(path)
    finally:
        hf_logging.enable_progress_bar()
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def llama_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = _tokenizer(pad=True)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=128,
        tie_word_embeddings=False,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    torch.manual_seed(0)
    return _save(LlamaForCausalLM(config), tokenizer, tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture(scope="session")
def gpt2_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """GPT-2: Conv1D layers, learned positions, tied embeddings, no pad token."""
    from transformers import GPT2Config, GPT2LMHeadModel

    tokenizer = _tokenizer(pad=False)
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_embd=32,
        n_layer=2,
        n_head=4,
        n_positions=128,
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    torch.manual_seed(0)
    model = GPT2LMHeadModel(config)
    assert model.lm_head.weight is model.transformer.wte.weight  # tied, as GPT-2 ships
    return _save(model, tokenizer, tmp_path_factory.mktemp("tiny-gpt2"))


def _model(path: Path, **extra: Any) -> HFModelConfig:
    config = parse_dp_config(
        {"data": {"path": str(CORPUS)}, "model": {"kind": "hf", "path": str(path), **extra}}
    )
    assert isinstance(config.model, HFModelConfig)
    return config.model


def _manual_clipped_sum(model: Any, items: list[list[int]], collate: Any, c: float) -> list[Any]:
    params = [p for p in model.parameters() if p.requires_grad]
    total = [torch.zeros_like(p) for p in params]
    for item in items:
        loss = hf_losses(model, collate([item]))[0]
        grads = torch.autograd.grad(loss, params)
        norm = torch.sqrt(sum((g**2).sum() for g in grads))
        factor = min(1.0, c / (float(norm) + 1e-6))  # Opacus' clip factor
        total = [t + factor * g for t, g in zip(total, grads, strict=True)]
    return total


@pytest.mark.parametrize("family", ["llama", "gpt2"])
@pytest.mark.parametrize("lora", [False, True])
@pytest.mark.parametrize("mode", ["hooks", "ghost"])
def test_zero_noise_clipped_sum_equals_a_per_example_loop(
    family: str, lora: bool, mode: str, llama_dir: Path, gpt2_dir: Path
) -> None:
    """Opacus' per-sample clipping on the HF model (padded batch, float64) is exact."""
    path = llama_dir if family == "llama" else gpt2_dir
    loaded = load_hf(_model(path, **({"lora": {"r": 4}} if lora else {})))
    model = loaded.model.double()
    if lora:  # B starts at zero, which would leave A without gradient: move it first
        for name, param in model.named_parameters():
            if "lora_B" in name:
                torch.nn.init.normal_(param, std=0.1)
    tokenizer = loaded.tokenizer
    collate = HFCollate(tokenizer.pad_token_id or tokenizer.eos_token_id)
    items = dataset_ids(tokenizer, TEXTS[:5], max_length=48)
    assert len({len(i) for i in items}) > 1  # the batch really is padded
    expected = _manual_clipped_sum(model, items, collate, 0.5)
    got = clipped_gradient_sum(
        model,
        items,
        per_sample_loss=hf_losses,
        collate=collate,
        max_grad_norm=0.5,
        mode=mode,  # type: ignore[arg-type]
    )
    assert len(got) == len(expected)
    for g, e in zip(got, expected, strict=True):
        assert float((g - e).norm()) <= 1e-6 * float(e.norm()) + 1e-12


def test_tied_embeddings_are_untied_for_full_fine_tuning_and_stay_untied(
    gpt2_dir: Path, tmp_path: Path
) -> None:
    from transformers import AutoModelForCausalLM

    loaded = load_hf(_model(gpt2_dir))
    model: Any = loaded.model
    assert loaded.info["embeddings"] == "untied"
    assert model.lm_head.weight is not model.transformer.wte.weight
    assert torch.equal(model.lm_head.weight, model.transformer.wte.weight)
    model.save_pretrained(tmp_path)
    again: Any = AutoModelForCausalLM.from_pretrained(tmp_path, local_files_only=True)
    assert again.lm_head.weight is not again.transformer.wte.weight


def test_lora_keeps_tied_embeddings_frozen(gpt2_dir: Path) -> None:
    loaded = load_hf(_model(gpt2_dir, lora={"r": 2}))
    assert loaded.info["embeddings"] == "frozen"
    trainable = [n for n, p in loaded.model.named_parameters() if p.requires_grad]
    assert trainable
    assert all("lora_" in n for n in trainable)


def test_llama_rmsnorm_is_computed_by_torch_rmsnorm_with_the_same_outputs(
    llama_dir: Path,
) -> None:
    """So that every layer has a grad sampler (LlamaRMSNorm would fall back to functorch)."""
    from transformers import AutoModelForCausalLM

    loaded = load_hf(_model(llama_dir))
    assert loaded.info["norm_layers"] == "LlamaRMSNorm computed as torch.nn.RMSNorm"
    norms = [m for m in loaded.model.modules() if type(m).__name__.endswith("RMSNorm")]
    assert len(norms) == 5  # 2 per layer + the final one
    assert all(type(m) is torch.nn.RMSNorm for m in norms)
    original = AutoModelForCausalLM.from_pretrained(llama_dir, local_files_only=True)
    assert loaded.model.state_dict().keys() == original.state_dict().keys()
    batch = HFCollate(loaded.tokenizer.pad_token_id)(
        dataset_ids(loaded.tokenizer, TEXTS[:3], max_length=48)
    )
    with torch.no_grad():
        got = loaded.model(input_ids=batch.input_ids, attention_mask=batch.attention_mask).logits
        want = original(input_ids=batch.input_ids, attention_mask=batch.attention_mask).logits
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


def test_an_rmsnorm_of_another_form_is_kept() -> None:
    from leakguard.dp.hf import torch_rmsnorm

    class OnePlusRMSNorm(nn.Module):  # Gemma's form: (1 + weight)
        def __init__(self) -> None:
            super().__init__()
            self.weight = nn.Parameter(torch.zeros(8))
            self.eps = 1e-6

        def forward(self, x: Any) -> Any:
            scale = torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)
            return x * scale * (1 + self.weight)

    model = nn.Sequential(OnePlusRMSNorm())
    assert torch_rmsnorm(model) == []
    assert type(model[0]) is OnePlusRMSNorm


def test_collate_pads_right_with_per_sample_positions_and_ignored_labels() -> None:
    batch = HFCollate(0)([[5, 6, 7], [8]])
    assert batch.input_ids.tolist() == [[5, 6, 7], [8, 0, 0]]
    assert batch.attention_mask.tolist() == [[1, 1, 1], [1, 0, 0]]
    assert batch.labels.tolist() == [[5, 6, 7], [8, IGNORE, IGNORE]]
    assert batch.position_ids.shape == (2, 3)
    assert batch.position_ids.is_contiguous()
    assert batch.position_ids.stride(0) == 3  # a real row per example, not a broadcast


def test_padding_does_not_change_an_examples_loss(llama_dir: Path) -> None:
    loaded = load_hf(_model(llama_dir))
    model = loaded.model.double()
    collate = HFCollate(loaded.tokenizer.pad_token_id)
    short, long = dataset_ids(loaded.tokenizer, ["hi", TEXTS[0]], max_length=64)
    with torch.no_grad():
        alone = hf_losses(model, collate([short]))
        padded = hf_losses(model, collate([short, long]))
    assert float(alone[0]) == pytest.approx(float(padded[0]), rel=1e-10)


def test_hub_id_is_refused_without_touching_the_network(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no directory of that name here
    with pytest.raises(ConfigError, match=r"'gpt2' is not a local directory.*never downloads"):
        load_hf(_model(Path("gpt2")))
    with pytest.raises(ConfigError, match=r"'openai-community/gpt2' is not a local directory"):
        load_hf(_model(Path("openai-community/gpt2")))


def test_missing_model_directory_is_refused(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(ConfigError, match=r"nowhere' is not a local directory"):
        load_hf(_model(missing))


def test_directory_without_config_json_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"has no config.json"):
        load_hf(_model(tmp_path))


def test_model_without_its_tokenizer_is_refused(llama_dir: Path, tmp_path: Path) -> None:
    bare = tmp_path / "bare"
    bare.mkdir()
    for name in ("config.json", "model.safetensors"):
        shutil.copy(llama_dir / name, bare / name)
    with pytest.raises(ConfigError, match=r"no usable tokenizer.*tokenizer.save_pretrained"):
        load_hf(_model(bare))


def test_lora_target_that_is_not_in_the_model_is_refused(llama_dir: Path) -> None:
    with pytest.raises(ConfigError, match=r"model.lora does not fit this model"):
        load_hf(_model(llama_dir, lora={"target_modules": ["no_such_proj"]}))


def test_hf_model_for_classification_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"causal language models only"):
        parse_dp_config(
            {"task": "classification", "data": {"path": "x"}, "model": {"kind": "hf", "path": "m"}}
        )


def test_unknown_model_kind_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"model.kind must be 'builtin' or 'hf'"):
        parse_dp_config({"data": {"path": "x"}, "model": {"kind": "onnx"}})


def test_relative_model_path_is_relative_to_the_config_file(tmp_path: Path) -> None:
    job = tmp_path / "job.yaml"
    job.write_text("data: {path: c.jsonl}\nmodel: {kind: hf, path: my-model}\n", encoding="utf-8")
    config = load_dp_config(job)
    assert isinstance(config.model, HFModelConfig)
    assert config.model.path == tmp_path / "my-model"


def test_missing_dp_hf_extra_names_the_install_command() -> None:
    code = (
        "import sys; sys.modules['transformers'] = None\n"
        "from leakguard.dp.hf import require_hf\n"
        "try:\n    require_hf()\nexcept ImportError as e:\n    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "pip install 'leakguard[dp-hf]'" in out.stdout
    assert "'transformers'" in out.stdout


def test_importing_the_pii_detector_does_not_import_transformers() -> None:
    """Presidio would import transformers eagerly (seconds); leakguard hides it from Presidio."""
    code = (
        "import importlib.util, sys, leakguard.pii.detector\n"
        "print('transformers' in sys.modules)\n"
        # still importable afterwards (find_spec raises if the hiding entry were left behind)
        "print(importlib.util.find_spec('transformers') is not None)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True"]


def _job_yaml(tmp_path: Path, model: str) -> Path:
    rows = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines()[:96]]
    (tmp_path / "chats.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8"
    )
    job = tmp_path / "job.yaml"
    job.write_text(
        "data: {path: chats.jsonl, format: jsonl, max_length: 48}\n"
        f"model: {model}\n"
        "privacy: {target_epsilon: 8, accountant: rdp, unit: user, max_examples_per_user: 2}\n"
        "training: {steps: 3, batch_size: 16, max_physical_batch_size: 8, engine: hooks, "
        "learning_rate: 0.01}\n",
        encoding="utf-8",
    )
    return job


# peft's from_pretrained reads a property transformers 5 deprecated (not ours to fix).
@pytest.mark.filterwarnings("ignore:`is_gradient_checkpointing` is deprecated:FutureWarning")
def test_dp_train_cli_fine_tunes_a_local_llama_with_lora(llama_dir: Path, tmp_path: Path) -> None:
    """Through `leakguard dp train`: ε within target, adapters moved, base weights did not."""
    from peft import PeftModel
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM

    job = _job_yaml(tmp_path, f"{{kind: hf, path: {llama_dir}, lora: {{r: 4, alpha: 8}}}}")
    out = tmp_path / "out"
    assert main(["dp", "train", str(job), "--out", str(out), "--quiet"]) == 0
    report = json.loads((out / "privacy_report.json").read_text(encoding="utf-8"))
    assert 0 < report["epsilon"] <= report["target_epsilon"] == 8
    assert report["steps"] == 3
    model_info = report["model"]
    assert model_info["kind"] == "hf"
    assert model_info["path"] == llama_dir.name  # the basename, no absolute path
    assert model_info["architecture"] == "LlamaForCausalLM"
    lora = model_info["lora"]
    assert (lora["r"], lora["alpha"], lora["target_modules"]) == (4, 8, ["q_proj", "v_proj"])
    # 2 layers x 2 targets x (A: 4x32 + B: 4x32 for q; v's B is 4x16 with 2 KV heads of 8)
    assert (
        lora["trainable_parameters"]
        == model_info["trainable_parameters"]
        == 2 * ((4 * 32 + 32 * 4) + (4 * 32 + 16 * 4))
    )
    assert model_info["parameters"] > 10 * model_info["trainable_parameters"]
    assert {"transformers", "peft"} <= set(report["versions"])
    privacy_md = (out / "PRIVACY.md").read_text(encoding="utf-8")
    assert f"| model | LlamaForCausalLM (hf, directory `{llama_dir.name}`) |" in privacy_md
    assert "| LoRA | r = 4, α = 8, dropout 0, on q_proj, v_proj; 896 adapter parameters |" in (
        privacy_md
    )
    # The saved model is the adapter: every B (which starts at zero) moved.
    adapter = load_file(out / "model" / "adapter_model.safetensors")
    b_weights = [t for name, t in adapter.items() if "lora_B" in name]
    assert len(b_weights) == 4
    assert all(float(t.abs().sum()) > 0 for t in b_weights)
    tuned = PeftModel.from_pretrained(
        AutoModelForCausalLM.from_pretrained(llama_dir, local_files_only=True),
        out / "model",
        local_files_only=True,
    )
    loaded_b = [p for n, p in tuned.named_parameters() if "lora_B" in n]
    assert all(float(p.abs().sum()) > 0 for p in loaded_b)
    # The base weights in the final checkpoint are the original ones.
    state = torch.load(out / "checkpoint.pt", weights_only=True)["model"]
    base = {
        k.removeprefix("base_model.model.").replace(".base_layer.", "."): v
        for k, v in state.items()
        if "lora_" not in k
    }
    original = AutoModelForCausalLM.from_pretrained(llama_dir, local_files_only=True).state_dict()
    assert base.keys() == original.keys()
    assert all(torch.equal(base[k], original[k]) for k in original)


def test_full_dp_fine_tuning_of_a_tied_gpt2_through_the_api(gpt2_dir: Path, tmp_path: Path) -> None:
    from transformers import AutoModelForCausalLM

    config = load_dp_config(_job_yaml(tmp_path, f"{{kind: hf, path: {gpt2_dir}}}"))
    original: Any = AutoModelForCausalLM.from_pretrained(gpt2_dir, local_files_only=True)
    result = run_training(config, out_dir=tmp_path / "out")
    report = result.report
    assert 0 < report["epsilon"] <= 8
    assert report["model"]["embeddings"] == "untied"
    assert report["model"]["trainable_parameters"] == report["model"]["parameters"]
    tuned: Any = AutoModelForCausalLM.from_pretrained(
        tmp_path / "out" / "model", local_files_only=True
    )
    assert not tuned.config.tie_word_embeddings
    assert not torch.equal(tuned.lm_head.weight, original.lm_head.weight)
    assert not torch.equal(tuned.transformer.wpe.weight, original.transformer.wpe.weight)
    assert "| input/output embeddings | untied |" in (tmp_path / "out" / "PRIVACY.md").read_text(
        encoding="utf-8"
    )


@pytest.mark.heavy
def test_example_lora_config_trains_a_local_model(llama_dir: Path, tmp_path: Path) -> None:
    """examples/dp_hf_lora.yaml, pointed at the tiny model, for a few steps."""
    config = load_dp_config(EXAMPLES / "dp_hf_lora.yaml")
    assert isinstance(config.model, HFModelConfig)
    lora = config.model.lora
    assert lora is not None
    assert lora.target_modules == ("q_proj", "v_proj")
    config = config.model_copy(
        update={
            "model": config.model.model_copy(update={"path": llama_dir}),
            "training": config.training.model_copy(update={"steps": 2, "epochs": None}),
        }
    )
    examples = read_examples(config.data, need_label=False, need_user=True)[:128]
    result = run_training(config, out_dir=tmp_path / "out", examples=examples)
    assert result.train.steps == 2
    assert result.report["model"]["lora"]["target_modules"] == ["q_proj", "v_proj"]


def test_resuming_a_lora_run_reproduces_epsilon_and_adapters(
    llama_dir: Path, tmp_path: Path
) -> None:
    from safetensors.torch import load_file

    config = load_dp_config(_job_yaml(tmp_path, f"{{kind: hf, path: {llama_dir}, lora: {{r: 2}}}}"))
    config = config.model_copy(
        update={"training": config.training.model_copy(update={"steps": 4, "checkpoint_every": 1})}
    )
    whole = run_training(config, out_dir=tmp_path / "whole")
    paused = run_training(config, out_dir=tmp_path / "resumed", stop_after=2)
    assert paused.train.stopped == "paused"
    resumed = run_training(config, out_dir=tmp_path / "resumed", resume=True)
    assert resumed.train.steps == whole.train.steps == 4
    assert resumed.report["epsilon"] == whole.report["epsilon"]
    a = load_file(tmp_path / "whole" / "model" / "adapter_model.safetensors")
    b = load_file(tmp_path / "resumed" / "model" / "adapter_model.safetensors")
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
