"""Per-sample gradients from one backward pass to the trainable layers' outputs.

Opacus' ``hooks`` mode lets autograd compute every trainable parameter's ordinary
``.grad`` *and* computes per-sample gradients in module backward hooks; the DP optimizer
then throws ``.grad`` away (it rebuilds it from the clipped per-sample gradients plus
noise). :class:`OutputGradSampler` taps the *output* of each layer that owns trainable
parameters and asks autograd (``torch.autograd.grad``) only for what reaches those taps,
so the weight-gradient products are never run; inside the backward pass, each tap turns
its layer's output gradient and saved input into per-sample gradients with Opacus' own
per-layer grad samplers (``GradSampleModule.GRAD_SAMPLERS``). The per-sample gradients, and so the
clipping, the noise and the privacy accounting, are exactly those of Opacus' hooks mode;
Opacus runs in its ``no_op`` mode and only clips and noises. Models with a trainable layer
of another type keep Opacus' hooks (:func:`supports`).

Imports torch and opacus: load it only after :func:`leakguard.dp.require_dp`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from opacus.grad_sample import GradSampleModule
from torch import nn
from torch.utils.hooks import RemovableHandle

from leakguard.exceptions import TrainingError

__all__ = ["OutputGradSampler", "supports"]

# Layer types whose forward takes its input positionally and returns one tensor with the
# batch first: what the grad samplers below expect.
_LAYERS = (
    nn.Linear,
    nn.Embedding,
    nn.LayerNorm,
    nn.RMSNorm,
    nn.GroupNorm,
    nn.Conv1d,
    nn.Conv2d,
    nn.Conv3d,
)
GradSampler = Callable[[nn.Module, list[torch.Tensor], torch.Tensor], dict[nn.Parameter, Any]]


def _trainable_layers(model: nn.Module) -> list[nn.Module]:
    return [m for m in model.modules() if any(p.requires_grad for p in m.parameters(recurse=False))]


def supports(model: nn.Module) -> bool:
    """True when every module that owns a trainable parameter is a layer type handled here."""
    layers = _trainable_layers(model)
    return bool(layers) and all(
        type(m) in _LAYERS and type(m) in GradSampleModule.GRAD_SAMPLERS for m in layers
    )


class _Tap(torch.autograd.Function):
    """Identity on a layer's output whose backward hands the output gradient to a sink.

    The tap also takes a scalar ``anchor`` leaf: asking autograd for the gradient with
    respect to the anchors makes it run every tap (and all it needs below them), and
    nothing that only leads to parameters. The anchor's own gradient is never computed.
    """

    @staticmethod
    def forward(
        ctx: Any, output: torch.Tensor, anchor: torch.Tensor, sink: _Sink, index: int
    ) -> torch.Tensor:
        del anchor
        ctx.sink, ctx.index = sink, index
        return output.detach()

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None, None, None]:
        ctx.sink(ctx.index, grad)
        return grad, None, None, None


_Sink = Callable[[int, torch.Tensor], None]


class OutputGradSampler:
    """Taps each trainable layer's output during forward; :meth:`backward` sets
    ``p.grad_sample`` (shape ``[B, *p.shape]``) for every trainable parameter.

    ``backward`` takes the per-sample losses (shape ``[B]``) and differentiates their sum,
    so each example's gradient is its own, unscaled. Each layer's per-sample gradients are
    computed inside the backward pass, as soon as its output gradient exists, and its saved
    input is dropped then: neither outlives the layer's backward. A layer used several
    times in one forward gets the sum of its uses; a layer that ran but that the loss does
    not depend on gets zeros; a trainable layer that never ran is an error (it cannot
    train). Forward passes that no backward consumed (e.g. an evaluation pass in training
    mode) are dropped at the next backward.
    """

    def __init__(self, model: nn.Module) -> None:
        self._records: list[tuple[nn.Module, list[torch.Tensor]]] = []
        self._samples: dict[nn.Parameter, torch.Tensor] = {}
        self._anchors: dict[torch.device, torch.Tensor] = {}
        self._params = {p: name for name, p in model.named_parameters() if p.requires_grad}
        self._model = model
        self._handles: list[RemovableHandle] = [
            m.register_forward_hook(self._tap) for m in _trainable_layers(model)
        ]

    def _tap(self, module: nn.Module, inputs: tuple[Any, ...], output: Any) -> Any:
        if not (module.training and torch.is_grad_enabled() and output.requires_grad):
            return None
        anchor = self._anchors.get(output.device)
        if anchor is None:
            anchor = torch.zeros((), device=output.device, requires_grad=True)
            self._anchors[output.device] = anchor
        self._records.append((module, [x.detach() for x in inputs]))
        index = len(self._records) - 1
        return _Tap.apply(output, anchor, self._collect, index)  # type: ignore[no-untyped-call]

    def _collect(self, index: int, grad: torch.Tensor) -> None:
        module, inputs = self._records[index]
        self._records[index] = (module, [])  # free the saved input as soon as it is used
        sampler: GradSampler = GradSampleModule.GRAD_SAMPLERS[type(module)]
        for param, sample in sampler(module, inputs, grad).items():
            old = self._samples.get(param)
            self._samples[param] = sample if old is None else old + sample

    def backward(self, losses: torch.Tensor) -> None:
        try:
            self._backward(losses)
        finally:
            self._records, self._samples = [], {}

    def _backward(self, losses: torch.Tensor) -> None:
        if len(losses) == 0:  # an empty Poisson batch: no examples, no gradients
            for param in self._params:
                param.grad_sample = param.new_zeros((0, *param.shape))  # type: ignore[attr-defined]
            return
        ran = {p for module, _ in self._records for p in module.parameters(recurse=False)}
        idle = [name for p, name in self._params.items() if p not in ran]
        if idle and not self._model.training:
            raise TrainingError(
                "the model is in eval mode: per-sample gradients are recorded in training "
                "mode only. Call model.train() before DP training"
            )
        if idle:
            raise TrainingError(
                f"trainable parameter(s) {', '.join(idle[:5])} were not used in forward(): "
                f"they get no gradient and cannot train. Freeze them or use them"
            )
        torch.autograd.grad(losses.sum(), list(self._anchors.values()), allow_unused=True)
        for param in self._params:
            sample = self._samples.get(param)
            if sample is None:  # it ran, but this loss does not depend on it
                sample = param.new_zeros((len(losses), *param.shape))
            param.grad_sample = sample  # type: ignore[attr-defined]

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
        self._records.clear()
