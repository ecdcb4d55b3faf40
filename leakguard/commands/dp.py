"""``leakguard dp train|audit``: DP training with Opacus and the canary audit."""

from __future__ import annotations

import argparse
import math
import sys
import time
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
    train.add_argument("--quiet", action="store_true", help="no progress output")
    train.set_defaults(handler=run_train)
    audit = sub.add_parser(
        "audit", help="plant canaries, train DP and non-DP, report exposure and an ε lower bound"
    )
    audit.add_argument("config", metavar="CONFIG.yaml")
    audit.add_argument("--out", metavar="DIR", default="dp-audit", help="output directory")
    audit.add_argument("--quiet", action="store_true", help="no progress output")
    audit.set_defaults(handler=run_audit)
    init = sub.add_parser(
        "init-hf",
        help="build a small Hugging Face causal LM and a tokenizer trained on your corpus, "
        "offline (to try the HF + LoRA path)",
    )
    init.add_argument("out", metavar="DIR", help="new (or empty) directory to write into")
    init.add_argument(
        "--corpus", metavar="PATH", required=True, help="JSON Lines or text file to train on"
    )
    init.add_argument("--field", default="text", help="text field of JSON Lines records")
    init.add_argument("--size", choices=("tiny", "small"), default="tiny", help="model size")
    init.add_argument("--vocab-size", type=int, default=2048, help="BPE vocabulary size")
    init.add_argument("--seed", type=int, default=0, help="seed of the model's initial weights")
    init.set_defaults(handler=run_init_hf)
    probe = sub.add_parser(
        "probe",
        help="does the model recite its training data? prefixes from the corpus, greedy "
        "continuations, compared with the true suffixes and with a never-seen control",
    )
    probe.add_argument("model", metavar="RUN_DIR|MODEL_DIR", help="dp train output or model")
    probe.add_argument("--corpus", metavar="PATH", required=True, help="the training corpus")
    probe.add_argument(
        "--control", metavar="PATH", required=True, help="records of the same kind never trained on"
    )
    probe.add_argument("--field", default="text", help="text field of JSON Lines records")
    probe.add_argument("--index", metavar="PATH", help="memorization index of the corpus")
    probe.add_argument("--prefixes", type=int, default=200, help="prompts per group")
    probe.add_argument("--prefix-words", type=int, default=6, help="words of each prompt")
    probe.add_argument("--suffix-words", type=int, default=8, help="words compared after it")
    probe.add_argument(
        "--seed", type=int, default=0, help="seed of the drawn records (and of --sample)"
    )
    probe.add_argument("--batch-size", type=int, default=64, help="prompts generated together")
    probe.add_argument(
        "--sample",
        action="store_true",
        help="also one sampled continuation per prompt (seeded), reported beside greedy",
    )
    probe.add_argument(
        "--temperature", type=float, default=1.0, help="softmax temperature of --sample"
    )
    probe.add_argument(
        "--device",
        choices=("auto", "cpu", "cuda"),
        default="cpu",
        help="where the model runs (auto: CUDA if torch sees a GPU); default cpu",
    )
    probe.add_argument("--no-pii", action="store_true", help="skip the PII-recital count")
    probe.add_argument(
        "--out",
        metavar="DIR",
        default="dp-probe",
        help="output directory; finished batches are kept there, so a killed probe run "
        "again with the same arguments resumes",
    )
    probe.add_argument("--quiet", action="store_true", help="no progress output")
    probe.set_defaults(handler=run_probe)


class _Progress:
    """Progress on stderr: step, loss, ε spent.

    On a terminal, one bar redrawn in place. Elsewhere (CI, nohup, a notebook) one line per
    tenth of the run or every ``every_s`` seconds, whichever comes first. ``quiet``: nothing.
    """

    def __init__(self, *, quiet: bool, every_s: float = 30.0) -> None:
        self.quiet = quiet
        self.tty = sys.stderr.isatty()
        self.every_s = every_s
        self.epsilon: float | None = None
        self.name = ""
        self.last_line = -math.inf
        self.last_tenth = -1

    def __call__(self, info: Any, name: str = "") -> None:
        if name != self.name:  # another run (the audit trains two): forget its ε
            self.name, self.epsilon, self.last_tenth = name, None, -1
        if info.epsilon is not None:
            self.epsilon = info.epsilon
        if self.quiet:
            return
        eps = "-" if self.epsilon is None else f"{self.epsilon:.3f}"
        label = f"{name} " if name else ""
        status = f"step {info.step}/{info.total_steps} loss {info.loss:.4f} ε {eps}"
        if self.tty:
            width = 30
            done = int(width * info.step / info.total_steps)
            end = "\n" if info.step == info.total_steps else ""
            bar = "#" * done + "." * (width - done)
            sys.stderr.write(f"\r{label}[{bar}] {status}{end}")
        else:
            tenth = 10 * info.step // info.total_steps
            now = time.monotonic()
            if tenth == self.last_tenth and now - self.last_line < self.every_s:
                return
            self.last_tenth, self.last_line = tenth, now
            sys.stderr.write(f"{label}{status}\n")
        sys.stderr.flush()


class _CountProgress:
    """Progress of a count of prompts on stderr, the way :class:`_Progress` shows steps:
    a bar on a terminal, elsewhere a line per tenth or every ``every_s`` seconds."""

    def __init__(self, *, quiet: bool, every_s: float = 30.0) -> None:
        self.quiet = quiet
        self.tty = sys.stderr.isatty()
        self.every_s = every_s
        self.name: str | None = None
        self.last_line = -math.inf
        self.last_tenth = -1

    def __call__(self, done: int, total: int, resumed: int, name: str = "") -> None:
        if self.quiet:
            return
        if name != self.name:
            self.name, self.last_tenth = name, -1
        label = f"probe {name} " if name else "probe "
        status = f"{done}/{total} prompts" + (f" ({resumed} resumed)" if resumed else "")
        if self.tty:
            width = 30
            bar = "#" * (width * done // total) + "." * (width - width * done // total)
            end = "\n" if done == total else ""
            sys.stderr.write(f"\r{label}[{bar}] {status}{end}")
        else:
            tenth = 10 * done // total
            now = time.monotonic()
            if done != total and tenth == self.last_tenth and now - self.last_line < self.every_s:
                return
            self.last_tenth, self.last_line = tenth, now
            sys.stderr.write(f"{label}{status}\n")
        sys.stderr.flush()


def _data_line(report: dict[str, Any]) -> str:
    data = report.get("data")
    if not data:
        return ""
    dropped = data["dropped"]["over_user_cap"]
    why = f" over the per-user cap of {data['user_cap']}" if dropped else ""
    return (
        f"trained on {data['examples_used']} of {data['examples_read']} records "
        f"({dropped} dropped{why})"
    )


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
    from leakguard.dp.jobs import check_out_dir, finished_run, run_training
    from leakguard.dp.report import unlearned_warning

    out = Path(args.out)
    if args.resume and (done := finished_run(out)) is not None:
        print(
            f"the run in {out} is complete ({done['steps']} steps, {done['stopped']}): "
            "nothing to resume"
        )
        return EXIT_OK
    check_out_dir(out, resume=args.resume)  # before the index build and the training
    if args.index_out:
        # A corpus the index builder rejects fails before any training is spent.
        from leakguard.memorization.build import build_index

        index = build_index([config.data.path], out=args.index_out, field=config.data.text_field)
        print(
            f"memorization index of the training corpus: {index.path} "
            f"({index.stats.records} records, {index.stats.ngrams} n-grams)"
        )
    result = run_training(
        config, out_dir=out, resume=args.resume, progress=_Progress(quiet=args.quiet)
    )
    report = result.report
    print(
        f"{_describe(report)}; {_data_line(report)}; wrote {result.model_path}, "
        f"{out / 'privacy_report.json'}, {out / 'PRIVACY.md'}"
    )
    warning = unlearned_warning(report)
    if warning:
        print(f"warning: {warning}", file=sys.stderr)
    return EXIT_OK


def run_audit(args: argparse.Namespace) -> int:
    from leakguard.dp import load_dp_config, require_dp

    config = load_dp_config(args.config)
    require_dp("the DP canary audit")
    from leakguard.dp.canary_audit import run_audit as audit

    progress = _Progress(quiet=args.quiet)
    counting = _CountProgress(quiet=args.quiet)
    out = Path(args.out)
    result = audit(
        config,
        out_dir=out,
        progress=lambda name, info: progress(info, name),
        probe_progress=lambda name, done, total, resumed: counting(done, total, resumed, name),
    )
    summary = result.audit
    for side, title in (("dp", "DP"), ("non_dp", "non-DP")):
        part = summary[side]
        print(
            f"{title}: median exposure {part['median_exposure']:.2f} bits, max "
            f"{part['max_exposure']:.2f}; one-run ε ≥ {part['one_run']['epsilon_lower_bound']:.3f} "
            f"(at most {part['one_run']['max_certifiable']:.2f} certifiable)"
        )
    probe = result.probe
    if probe:
        for side, title in (("dp", "DP"), ("non_dp", "non-DP")):
            print(f"{title} probe: {_probe_line(probe[side])}")
    print(f"{_describe(result.dp.report)}; wrote {out / 'PRIVACY.md'}, {out / 'audit.json'}")
    return EXIT_OK


def _probe_line(result: dict[str, Any]) -> str:
    groups, test = result["groups"], result["comparisons"]["repeated_vs_control"]
    verdict = {"above": "above", "below": "below", "indistinguishable": "not distinguishable"}
    return (
        f"exact extraction {groups['repeated']['exact_extraction_rate']:.1%} on repeated "
        f"training records, {groups['control']['exact_extraction_rate']:.1%} on the control "
        f"({verdict[test['verdict']]}, p = {test['p_value']:.2g})"
    )


def run_init_hf(args: argparse.Namespace) -> int:
    from leakguard.dp import require_dp

    require_dp("building a Hugging Face model")
    from leakguard.dp.init_hf import init_hf

    result = init_hf(
        Path(args.out),
        corpus=Path(args.corpus),
        field=args.field,
        size=args.size,
        vocab_size=args.vocab_size,
        seed=args.seed,
    )
    print(
        f"wrote a {args.size} Llama ({result.parameters:,} parameters) and a byte-level BPE "
        f"tokenizer ({result.vocab_size} tokens, trained on {result.texts} texts) to "
        f"{result.path}; set model.path to it (model.kind: hf) and run leakguard dp train"
    )
    return EXIT_OK


def run_probe(args: argparse.Namespace) -> int:
    from leakguard.dp import require_dp
    from leakguard.dp.probe import ProbeSettings

    settings = ProbeSettings(
        prefixes=args.prefixes,
        prefix_words=args.prefix_words,
        suffix_words=args.suffix_words,
        seed=args.seed,
        batch_size=args.batch_size,
        sample=args.sample,
        temperature=args.temperature,
    )
    require_dp("the extraction probe")
    from leakguard.dp.probe import run_probe as probe
    from leakguard.dp.probe import write_probe

    out = Path(args.out)
    result = probe(
        Path(args.model),
        corpus=Path(args.corpus),
        control=Path(args.control),
        field=args.field,
        index=Path(args.index) if args.index else None,
        settings=settings,
        device=args.device,
        pii=not args.no_pii,
        progress=_CountProgress(quiet=args.quiet),
        work_dir=out,
    )
    json_path, md_path = write_probe(result, out)
    if result["resumed_prompts"]:
        print(f"resumed: {result['resumed_prompts']} prompts were scored by an earlier run")
    passes = [("", result)]
    if result["sampled"]:
        passes.append(("sampled ", result["sampled"]))
    for how, measures in passes:
        for name in ("training", "repeated", "control"):
            g = measures["groups"][name]
            print(
                f"{how}{name}: exact extraction {g['exact_extraction_rate']:.1%} "
                f"({g['exact_extractions']}/{g['prompts']}), mean common run "
                f"{g['near_extraction_mean_run']:.2f} words"
            )
        print(f"{how}repeated vs control: {_probe_line(measures)}")
    print(f"wrote {json_path}, {md_path}")
    return EXIT_OK
