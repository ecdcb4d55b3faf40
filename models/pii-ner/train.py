"""Rebuild models/pii-ner/model from scratch: generate the data, train, copy the best model.

Reproducible: the data generator and spaCy's training loop are seeded (``--seed``); the
run needs no network (PYTHONHASHSEED is pinned too). On a shared 2-core machine it takes
about 12 minutes; run it niced (``--target`` writes the model elsewhere, e.g. to compare):

    nice -n 10 .venv/bin/python models/pii-ner/train.py
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--work", type=Path, default=ROOT / "build" / "pii-ner")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--train", type=int, default=30000)
    parser.add_argument("--max-steps", type=int, default=8000)
    parser.add_argument("--target", type=Path, default=HERE / "model", help="where the model goes")
    args = parser.parse_args()
    data = args.work / "data"
    python = sys.executable
    # A fixed hash seed as well: nothing may depend on set order (see devset._stable_word_lists).
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    subprocess.run(
        [python, str(HERE / "training_data.py"), str(data), "--train", str(args.train),
         "--seed", str(args.seed)],
        check=True,
        env=env,
    )  # fmt: skip
    subprocess.run(
        [python, "-m", "spacy", "train", str(HERE / "config.cfg"),
         "--output", str(args.work / "output"),
         "--paths.train", str(data / "train.spacy"), "--paths.dev", str(data / "dev.spacy"),
         "--system.seed", str(args.seed), "--training.max_steps", str(args.max_steps)],
        check=True,
        env=env,
    )  # fmt: skip
    best = args.work / "output" / "model-best"
    meta = json.loads((best / "meta.json").read_text(encoding="utf-8"))
    meta.update(
        name="leakguard_pii_ner",
        version="1.0.0",
        description="leakguard name/address NER (PERSON, ADDRESS); see models/pii-ner/README.md",
        license="Apache-2.0",
    )
    (best / "meta.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    # The string store lists every token seen in training (1.7 MB of generated names and
    # words). Inference hashes token attributes and re-adds strings as it meets them; it
    # needs only the entity labels up front.
    (best / "vocab" / "strings.json").write_text(json.dumps(["ADDRESS", "PERSON"]) + "\n")
    # The data paths of this run (absolute, machine-specific) are not part of the model.
    cfg = best / "config.cfg"
    cfg.write_text(
        re.sub(r'(?m)^(train|dev) = ".*"$', r"\1 = null", cfg.read_text(encoding="utf-8")),
        encoding="utf-8",
    )
    shutil.rmtree(args.target, ignore_errors=True)
    shutil.copytree(best, args.target)
    print(json.dumps(meta.get("performance", {}), indent=2))


if __name__ == "__main__":
    main()
