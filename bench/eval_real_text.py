# ruff: noqa: E402
"""PII detection on text nobody here wrote, leakguard vs stock Presidio, same run.

Four evaluations side by side (see leakguard/evaluation/real_text.py for the rules):

* clean prose: false findings per 1,000 words of Debian package docs and man pages;
* Debian names: real names and e-mails in changelog trailers, changelog lines, copyright
  files (labelled by the trailer syntax, extracted at run time, never stored);
* hand-written: bench/data/handwritten_{dev,test}.txt (invented people, forms the
  generator never produces);
* blind: bench/data/blind_{dev,test}.txt, written by a session that never saw the
  detector's rules, code or other data (invented people; 24% of the texts hold no
  personal data, so precision counts too); blind2: a second such set by another session,
  weighted to what an assistant writes (summaries, letters, biographies, later mentions of
  a name, technical answers of 40-120 words without personal data); blind3: a third,
  about 45% other kinds than PERSON (addresses of many countries, phones in many formats,
  cards of every scheme, IBANs, SSNs), scored with recall by label; blind4: a fourth,
  about half its values street addresses of some forty countries (and shipping labels,
  PO boxes, rural routes, house names), with technical answers that mention roads,
  routes and building numbers without an address;
* generated: the dev set's tune / heldout / fresh splits (the shipped NER and the rules
  were tuned on ``tune`` and the generator family behind all three).

``--part dev`` (default) is what tuning may look at; ``--part test`` is scored at the end.

    nice .venv/bin/python bench/eval_real_text.py [--part dev|test] [--show 40] [--markdown]
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from leakguard.config import LeakGuardConfig, parse_config
from leakguard.evaluation.baseline import stock_presidio
from leakguard.evaluation.devset import SPLITS, generate
from leakguard.evaluation.markup import load_markup
from leakguard.evaluation.real_text import (
    ProseDoc,
    clean_prose,
    copyright_holders,
    credited_names,
    debian_name_list,
    debian_names,
    word_count,
)
from leakguard.evaluation.scoring import EvalReport, LabelledText, Span, evaluate
from leakguard.guard import Guard

System = Callable[[str], Sequence[Span]]


def guard_system(config: LeakGuardConfig) -> System:
    guard = Guard(config)

    def scan(text: str) -> list[Span]:
        return [Span(f.start, f.end, f.label) for f in guard.scan(text).findings]

    return scan


def presidio_system() -> System:
    analyzer = stock_presidio()

    def scan(text: str) -> list[Span]:
        return [Span(r.start, r.end, r.entity_type) for r in analyzer.analyze(text, language="en")]

    return scan


def prose_false_findings(
    system: System, docs: Sequence[ProseDoc], names: frozenset[str]
) -> tuple[Counter[str], int, list[tuple[str, str]]]:
    """False findings by label, findings on a real person's name, and the false values."""
    false: Counter[str] = Counter()
    known = 0
    values = []
    for doc in docs:
        for span in system(doc.text):
            value = doc.text[span.start : span.end]
            if any(n in value or value in n for n in names if len(value) > 3):
                known += 1
                continue
            false[span.label] += 1
            lo, hi = max(0, span.start - 30), min(len(doc.text), span.end + 30)
            shown = f"{doc.text[lo : span.start]}[{value}]{doc.text[span.end : hi]}"
            values.append((span.label, shown.replace("\n", " ")))
    return false, known, values


def row(name: str, report: EvalReport) -> str:
    person = report.label_recall("PERSON") if report.gold["PERSON"] else float("nan")
    return (
        f"| {name} | {report.texts} | {report.recall:.3f} | {report.precision:.3f} "
        f"| {person:.3f} ({report.caught['PERSON']}/{report.gold['PERSON']}) |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--part", choices=["dev", "test"], default="dev")
    parser.add_argument("--words", type=int, default=20_000, help="clean-prose words")
    parser.add_argument("--names", type=int, default=300, help="Debian lines per context")
    parser.add_argument("--generated", type=int, default=300, help="texts per generated split")
    parser.add_argument("--show", type=int, default=0, help="print N false prose findings")
    parser.add_argument("--config", default=None, help="leakguard config overrides (YAML)")
    parser.add_argument("--no-presidio", action="store_true")
    args = parser.parse_args()
    overrides = {}
    if args.config:
        import yaml

        overrides = yaml.safe_load(Path(args.config).read_text(encoding="utf-8")) or {}
    systems = {"leakguard": guard_system(parse_config(overrides))}
    if not args.no_presidio:
        systems["stock Presidio + en_core_web_sm"] = presidio_system()
    for system in systems.values():
        system("Warm up with Jane Doe, jane@example.com.")

    # A finding on a real person's name (a changelog trailer's, a copyright holder's, or one
    # the docs credit: "Patch from X", "X <x@...>", "X (3):") is not a false finding: the
    # docs do name their authors. Counted apart, in the last column.
    names = debian_name_list() | copyright_holders() | credited_names()
    docs = clean_prose(args.part, max_words=args.words)
    words = sum(word_count(d.text) for d in docs)
    dropped = sum(d.dropped_lines for d in docs)
    print(f"\n### Clean prose ({args.part}): {len(docs)} documents, {words:,} words")
    print(f"(dropped before scoring: {dropped} e-mail / URL / credit lines)\n")
    print("| system | false findings / 1,000 words | PERSON | by label | on real names |")
    print("|---|---:|---:|---|---:|")
    for name, system in systems.items():
        false, known, values = prose_false_findings(system, docs, names)
        total = sum(false.values())
        labels = ", ".join(f"{k} {v}" for k, v in false.most_common())
        print(
            f"| {name} | {1000 * total / words:.2f} ({total}) "
            f"| {1000 * false['PERSON'] / words:.2f} | {labels} | {known} |"
        )
        if args.show and args.part == "dev":
            for label, context in values[: args.show]:
                print(f"    {label:<16} ...{context}...")

    sets: dict[str, list[LabelledText]] = {
        f"Debian {kind}": items
        for kind, items in debian_names(args.part, per_kind=args.names).items()
    }
    for name in ("handwritten", "blind", "blind2", "blind3", "blind4"):
        sets[f"{name} ({args.part})"] = load_markup(
            ROOT / "bench" / "data" / f"{name}_{args.part}.txt"
        )
    for split in SPLITS:
        sets[f"generated {split}"] = list(generate(split, count=args.generated, seed=0))
    print("\n### Labelled sets: span recall / precision / PERSON recall\n")
    print("| set | system | texts | recall | precision | PERSON recall |")
    print("|---|---|---:|---:|---:|---:|")
    by_label: list[tuple[str, EvalReport]] = []
    for set_name, data in sets.items():
        for name, system in systems.items():
            report = evaluate(system, data, name=name)
            print(row(f"{set_name} | {name}", report))
            if not set_name.startswith(("Debian", "generated")):
                by_label.append((f"{set_name} | {name}", report))
    print("\n### Hand-written and blind sets: recall by label (caught / labelled)\n")
    for name, report in by_label:
        labels = ", ".join(
            f"{label} {report.caught[label]}/{total}"
            for label, total in sorted(report.gold.items(), key=lambda kv: -kv[1])
        )
        print(f"- {name}: {labels}")


if __name__ == "__main__":
    main()
