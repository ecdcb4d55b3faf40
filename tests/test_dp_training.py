"""DP training with real Opacus on tiny models: clipping, accounting, resume, errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("opacus")

from torch import nn  # noqa: E402

from leakguard.cli import main  # noqa: E402
from leakguard.dp import parse_dp_config  # noqa: E402
from leakguard.dp.accounting import epsilon  # noqa: E402
from leakguard.dp.config import ModelConfig, PrivacyConfig, TrainingConfig  # noqa: E402
from leakguard.dp.data import encode  # noqa: E402
from leakguard.dp.jobs import lm_collate, lm_losses, run_training  # noqa: E402
from leakguard.dp.models import LoRALinear, TinyLM, apply_trainable  # noqa: E402
from leakguard.dp.training import clipped_gradient_sum, train_private  # noqa: E402
from leakguard.exceptions import ConfigError, IncompatibleModelError, TrainingError  # noqa: E402

TINY = ModelConfig(d_model=16, layers=1, heads=2)
TEXTS = [f"order {i} ships {'today' if i % 2 else 'monday'}" for i in range(48)]


def _items(n: int = 48) -> list[list[int]]:
    return [encode(t, max_length=24) for t in TEXTS[:n]]


def _manual_clipped_sum(model: nn.Module, items: list[list[int]], c: float) -> list[Any]:
    params = [p for p in model.parameters() if p.requires_grad]
    total = [torch.zeros_like(p) for p in params]
    for item in items:
        loss = lm_losses(model, lm_collate([item]))[0]
        grads = torch.autograd.grad(loss, params)
        norm = torch.sqrt(sum((g**2).sum() for g in grads))
        factor = min(1.0, c / (float(norm) + 1e-6))  # Opacus' clip factor
        total = [t + factor * g for t, g in zip(total, grads, strict=True)]
    return total


@pytest.mark.parametrize("mode", ["hooks", "opacus-hooks", "ghost"])
def test_zero_noise_clipped_sum_equals_a_per_example_loop(
    mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """hooks: leakguard's output-gradient sampler; opacus-hooks: the fallback for models
    with layers it does not handle (Opacus' own GradSampleHooks); ghost: Opacus' ghost."""
    from leakguard.dp import engines as training

    if mode == "opacus-hooks":
        monkeypatch.setattr(training, "supports", lambda _: False)
        mode = "hooks"
    torch.manual_seed(0)
    model = TinyLM(TINY, max_length=24).double()
    items = _items(6)
    expected = _manual_clipped_sum(model, items, 0.05)
    got = clipped_gradient_sum(
        model,
        items,
        per_sample_loss=lm_losses,
        collate=lm_collate,
        max_grad_norm=0.05,
        mode=mode,  # type: ignore[arg-type]
    )
    for g, e in zip(got, expected, strict=True):
        assert torch.linalg.norm(g - e) <= 1e-6 * torch.linalg.norm(e)


def _train(tmp_path: Path, **training: Any) -> Any:
    torch.manual_seed(0)
    model = TinyLM(TINY, max_length=24)
    privacy = PrivacyConfig(target_epsilon=4.0, accountant=training.pop("accountant", "rdp"))
    config = TrainingConfig(batch_size=8, max_physical_batch_size=4, engine="hooks", **training)
    result = train_private(
        model,
        _items(),
        per_sample_loss=lm_losses,
        collate=lm_collate,
        privacy=privacy,
        training=config,
        checkpoint=tmp_path / "ck.pt",
        fingerprint="job",
    )
    return model, result


@pytest.mark.parametrize("accountant", ["rdp", "prv"])
def test_reported_epsilon_equals_opacus_accountant_and_stays_within_target(
    tmp_path: Path, accountant: str
) -> None:
    from opacus.accountants import create_accountant

    _, result = _train(tmp_path, steps=6, accountant=accountant)
    plan = result.plan
    acc = create_accountant(mechanism=accountant)
    for _ in range(result.steps):
        acc.step(noise_multiplier=plan.noise_multiplier, sample_rate=plan.sample_rate)
    assert result.steps == 6
    assert plan.sample_rate == pytest.approx(8 / 48)
    assert result.epsilon == pytest.approx(acc.get_epsilon(delta=plan.delta), rel=1e-12)
    assert result.epsilon <= 4.0
    assert set(result.epsilons) == {"rdp", "prv"}


def test_fixed_noise_run_stops_hard_when_the_budget_is_spent(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = TinyLM(TINY, max_length=24)
    privacy = PrivacyConfig(target_epsilon=2.0, noise_multiplier=1.5, accountant="rdp")
    training = TrainingConfig(batch_size=8, steps=200, engine="hooks")
    result = train_private(
        model,
        _items(),
        per_sample_loss=lm_losses,
        collate=lm_collate,
        privacy=privacy,
        training=training,
    )
    assert result.stopped == "budget"
    assert 0 < result.steps < 200
    assert result.epsilon <= 2.0
    assert result.plan is not None
    over = epsilon(1.5, 8 / 48, result.steps + 1, delta=result.plan.delta, accountant="rdp")
    assert over > 2.0


def test_resuming_from_a_checkpoint_reproduces_epsilon_and_weights(tmp_path: Path) -> None:
    privacy = PrivacyConfig(target_epsilon=4.0, accountant="rdp")
    training = TrainingConfig(batch_size=8, steps=6, engine="hooks", checkpoint_every=2)

    def run(ck: Path, *, stop_after: int | None = None, resume: bool = False) -> Any:
        torch.manual_seed(123)
        model = TinyLM(TINY, max_length=24)
        result = train_private(
            model,
            _items(),
            per_sample_loss=lm_losses,
            collate=lm_collate,
            privacy=privacy,
            training=training,
            checkpoint=ck,
            stop_after=stop_after,
            resume=resume,
            fingerprint="job",
        )
        return model, result

    whole_model, whole = run(tmp_path / "a.pt")
    _, paused = run(tmp_path / "b.pt", stop_after=3)
    assert paused.stopped == "paused"
    assert paused.steps == 3
    resumed_model, resumed = run(tmp_path / "b.pt", resume=True)
    assert resumed.steps == 6
    assert resumed.epsilon == whole.epsilon
    for a, b in zip(whole_model.parameters(), resumed_model.parameters(), strict=True):
        assert torch.equal(a, b)


def test_resume_refuses_a_checkpoint_of_another_job(tmp_path: Path) -> None:
    privacy = PrivacyConfig(accountant="rdp")
    training = TrainingConfig(batch_size=8, steps=2, engine="hooks")
    kwargs: dict[str, Any] = {
        "per_sample_loss": lm_losses,
        "collate": lm_collate,
        "privacy": privacy,
        "training": training,
        "checkpoint": tmp_path / "ck.pt",
    }
    train_private(TinyLM(TINY, max_length=24), _items(), fingerprint="one", **kwargs)
    with pytest.raises(TrainingError, match="written by another job"):
        train_private(
            TinyLM(TINY, max_length=24), _items(), fingerprint="two", resume=True, **kwargs
        )


def test_batchnorm_model_is_refused_with_the_layer_named() -> None:
    model = nn.Sequential(nn.Embedding(259, 8), nn.BatchNorm1d(24), nn.Linear(8, 259))
    with pytest.raises(IncompatibleModelError, match="BatchNorm"):
        train_private(
            model,
            _items(),
            per_sample_loss=lm_losses,
            collate=lm_collate,
            privacy=PrivacyConfig(accountant="rdp"),
            training=TrainingConfig(batch_size=8, steps=1),
        )


def test_lora_adapters_change_while_the_base_stays_frozen() -> None:
    torch.manual_seed(0)
    lora = TINY.model_copy(update={"trainable": "lora", "lora_rank": 2})
    model = TinyLM(lora, max_length=24)
    apply_trainable(model, lora)
    base = model.encoder.tokens.weight.detach().clone()
    train_private(
        model,
        _items(),
        per_sample_loss=lm_losses,
        collate=lm_collate,
        privacy=PrivacyConfig(accountant="rdp"),
        training=TrainingConfig(batch_size=8, steps=2, engine="ghost"),
    )
    assert torch.equal(model.encoder.tokens.weight, base)
    adapters = [m.lora_b.weight for m in model.modules() if isinstance(m, LoRALinear)]
    assert adapters
    assert all(float(w.detach().abs().sum()) > 0 for w in adapters)


def test_a_trainable_tensor_that_never_moves_is_an_error() -> None:
    class Unused(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lm = TinyLM(TINY, max_length=24)
            self.dead = nn.Linear(4, 4)  # trainable, never used in forward()

        def forward(self, ids: Any) -> Any:
            return self.lm(ids)

    with pytest.raises(TrainingError, match="did not change"):
        train_private(
            Unused(),
            _items(),
            per_sample_loss=lm_losses,
            collate=lm_collate,
            privacy=PrivacyConfig(accountant="rdp"),
            training=TrainingConfig(batch_size=8, steps=1, private=False),
        )


def test_empty_poisson_batches_still_take_a_noisy_step() -> None:
    torch.manual_seed(0)
    result = train_private(
        TinyLM(TINY, max_length=24),
        _items(),
        per_sample_loss=lm_losses,
        collate=lm_collate,
        privacy=PrivacyConfig(accountant="rdp", target_epsilon=50),
        training=TrainingConfig(batch_size=1, steps=4, engine="hooks"),
        units=[[i] for i in range(48)],
    )
    assert result.steps == 4


def test_dp_train_cli_writes_model_checkpoint_and_report(tmp_path: Path) -> None:
    corpus = tmp_path / "c.jsonl"
    corpus.write_text(
        "".join(
            json.dumps({"text": t, "user_id": f"u{i % 12}"}) + "\n" for i, t in enumerate(TEXTS)
        ),
        encoding="utf-8",
    )
    config = tmp_path / "job.yaml"
    config.write_text(
        "data: {path: c.jsonl, max_length: 24}\n"
        "model: {d_model: 16, layers: 1, heads: 2}\n"
        "privacy: {accountant: rdp, unit: user, max_examples_per_user: 2}\n"
        "training: {steps: 3, batch_size: 4, engine: hooks}\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    index = tmp_path / "corpus.lgx"
    argv = ["dp", "train", str(config), "--out", str(out), "--quiet", "--index-out", str(index)]
    assert main(argv) == 0
    from leakguard.memorization.index import open_index

    assert open_index(index, ngram=8) is not None
    report = json.loads((out / "privacy_report.json").read_text(encoding="utf-8"))
    for key in (
        "epsilon",
        "delta",
        "noise_multiplier",
        "sample_rate",
        "steps",
        "accountant",
        "max_grad_norm",
        "dataset_size",
        "privacy_unit",
    ):
        assert key in report
    assert report["dataset_size"] == 12
    assert report["privacy_unit"] == "user"
    assert report["sample_rate"] == pytest.approx(4 / 12)
    assert {"model.pt", "checkpoint.pt", "PRIVACY.md"} <= {p.name for p in out.iterdir()}
    assert "| privacy unit | user (at most 2 examples per user) |" in (
        out / "PRIVACY.md"
    ).read_text(encoding="utf-8")


def test_classification_task_trains_on_labelled_jsonl(tmp_path: Path) -> None:
    corpus = tmp_path / "c.jsonl"
    corpus.write_text(
        "".join(json.dumps({"text": t, "label": t.split()[-1]}) + "\n" for t in TEXTS),
        encoding="utf-8",
    )
    config = parse_dp_config(
        {
            "task": "classification",
            "data": {"path": str(corpus), "max_length": 24},
            "model": {"d_model": 16, "layers": 1, "heads": 2},
            "privacy": {"accountant": "rdp"},
            "training": {"steps": 2, "batch_size": 8, "engine": "hooks"},
        }
    )
    result = run_training(config, out_dir=tmp_path / "out")
    assert result.report["task"] == "classification"
    assert result.train.steps == 2


def test_dp_audit_cli_reports_exposure_and_one_run_bound(tmp_path: Path) -> None:
    corpus = tmp_path / "c.txt"
    corpus.write_text("\n".join(TEXTS) + "\n", encoding="utf-8")
    config = tmp_path / "job.yaml"
    config.write_text(
        "data: {path: c.txt, max_length: 32}\n"
        "model: {d_model: 16, layers: 1, heads: 2}\n"
        "privacy: {accountant: rdp}\n"
        "training: {steps: 2, batch_size: 8, engine: hooks}\n"
        "audit: {canaries: 8, repetitions: 2, secret_digits: 4, candidates: 31}\n",
        encoding="utf-8",
    )
    out = tmp_path / "audit"
    assert main(["dp", "audit", str(config), "--out", str(out), "--quiet"]) == 0
    audit = json.loads((out / "audit.json").read_text(encoding="utf-8"))
    assert audit["canaries"] == 8
    assert len(audit["dp"]["exposures"]) == 8
    assert all(0 < e["bits"] <= 5.0 for e in audit["dp"]["exposures"])  # log2(31 + 1) cap
    assert audit["dp"]["one_run"]["guesses"] == 4
    text = (out / "PRIVACY.md").read_text(encoding="utf-8")
    assert "### Canary audit" in text
    report = json.loads((out / "privacy_report.json").read_text(encoding="utf-8"))
    # 4 guesses, all right, still happen by chance with p = 1/16 > 5%: nothing certifiable.
    assert report["audit"]["non_dp"]["one_run"]["max_certifiable"] == 0.0


@pytest.mark.heavy
def test_example_script_runs_and_the_guard_sees_its_completions(tmp_path: Path) -> None:
    import runpy
    import sys

    script = Path(__file__).resolve().parent.parent / "examples" / "dp_finetune_tiny_lm.py"
    argv = sys.argv
    sys.argv = [
        str(script),
        "--out",
        str(tmp_path),
        "--dp-epochs",
        "0.1",
        "--plain-epochs",
        "0.1",
        "--candidates",
        "32",
    ]
    try:
        with pytest.raises(SystemExit) as done:
            runpy.run_path(str(script), run_name="__main__")
    finally:
        sys.argv = argv
    assert done.value.code == 0
    results = json.loads((tmp_path / "example_results.json").read_text(encoding="utf-8"))
    assert set(results) == {"DP", "non-DP"}
    assert results["DP"]["epsilon"] <= 8.0


def test_device_cuda_without_a_gpu_is_a_clear_error() -> None:
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(ConfigError, match=r"training\.device is 'cuda' but this torch"):
        train_private(
            TinyLM(TINY, max_length=24),
            _items(),
            per_sample_loss=lm_losses,
            collate=lm_collate,
            privacy=PrivacyConfig(accountant="rdp"),
            training=TrainingConfig(batch_size=8, steps=1, device="cuda"),
        )


def test_batches_of_any_shape_move_to_the_device_and_the_model_comes_back() -> None:
    import dataclasses

    from leakguard.dp.devices import model_device, resolve_device, to_device

    @dataclasses.dataclass(frozen=True)
    class Batch:
        ids: Any
        name: str

    device = resolve_device("auto")
    moved = to_device({"a": (torch.ones(2), [Batch(torch.zeros(1), "x")])}, device)
    assert moved["a"][0].device.type == device.type
    assert moved["a"][1][0].ids.device.type == device.type
    assert moved["a"][1][0].name == "x"
    model = TinyLM(TINY, max_length=24)
    train_private(
        model,
        _items(),
        per_sample_loss=lm_losses,
        collate=lm_collate,
        privacy=PrivacyConfig(accountant="rdp"),
        training=TrainingConfig(batch_size=8, steps=1, engine="hooks"),
    )
    assert model_device(model).type == "cpu"


@pytest.mark.parametrize(
    ("peaks", "limit", "expected"),
    [
        ({}, 0.25, "hooks"),  # CPU: the probe only times, the fastest wins
        ({"plain": 100.0, "hooks": 200.0, "ghost": 110.0}, None, "hooks"),  # no limit set
        ({"plain": 100.0, "hooks": 200.0, "ghost": 110.0}, 0.25, "ghost"),
        ({"plain": 100.0, "hooks": 120.0, "ghost": 110.0}, 0.25, "hooks"),
        ({"plain": 100.0, "hooks": 200.0, "ghost": 150.0}, 0.25, "ghost"),  # none fits: leanest
    ],
)
def test_auto_picks_the_fastest_engine_within_the_memory_limit(
    peaks: dict[str, float], limit: float | None, expected: str
) -> None:
    from leakguard.dp.training import EngineProbe

    assert EngineProbe({"hooks": 1.0, "ghost": 2.0}, peaks).pick(limit) == expected


def test_engine_auto_probes_both_engines_and_trains_with_the_one_it_picks() -> None:
    torch.manual_seed(0)
    result = train_private(
        TinyLM(TINY, max_length=24),
        _items(),
        per_sample_loss=lm_losses,
        collate=lm_collate,
        privacy=PrivacyConfig(accountant="rdp"),
        training=TrainingConfig(batch_size=8, steps=1, max_physical_batch_size=8),
    )
    assert {"hooks", "ghost"} <= set(result.probe_seconds)
    from leakguard.dp.training import EngineProbe

    picked = EngineProbe(result.probe_seconds, result.probe_peak_mib).pick(None)
    assert result.engine == picked
