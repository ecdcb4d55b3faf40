"""DP step cost against a non-private step, side by side in one run (issue 7 targets).

Measures, on the built-in small transformer with one physical batch:
  * seconds per step: non-private, DP with hooks (leakguard's output-gradient sampler),
    DP with Opacus' own hooks (``opacus-hooks``, what "hooks" was before), DP with ghost
    clipping (all trainable); the same with only the top block + head trainable, and with
    LoRA adapters;
  * peak extra memory of a DP step vs a non-private step (tracemalloc can't see torch's
    allocator, so we compare ru_maxrss growth in fresh subprocesses);
  * which engine ``auto`` picks, and its step time against the best engine (on a GPU also
    with ``max_memory_overhead: 0.25``, from the probe's peak memory).
Step times are CPU seconds of the process on the CPU (wall seconds on a GPU).
Reports medians and ratios. Run niced: ``nice .venv/bin/python bench/bench_dp.py``.
On a GPU: ``--device cuda`` (memory is then the CUDA allocator's peak over the set-up),
with ``--d-model/--layers/--length`` for a model size where the GPU has work to do.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from typing import Any

import torch

from leakguard.dp import engines as dp_training
from leakguard.dp.accounting import PrivacyPlan
from leakguard.dp.config import ModelConfig, TrainingConfig
from leakguard.dp.data import encode
from leakguard.dp.engines import one_batch_private, physical_backward, probe_engines
from leakguard.dp.jobs import lm_collate, lm_losses
from leakguard.dp.models import TinyLM, apply_trainable

warnings.filterwarnings("ignore")
torch.set_num_threads(1)
# The model and where it runs; main() sets it from the command line.
SHAPE: dict[str, Any] = {"device": "cpu", "d_model": 64, "layers": 2, "heads": 4, "length": 96}


def _clock() -> float:
    """CPU seconds of this process on the CPU (one torch thread, so a step's own cost, and
    far less disturbed than wall time by other jobs on a shared machine); wall time on a GPU."""
    return time.perf_counter() if SHAPE["device"] == "cuda" else time.process_time()


def _sync() -> None:
    if SHAPE["device"] == "cuda":  # GPU work is asynchronous: time it when it is done
        torch.cuda.synchronize()


def batch(size: int, length: int) -> list[list[int]]:
    text = "hello, this is a support chat about order A123456 and a refund. " * 4
    return [encode(text[i % 7 :], max_length=length) for i in range(size)]


def model_for(trainable: str) -> TinyLM:
    torch.manual_seed(0)
    config = ModelConfig(
        d_model=SHAPE["d_model"],
        layers=SHAPE["layers"],
        heads=SHAPE["heads"],
        trainable=trainable,  # type: ignore[arg-type]
        top_layers=1,
    )
    model = TinyLM(config, max_length=SHAPE["length"])
    apply_trainable(model, config)
    return model.to(SHAPE["device"])


def stepper(trainable: str, mode: str, items: list[list[int]]) -> Callable[[], float]:
    """A function that runs one full training step (forward, backward, clip, noise, update)
    on a fresh model and returns its seconds."""
    model = model_for(trainable)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer: Any = torch.optim.Adam(params, lr=1e-3)
    ids = lm_collate(items).to(SHAPE["device"])
    private = None
    engine = "hooks" if mode == "opacus-hooks" else mode
    if mode != "plain":
        supports = dp_training.supports
        if mode == "opacus-hooks":  # Opacus' GradSampleHooks, as every model without our layers
            dp_training.supports = lambda _: False  # type: ignore[assignment]
        try:
            private = one_batch_private(
                model,
                optimizer,
                items,
                lm_collate,
                noise_multiplier=1.0,
                max_grad_norm=1.0,
                mode=engine,  # type: ignore[arg-type]
            )
        finally:
            dp_training.supports = supports
        optimizer = private.optimizer

    def step() -> float:
        start = _clock()
        losses = lm_losses(model, ids)
        if private is None:
            (losses.sum() / len(items)).backward()
        else:
            physical_backward(engine, private, losses)  # type: ignore[arg-type]
        optimizer.step()
        optimizer.zero_grad()
        _sync()
        return _clock() - start

    step()  # warm-up
    return step


def time_steps(trainable: str, mode: str, items: list[list[int]], repeats: int) -> float:
    step = stepper(trainable, mode, items)
    return statistics.median(step() for _ in range(repeats))


def interleaved(trainable: str, items: list[list[int]], repeats: int) -> dict[str, float]:
    """Median step seconds per mode, the modes taking turns so machine load hits all alike."""
    modes = ("plain", "hooks", "opacus-hooks", "ghost")
    steps = {mode: stepper(trainable, mode, items) for mode in modes}
    times: dict[str, list[float]] = {mode: [] for mode in steps}
    for _ in range(repeats):
        for mode, step in steps.items():
            times[mode].append(step())
    return {mode: statistics.median(t) for mode, t in times.items()}


def _rss_kib() -> int:
    with open("/proc/self/status", encoding="ascii") as f:
        return int(next(line for line in f if line.startswith("VmRSS")).split()[1])


def measure_memory(trainable: str, mode: str, size: int) -> None:
    """In a fresh process: KiB of peak RSS the steps add on top of the set-up process."""
    import resource

    items = batch(size, SHAPE["length"])
    # One tiny plain step first: torch's one-off start-up allocations are not the step's.
    time_steps(trainable, "plain", batch(2, SHAPE["length"]), 1)
    before = _rss_kib()
    time_steps(trainable, mode, items, 2)
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)


def cuda_peak_kib(trainable: str, mode: str, size: int) -> float:
    """KiB the steps add to the CUDA allocator's peak over the set-up (model, optimizer)."""
    step = stepper(trainable, mode, batch(size, SHAPE["length"]))
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    before = torch.cuda.memory_allocated()
    step()
    step()
    return (torch.cuda.max_memory_allocated() - before) / 1024


def peak_rss(trainable: str, mode: str, size: int) -> float:
    if SHAPE["device"] == "cuda":
        return cuda_peak_kib(trainable, mode, size)
    shape = [f"--{k.replace('_', '-')}={v}" for k, v in SHAPE.items()]
    command = [sys.executable, __file__, *shape, "--memory", trainable, mode, str(size)]
    out = subprocess.run(command, capture_output=True, text=True, check=True)
    return float(out.stdout.split()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-memory", action="store_true")
    parser.add_argument("--memory-batch", type=int, default=128)
    parser.add_argument("--memory", nargs=3, metavar=("TRAINABLE", "MODE", "SIZE"))
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--d-model", type=int, default=64)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--length", type=int, default=96)
    args = parser.parse_args()
    SHAPE.update(
        device=args.device,
        d_model=args.d_model,
        layers=args.layers,
        heads=args.heads,
        length=args.length,
    )
    if args.memory:
        measure_memory(args.memory[0], args.memory[1], int(args.memory[2]))
        return
    items = batch(args.batch, SHAPE["length"])
    results: dict[str, Any] = {"shape": dict(SHAPE), "batch": args.batch}
    for trainable in ("all", "top", "lora"):
        row: dict[str, Any] = interleaved(trainable, items, args.repeats)
        row["ratio_vs_plain"] = {m: row[m] / row["plain"] for m in row if m != "plain"}
        row["ratio_best_dp_vs_plain"] = min(row["hooks"], row["ghost"]) / row["plain"]
        results[trainable] = row
    # What auto picks (the trainer's own probe) and how it compares with the best engine.
    plan = PrivacyPlan("rdp", 8.0, 1e-5, 1.0, 0.01, 1, 1, 1.0, "example", 1000, 1000, 1)
    training = TrainingConfig(max_physical_batch_size=args.batch)
    probe = probe_engines(
        model_for("all"),
        items,
        per_sample_loss=lm_losses,
        collate=lambda chunk: lm_collate(chunk).to(SHAPE["device"]),
        training=training,
        plan=plan,
    )
    row = results["all"]
    best = min(row["hooks"], row["ghost"])
    pick = probe.pick(None)
    results["auto"] = {
        "probe_seconds": probe.seconds,
        "probe_peak_mib": probe.peak_mib,
        "picked": pick,
        "ratio_vs_best": row[pick] / best,
    }
    if probe.peak_mib:  # on a GPU: auto with a memory limit of +25% over a non-private step
        lean = probe.pick(0.25)
        results["auto_max_memory_overhead_0.25"] = {
            "picked": lean,
            "ratio_vs_best": row[lean] / best,
            "probe_peak_vs_plain": probe.peak_mib[lean] / probe.peak_mib["plain"],
        }
    if not args.no_memory:
        plain = peak_rss("all", "plain", args.memory_batch)
        mem = {
            mode: peak_rss("all", mode, args.memory_batch)
            for mode in ("hooks", "opacus-hooks", "ghost")
        }
        results["memory_kib_over_setup"] = {
            "plain": plain,
            **mem,
            "ratio_vs_plain": {mode: kib / plain for mode, kib in mem.items()},
        }
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
