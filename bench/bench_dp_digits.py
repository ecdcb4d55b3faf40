"""Utility of DP training on scikit-learn's bundled digits (no download), issue 7 target:
≥ 88% test accuracy at ε = 3 and ≥ 92% at ε = 8 (published plain DP-SGD: 80.9% at ε = 3,
96.9% non-private). Same model, data split and seed for every row.

    nice .venv/bin/python bench/bench_dp_digits.py
"""

from __future__ import annotations

import argparse
import json
import warnings
from typing import Any

import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn
from torch.nn import functional as F

from leakguard.dp.config import PrivacyConfig, TrainingConfig
from leakguard.dp.training import train_private

warnings.filterwarnings("ignore")


def collate(items: list[tuple[torch.Tensor, int]]) -> tuple[torch.Tensor, torch.Tensor]:
    if not items:
        return torch.zeros((0, 64)), torch.zeros((0,), dtype=torch.long)
    return torch.stack([x for x, _ in items]), torch.tensor([y for _, y in items])


def losses(model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    x, y = batch
    return F.cross_entropy(model(x), y, reduction="none")


def run(
    epsilon: float | None, *, epochs: float, batch: int, lr: float, clip: float, seed: int
) -> dict[str, Any]:
    digits = load_digits()
    # Fixed, data-independent scaling (pixels are 0..16): fitting a scaler would leak.
    x = torch.tensor(digits.data, dtype=torch.float32) / 16.0
    y = torch.tensor(digits.target)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.2, random_state=0, stratify=y)
    train = [(x_tr[i], int(y_tr[i])) for i in range(len(x_tr))]
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(64, 10))
    privacy = PrivacyConfig(target_epsilon=epsilon or 100.0, max_grad_norm=clip, accountant="prv")
    training = TrainingConfig(
        epochs=epochs,
        batch_size=batch,
        max_physical_batch_size=batch * 2,
        optimizer="sgd",
        learning_rate=lr,
        engine="hooks",
        seed=seed,
        private=epsilon is not None,
    )
    result = train_private(
        model, train, per_sample_loss=losses, collate=collate, privacy=privacy, training=training
    )
    with torch.no_grad():
        accuracy = float((model(x_te).argmax(1) == y_te).float().mean())
    return {
        "target_epsilon": epsilon,
        "epsilon": result.epsilon,
        "epsilons": result.epsilons,
        "steps": result.steps,
        "accuracy": accuracy,
        "noise_multiplier": result.plan.noise_multiplier if result.plan else 0.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=float, default=20)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--lr", type=float, default=2.0)
    parser.add_argument("--clip", type=float, default=1.0)
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    rows = []
    for eps in (None, 3.0, 8.0):
        accs = []
        for seed in range(args.seeds):
            row = run(
                eps, epochs=args.epochs, batch=args.batch, lr=args.lr, clip=args.clip, seed=seed
            )
            accs.append(row["accuracy"])
        row["accuracy_per_seed"] = accs
        row["accuracy_median"] = sorted(accs)[len(accs) // 2]
        rows.append(row)
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
