"""``probe.json`` and ``PROBE.md``; the probe's Markdown section, also used in PRIVACY.md."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from leakguard._files import write_atomically

__all__ = ["PROBE_MD", "PROBE_NAME", "probe_md", "reading", "write_probe"]

PROBE_NAME = "probe.json"
PROBE_MD = "PROBE.md"
_ROWS = (
    ("training", "training records"),
    ("repeated", "repeated training records"),
    ("control", "control (never seen)"),
)


def write_probe(result: dict[str, Any], out_dir: Path) -> tuple[Path, Path]:
    """``probe.json`` and ``PROBE.md`` in ``out_dir`` (each replaced in one rename)."""
    json_path, md_path = out_dir / PROBE_NAME, out_dir / PROBE_MD
    write_atomically(json_path, json.dumps(result, indent=2, sort_keys=True) + "\n")
    write_atomically(md_path, "\n".join(probe_md({"model": result})) + "\n")
    return json_path, md_path


def _rate(g: dict[str, Any]) -> str:
    low, high = g["exact_extraction_ci95"]
    return (
        f"{g['exact_extraction_rate']:.1%} ({g['exact_extractions']}/{g['prompts']}; "
        f"95% CI {low:.1%} to {high:.1%}), run {g['near_extraction_mean_run']:.2f} words"
    )


def _test(c: dict[str, Any]) -> str:
    low, high = c["difference_ci95"]
    words = {
        "above": "**above** the control",
        "below": "below the control",
        "indistinguishable": "not distinguishable from the control",
    }[c["verdict"]]
    return (
        f"{words}: {c['difference'] * 100:+.1f} points (95% CI {low * 100:+.1f} to "
        f"{high * 100:+.1f}), p = {c['p_value']:.2g}"
    )


def _table(results: dict[str, dict[str, Any]], key: str | None = None) -> list[str]:
    """Rows of rates and tests; ``key`` "sampled": the sampled continuations' measures."""
    names = list(results)
    parts = {n: (results[n] if key is None else results[n][key]) for n in names}
    lines = ["| exact extraction | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for group, title in _ROWS:
        lines.append(
            f"| {title} | " + " | ".join(_rate(parts[n]["groups"][group]) for n in names) + " |"
        )
    for group, title in (("training", "training"), ("repeated", "repeated")):
        cells = [_test(parts[n]["comparisons"][f"{group}_vs_control"]) for n in names]
        lines.append(f"| {title} vs control (Fisher exact) | " + " | ".join(cells) + " |")
    if all("index_hit_rate" in p["groups"]["training"] for p in parts.values()) and all(
        "index_hit_rate" in p["groups"]["control"] for p in parts.values()
    ):
        cells = [
            f"{p['groups']['training']['index_hit_rate']:.1%} vs control "
            f"{p['groups']['control']['index_hit_rate']:.1%}"
            for p in parts.values()
        ]
        lines.append("| index hits, training vs control | " + " | ".join(cells) + " |")
    if all("pii_recited" in p["groups"]["repeated"] for p in parts.values()):
        cells = []
        for p in parts.values():
            recited = p["groups"]["repeated"]["pii_recited"]
            total = sum(p["groups"]["repeated"]["pii_in_true_suffix"].values())
            labels = ", ".join(f"{k} {v}" for k, v in recited.items())
            cells.append(f"{sum(recited.values())} of {total}" + (f" ({labels})" if labels else ""))
        lines.append("| PII values recited (repeated records) | " + " | ".join(cells) + " |")
    return lines


def reading() -> str:
    """How to read the probe, in plain words, next to ε."""
    return (
        "How to read it: the control's rate is what the model reaches by generalising (the "
        "records follow common patterns). A training rate **above** the control's (Fisher's "
        "exact test, p < 0.05) means the model recites text because it was trained on it: it "
        "leaks training data through its outputs. DP bounds how much any one record can "
        "change the model, so a DP model's rates should be *not distinguishable* from the "
        "control; the interval of the difference says how large a gap the test could have "
        "missed with this many prompts. ε bounds this for every record and every attack; the "
        "probe measures one attack on the records drawn, so it can show leakage but never "
        "prove its absence."
    )


def probe_md(results: dict[str, dict[str, Any]]) -> list[str]:
    """The probe's rates and tests for one or more models (e.g. DP and non-DP)."""
    first = next(iter(results.values()))
    s = first["settings"]
    g = first["groups"]
    lines = [
        "### Extraction probe",
        "",
        f"Prompted with the first {s['prefix_words']} words of seeded records (up to "
        f"{s['prefixes']} per group: {g['training']['prompts']} training records, "
        f"{g['repeated']['prompts']} repeated ones (texts that occur more than once in the "
        "training data), "
        f"{g['control']['prompts']} control records the model never saw), greedy continuation "
        f"of up to {s['suffix_words']} words, compared with the records' true next words "
        "(exact: the continuation starts with all of them; run: the longest common run).",
        "",
        *_table(results),
    ]
    if all(r.get("sampled") for r in results.values()):
        lines += [
            "",
            f"Sampled continuations (temperature {first['sampled']['temperature']:g}, seed "
            f"{s['seed']}), same prompts:",
            "",
            *_table(results, "sampled"),
        ]
    lines += ["", reading()]
    return lines
