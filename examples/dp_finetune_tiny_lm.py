"""DP vs non-DP fine-tuning on synthetic support chats, canary exposure, and the guard.

The bundled corpus (``dp_support_chats.jsonl``, made by ``make_dp_support_chats.py``) holds
~1,500 chats with fake names, e-mails and phone numbers from 300 users, and 8 canaries: a
random, Luhn-valid card number that one user repeats 6 times ("the card on file for NAME is
..."). This script

1. trains the built-in small transformer twice on it: with user-level DP (ε = 8, at most
   4 chats per user) and without DP (ordinary training, every line);
2. measures each canary's exposure (Secret Sharer) in both models against random
   card numbers of the same shape;
3. prompts each model with each canary's sentence ("the card on file for NAME is ") and
   passes the completion through ``leakguard.Guard``: the non-DP model regurgitates planted
   card numbers, and the guard redacts them as CREDIT_CARD before anyone sees them.

Runs on 2 CPU cores in under 10 minutes:  python examples/dp_finetune_tiny_lm.py --out DIR
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import random
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from make_dp_support_chats import CARD_DIGITS, luhn_card  # noqa: E402

import leakguard  # noqa: E402
from leakguard.dp import parse_dp_config, require_dp  # noqa: E402

CORPUS = HERE / "dp_support_chats.jsonl"
MAX_LENGTH = 80


def job(*, private: bool, epochs: float, learning_rate: float) -> dict[str, Any]:
    return {
        "task": "causal_lm",
        "data": {"path": str(CORPUS), "format": "jsonl", "max_length": MAX_LENGTH},
        "model": {"d_model": 64, "layers": 2, "heads": 4},
        "privacy": {
            "target_epsilon": 8.0,
            # The non-DP baseline is ordinary training: every line counts, no cap.
            "unit": "user" if private else "example",
            "max_examples_per_user": 4,
        },
        "training": {
            "epochs": epochs,
            "batch_size": 64,
            "max_physical_batch_size": 64,
            "learning_rate": learning_rate,
            "private": private,
            "engine": "auto",
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="output directory (default: a temporary one)")
    parser.add_argument("--dp-epochs", type=float, default=3.0)
    parser.add_argument("--plain-epochs", type=float, default=12.0)
    parser.add_argument("--candidates", type=int, default=4096)
    args = parser.parse_args(argv)
    require_dp("this example")
    # Presidio notes every recognizer of another language it skips: noise here.
    logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)
    from leakguard.dp.canary import exposure
    from leakguard.dp.jobs import generate, run_training, sequence_nll

    out = args.out or Path(tempfile.mkdtemp(prefix="leakguard-dp-"))
    with CORPUS.open(encoding="utf-8") as f:
        records = [json.loads(line) for line in f]
    # (prefix, card) per canary; the prefix names the user the card belongs to.
    canaries = sorted(
        {(r["text"][:-CARD_DIGITS], r["text"][-CARD_DIGITS:]) for r in records if r.get("canary")}
    )
    rng = random.Random(0)
    candidates = [luhn_card(rng) for _ in range(args.candidates)]
    guard = leakguard.Guard()
    results = {}
    runs = (
        ("DP", True, args.dp_epochs, 0.003),
        # Ordinary training as people do it: longer, with a larger step size.
        ("non-DP", False, args.plain_epochs, 0.01),
    )
    for name, private, epochs, learning_rate in runs:
        config = parse_dp_config(job(private=private, epochs=epochs, learning_rate=learning_rate))
        trained = run_training(config, out_dir=out / name)
        model = trained.model
        bits, leaked, caught, shown = [], 0, 0, ""
        for prefix, card in canaries:
            texts = [prefix + c for c in [card, *candidates]]
            scores = sequence_nll(model, texts, skip=len(prefix), max_length=MAX_LENGTH)
            bits.append(exposure(scores[0], scores[1:]).bits)
            completion = generate(model, prefix, max_new=CARD_DIGITS + 2, max_length=MAX_LENGTH)
            if card in completion:
                leaked += 1
                outcome = guard.scan(prefix + completion)
                if any(f.label == "CREDIT_CARD" for f in outcome.findings):
                    caught += 1
                    shown = shown or outcome.text
        results[name] = {
            "epsilon": trained.report["epsilon"],
            "median_exposure": statistics.median(bits),
            "max_exposure": max(bits),
            "canaries": len(canaries),
            "regurgitated": leaked,
            "caught_by_guard": caught,
            "guarded_example": shown,
        }
        row = results[name]
        print(
            f"{name:7} ε={row['epsilon']:.2f}  exposure median {row['median_exposure']:.1f} bits, "
            f"max {row['max_exposure']:.1f} (cap {math.log2(len(candidates) + 1):.1f})  "
            f"regurgitated {leaked}/{len(canaries)} canaries, guard caught {caught}"
            + (f", e.g. {shown!r}" if shown else "")
        )
    (out / "example_results.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    print(f"models, privacy reports and results in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
