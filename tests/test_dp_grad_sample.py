"""Per-sample gradients from one backward pass to the trainable layers' outputs."""

from __future__ import annotations

from typing import Any

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("opacus")

from torch import nn  # noqa: E402

from leakguard.dp.config import ModelConfig  # noqa: E402
from leakguard.dp.data import encode  # noqa: E402
from leakguard.dp.grad_sample import OutputGradSampler, supports  # noqa: E402
from leakguard.dp.jobs import lm_collate, lm_losses  # noqa: E402
from leakguard.dp.models import TinyLM, apply_trainable  # noqa: E402
from leakguard.exceptions import TrainingError  # noqa: E402

TINY = ModelConfig(d_model=16, layers=2, heads=2, top_layers=1, lora_rank=2)
TEXTS = ["order 1 ships today", "a refund for A123", "hello there", "my pin is 0000"]


def _sample(param: Any) -> Any:
    """The per-sample gradients Opacus' optimizer reads (an attribute torch does not declare)."""
    return param.grad_sample


def _per_example(model: nn.Module, loss: Any, n: int) -> dict[str, Any]:
    """Each trainable parameter's gradient for each example alone, stacked: [n, *shape]."""
    named = [(name, p) for name, p in model.named_parameters() if p.requires_grad]
    params = [p for _, p in named]
    rows = [torch.autograd.grad(loss(i), params, allow_unused=True) for i in range(n)]
    return {
        name: torch.stack([torch.zeros_like(p) if r[k] is None else r[k] for r in rows])
        for k, (name, p) in enumerate(named)
    }


@pytest.mark.parametrize("trainable", ["all", "top", "lora"])
def test_per_sample_gradients_equal_a_per_example_loop(trainable: str) -> None:
    torch.manual_seed(0)
    config = TINY.model_copy(update={"trainable": trainable})
    model = TinyLM(config, max_length=24)
    apply_trainable(model, config)
    model.double()
    ids = lm_collate([encode(t, max_length=24) for t in TEXTS])
    expected = _per_example(model, lambda i: lm_losses(model, ids[i : i + 1])[0], len(TEXTS))
    sampler = OutputGradSampler(model)
    sampler.backward(lm_losses(model, ids))
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        got = _sample(p)
        assert torch.linalg.norm(got - expected[name]) <= 1e-10 * torch.linalg.norm(expected[name])
        assert p.grad is None  # the ordinary weight gradient was never computed


class _Shared(nn.Module):
    """One linear layer applied twice (with an in-place op between), one that runs unused."""

    def __init__(self) -> None:
        super().__init__()
        self.shared = nn.Linear(3, 3)
        self.unused_output = nn.Linear(3, 3)
        self.head = nn.Linear(3, 1)

    def forward(self, x: Any) -> Any:
        h = self.shared(x)
        h *= 2.0
        h = self.shared(torch.tanh(h))
        self.unused_output(x)
        return self.head(h).squeeze(-1)


def test_a_layer_used_twice_gets_the_sum_of_its_uses_and_an_unused_output_gets_zeros() -> None:
    torch.manual_seed(0)
    model = _Shared().double()
    x = torch.randn(5, 3, dtype=torch.float64)
    expected = _per_example(model, lambda i: model(x[i : i + 1])[0], 5)
    sampler = OutputGradSampler(model)
    model(x)  # a forward pass no backward consumes: dropped
    sampler.backward(model(x))
    for name, p in model.named_parameters():
        assert torch.allclose(_sample(p), expected[name], rtol=1e-10, atol=1e-12), name
    assert float(_sample(model.unused_output.weight).abs().sum()) == 0.0


def test_a_trainable_layer_that_never_runs_is_an_error_naming_it() -> None:
    model = _Shared()
    model.extra = nn.Linear(2, 2)
    sampler = OutputGradSampler(model)
    with pytest.raises(TrainingError, match=r"extra\.weight, extra\.bias were not used"):
        sampler.backward(model(torch.randn(2, 3)))


def test_an_empty_batch_gives_empty_per_sample_gradients() -> None:
    model = TinyLM(TINY, max_length=24)
    sampler = OutputGradSampler(model)
    sampler.backward(lm_losses(model, lm_collate([])))
    assert _sample(model.head.weight).shape == (0, *model.head.weight.shape)


def test_models_with_other_trainable_layers_are_left_to_opacus_hooks() -> None:
    class Scale(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.factor = nn.Parameter(torch.ones(3))

        def forward(self, x: Any) -> Any:
            return x * self.factor

    assert supports(TinyLM(TINY, max_length=24))
    assert not supports(nn.Sequential(nn.Linear(3, 3), Scale()))
    assert not supports(nn.Linear(3, 3).requires_grad_(False))


class _EveryLayer(nn.Module):
    """One of each other layer type the sampler handles: Conv1d, Conv2d, GroupNorm, RMSNorm."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(3, 4, 3)
        self.conv2 = nn.Conv2d(2, 4, 3, padding=1)
        self.group = nn.GroupNorm(2, 4)
        self.rms = nn.RMSNorm(4)
        self.head = nn.Linear(4, 1)

    def forward(self, x: Any) -> Any:
        a = self.conv1(x[:, :3, :, 0]).mean(-1)
        b = self.group(self.conv2(x[:, :2])).mean((-1, -2))
        return self.head(self.rms(a + b)).squeeze(-1)


def test_conv_and_norm_layers_match_a_per_example_loop() -> None:
    torch.manual_seed(0)
    model = _EveryLayer().double()
    x = torch.randn(5, 3, 6, 6, dtype=torch.float64)
    assert supports(model)
    expected = _per_example(model, lambda i: model(x[i : i + 1])[0], 5)
    OutputGradSampler(model).backward(model(x))
    for name, p in model.named_parameters():
        assert torch.allclose(_sample(p), expected[name], rtol=1e-10, atol=1e-12), name


def test_a_model_in_eval_mode_is_an_error_that_says_so() -> None:
    model = TinyLM(TINY, max_length=24).eval()
    sampler = OutputGradSampler(model)
    with pytest.raises(TrainingError, match=r"eval mode.*model\.train\(\)"):
        sampler.backward(lm_losses(model, lm_collate([encode("hi", max_length=24)])))
