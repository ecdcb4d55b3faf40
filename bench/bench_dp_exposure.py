"""Exposure of repeated canaries, DP vs non-DP, through the real audit (issue 7 targets):
non-DP median ≥ 10 bits; DP with per-user capping median ≤ 2 bits.

Runs ``leakguard.dp.run_audit`` on the bundled synthetic support chats with canaries
repeated ``--repetitions`` times by one user each. Run niced:
    nice .venv/bin/python bench/bench_dp_exposure.py --out /tmp/dp-exposure
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

from leakguard.dp import parse_dp_config, run_audit

warnings.filterwarnings("ignore")
CORPUS = Path(__file__).resolve().parent.parent / "examples" / "dp_support_chats.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, default=Path("/tmp/leakguard-dp-exposure"))
    parser.add_argument("--epochs", type=float, default=8.0)
    parser.add_argument("--epsilon", type=float, default=8.0)
    parser.add_argument("--canaries", type=int, default=32)
    parser.add_argument("--repetitions", type=int, default=8)
    parser.add_argument("--cap", type=int, default=4)
    args = parser.parse_args()
    config = parse_dp_config(
        {
            "data": {"path": str(CORPUS), "format": "jsonl", "max_length": 80},
            "model": {"d_model": 64, "layers": 2, "heads": 4},
            "privacy": {
                "target_epsilon": args.epsilon,
                "unit": "user",
                "max_examples_per_user": args.cap,
            },
            "training": {
                "epochs": args.epochs,
                "batch_size": 64,
                "max_physical_batch_size": 64,
                "learning_rate": 0.003,
                "engine": "auto",
            },
            "audit": {
                "canaries": args.canaries,
                "repetitions": args.repetitions,
                "secret_digits": 6,
                "candidates": 4096,
            },
        }
    )
    start = time.perf_counter()
    result = run_audit(config, out_dir=args.out)
    summary = {
        side: {
            "median_exposure": result.audit[side]["median_exposure"],
            "max_exposure": result.audit[side]["max_exposure"],
            "one_run": result.audit[side]["one_run"],
        }
        for side in ("dp", "non_dp")
    }
    summary["epsilon"] = result.dp.report["epsilons"]
    summary["seconds"] = time.perf_counter() - start
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
