"""``leakguard dp train|audit``: DP training with Opacus and the canary audit."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

from leakguard.commands.exit_codes import EXIT_OK


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "dp",
        help="differentially private training (Opacus) and canary audits",
        description="Train with differential privacy and write a privacy report.",
    )
    sub = p.add_subparsers(dest="dp_command", metavar="ACTION", required=True)
    train = sub.add_parser(
        "train",
        help="train per CONFIG.yaml; write model, checkpoint, privacy_report.json, PRIVACY.md",
    )
    train.add_argument("config", metavar="CONFIG.yaml")
    train.add_argument("--out", metavar="DIR", default="dp-out", help="output directory")
    train.add_argument(
        "--resume", action="store_true", help="continue from DIR/checkpoint.pt (same config)"
    )
    train.add_argument(
        "--index-out",
        metavar="PATH",
        help="also build the memorization index of the training corpus (as 'leakguard index "
        "build' does), so the guard ships with the model",
    )
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.set_defaults(handler=run_train)
    audit = sub.add_parser(
        "audit", help="plant canaries, train DP and non-DP, report exposure and an ε lower bound"
    )
    audit.add_argument("config", metavar="CONFIG.yaml")
    audit.add_argument("--out", metavar="DIR", default="dp-audit", help="output directory")
    audit.add_argument("--quiet", action="store_true", help="no progress bar")
    audit.set_defaults(handler=run_audit)


class _Progress:
    """A one-line progress bar on stderr: step, loss, ε spent."""

    def __init__(self, *, quiet: bool) -> None:
        self.quiet = quiet or not sys.stderr.isatty()
        self.epsilon: float | None = None
        self.name = ""

    def __call__(self, info: Any, name: str = "") -> None:
        if name != self.name:  # another run (the audit trains two): forget its ε
            self.name, self.epsilon = name, None
        if info.epsilon is not None:
            self.epsilon = info.epsilon
        if self.quiet and info.step != info.total_steps:
            return
        width = 30
        done = int(width * info.step / info.total_steps)
        eps = "-" if self.epsilon is None else f"{self.epsilon:.3f}"
        label = f"{name} " if name else ""
        end = "\n" if info.step == info.total_steps else ""
        bar = "#" * done + "." * (width - done)
        sys.stderr.write(
            f"\r{label}[{bar}] step {info.step}/{info.total_steps} "
            f"loss {info.loss:.4f} ε {eps}{end}"
        )
        sys.stderr.flush()


def _describe(report: dict[str, Any]) -> str:
    eps = report["epsilon"]
    if not report["private"] or math.isinf(eps):
        return f"trained without DP: {report['steps']} steps"
    return (
        f"ε = {eps:.3f} ({report['accountant']}; "
        + ", ".join(
            f"{k} {v:.3f}" for k, v in report["epsilons"].items() if k != report["accountant"]
        )
        + f"), δ = {report['delta']:.3g}, σ = {report['noise_multiplier']:.4f}, "
        f"{report['steps']} steps ({report['stopped']})"
    )


def run_train(args: argparse.Namespace) -> int:
    from leakguard.dp import load_dp_config, require_dp

    config = load_dp_config(args.config)
    require_dp()
    if args.index_out:
        # First: a corpus the index builder rejects fails before any training is spent.
        from leakguard.memorization.build import build_index

        index = build_index([config.data.path], out=args.index_out, field=config.data.text_field)
        print(
            f"memorization index of the training corpus: {index.path} "
            f"({index.stats.records} records, {index.stats.ngrams} n-grams)"
        )
    from leakguard.dp.jobs import run_training

    out = Path(args.out)
    result = run_training(
        config, out_dir=out, resume=args.resume, progress=_Progress(quiet=args.quiet)
    )
    print(
        f"{_describe(result.report)}; wrote {result.model_path}, {out}/privacy_report.json, "
        f"PRIVACY.md"
    )
    return EXIT_OK


def run_audit(args: argparse.Namespace) -> int:
    from leakguard.dp import load_dp_config, require_dp

    config = load_dp_config(args.config)
    require_dp("the DP canary audit")
    from leakguard.dp.canary_audit import run_audit as audit

    progress = _Progress(quiet=args.quiet)
    out = Path(args.out)
    result = audit(config, out_dir=out, progress=lambda name, info: progress(info, name))
    summary = result.audit
    for side, title in (("dp", "DP"), ("non_dp", "non-DP")):
        part = summary[side]
        print(
            f"{title}: median exposure {part['median_exposure']:.2f} bits, max "
            f"{part['max_exposure']:.2f}; one-run ε ≥ {part['one_run']['epsilon_lower_bound']:.3f} "
            f"(at most {part['one_run']['max_certifiable']:.2f} certifiable)"
        )
    print(f"{_describe(result.dp.report)}; wrote {out}/PRIVACY.md, audit.json")
    return EXIT_OK
