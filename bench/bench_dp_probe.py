"""``leakguard dp probe`` speed (issue 24 target: 1,000 prefixes on the built-in model in
under 2 minutes on 2 CPU cores).

The probe of the shipped example's non-DP model (``examples/dp_tiny_lm.yaml``: d=64, 2
blocks, 96 byte tokens) on the bundled support chats, ``--prefixes 1000`` (1,000 training
prompts, every repeated record, every usable control record), 6 + 8 words, batches of 64,
PII recital on: wall and CPU seconds of the whole ``run_probe`` (model load, generation,
scoring, the PII pipeline's load included), median of ``--runs``. Beside it, on
``--anchor-prompts`` prompts, the generator against the anchor it replaced (the whole
prefix re-run through the model for every new token), runs interleaved.

The model is trained once into ``--work`` (non-private, the example's settings) unless
``--model`` names one. Run niced on a shared machine:
    nice .venv/bin/python bench/bench_dp_probe.py --runs 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from leakguard.dp import load_dp_config, require_dp

warnings.filterwarnings("ignore")
ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "dp_tiny_lm.yaml"
CORPUS = ROOT / "examples" / "dp_support_chats.jsonl"
CONTROL = ROOT / "examples" / "dp_support_chats_heldout.jsonl"


def _model(work: Path) -> Path:
    from leakguard.dp.jobs import run_training

    run = work / "non_dp"
    if (run / "model.pt").is_file():
        return run
    config = load_dp_config(EXAMPLE)
    plain = config.model_copy(
        update={
            "training": config.training.model_copy(update={"private": False}),
            "privacy": config.privacy.model_copy(update={"unit": "example"}),
        }
    )
    run_training(plain, out_dir=run)
    return run


def _anchor(path: Path) -> Callable[[Sequence[str]], list[str]]:
    """The generator before issue 24's fix: the whole (right-padded) batch through the
    model again for every new token."""
    import torch

    from leakguard.dp.data import EOS, PAD, encode
    from leakguard.dp.jobs import load_model

    model, saved = load_model(path / "model.pt")
    max_length = int(saved["max_length"])

    @torch.no_grad()
    def generate(prompts: Sequence[str], max_words: int = 8) -> list[str]:
        rows = [encode(p, max_length=max_length)[:-1] for p in prompts]
        lengths = [len(r) for r in rows]
        ids = torch.full((len(rows), max_length), PAD, dtype=torch.long)
        for i, row in enumerate(rows):
            ids[i, : len(row)] = torch.tensor(row)
        new: list[list[int]] = [[] for _ in rows]
        live = [n < max_length for n in lengths]
        for _ in range(max_words * 16):
            if not any(live):
                break
            logits = model(ids[:, : max(lengths)])
            token = logits[torch.arange(len(rows)), [n - 1 for n in lengths]].argmax(-1).tolist()
            for i, t in enumerate(token):
                if not live[i]:
                    continue
                if t >= 256 or t == EOS:
                    live[i] = False
                    continue
                new[i].append(t)
                ids[i, lengths[i]] = t
                lengths[i] += 1
                if lengths[i] >= max_length or len(bytes(new[i]).split()) > max_words:
                    live[i] = False
        return [bytes(n).decode("utf-8", errors="replace") for n in new]

    return generate


def _timed(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    value = fn()
    return value, time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--work", type=Path, default=Path("/tmp/leakguard-bench-probe"))
    parser.add_argument("--model", type=Path, help="a dp train output (default: train one)")
    parser.add_argument("--prefixes", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--anchor-prompts", type=int, default=128)
    args = parser.parse_args()
    require_dp()
    import torch

    from leakguard.dp.init_hf import read_texts
    from leakguard.dp.probe import ProbeSettings, draw_groups, load_generator, run_probe

    model = args.model or _model(args.work)
    settings = ProbeSettings(prefixes=args.prefixes)
    walls, cpus, prompts = [], [], 0
    for _ in range(args.runs):
        result, wall, cpu = _timed(
            lambda: run_probe(model, corpus=CORPUS, control=CONTROL, settings=settings)
        )
        walls.append(wall)
        cpus.append(cpu)
        prompts = sum(g["prompts"] for g in result["groups"].values())

    training, control = (list(read_texts(p, field="text")) for p in (CORPUS, CONTROL))
    groups, _ = draw_groups(training, control, settings)
    sample = [p.prefix for p in groups["training"][: args.anchor_prompts]]
    cached, _ = load_generator(model)
    anchor = _anchor(model)
    times: dict[str, list[float]] = {"cached": [], "anchor": []}
    same = True
    for _ in range(args.runs):
        ours, _, cpu_ours = _timed(
            lambda: [
                t
                for s in range(0, len(sample), 64)
                for t in cached(sample[s : s + 64], max_words=8)
            ]
        )
        theirs, _, cpu_theirs = _timed(
            lambda: [t for s in range(0, len(sample), 64) for t in anchor(sample[s : s + 64])]
        )
        times["cached"].append(cpu_ours)
        times["anchor"].append(cpu_theirs)
        same = same and ours == theirs
    print(
        json.dumps(
            {
                "machine": f"{torch.get_num_threads()} torch threads",
                "prompts": prompts,
                "groups": {k: v["prompts"] for k, v in result["groups"].items()},
                "probe_wall_s_median": round(statistics.median(walls), 2),
                "probe_cpu_s_median": round(statistics.median(cpus), 2),
                "probe_wall_s": [round(w, 2) for w in walls],
                "probe_cpu_s": [round(c, 2) for c in cpus],
                "target_wall_s": 120,
                "generation_cpu_s_median": {
                    k: round(statistics.median(v), 2) for k, v in times.items()
                },
                "anchor_over_cached": round(
                    statistics.median(times["anchor"]) / statistics.median(times["cached"]), 2
                ),
                "anchor_prompts": len(sample),
                "same_continuations_as_anchor": same,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
