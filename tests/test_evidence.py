"""``leakguard evidence`` on a log written by ``leakguard serve`` under load (two workers,
two configs, rotated segments), a sanitize run and a DP run with ``--index-out``: every
figure against counts taken straight from the raw records, no planted value anywhere in the
package, and each kind of broken evidence shown as a flagged finding."""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from evidence_kit import (
    CANARIES,
    OTHER_CORPUS,
    Journey,
    build_journey,
    cli,
    evidence_args,
    raw_records,
    sanitize,
    sanitized_file,
    write_corpus,
)

from leakguard.audit.evidence.schema import check_shape
from leakguard.cli import main
from leakguard.commands.exit_codes import EXIT_BLOCKED, EXIT_OK


@pytest.fixture(scope="module")
def journey(tmp_path_factory: pytest.TempPathFactory) -> Journey:
    return build_journey(tmp_path_factory.mktemp("journey"))


@pytest.fixture(scope="module")
def package(journey: Journey) -> Path:
    out = journey.root / "package"
    assert main(evidence_args(journey, out)) == EXIT_OK
    return out


def load(out: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((out / "evidence.json").read_text(encoding="utf-8"))
    return data


def codes(out: Path) -> set[str]:
    return {f["code"] for f in load(out)["flags"] if f["severity"] == "error"}


def test_every_figure_matches_counts_taken_from_the_raw_records(
    journey: Journey, package: Path
) -> None:
    records = raw_records(journey.log)
    events = [r for r in records if r["kind"] == "event"]
    assert len(events) == journey.sent  # every response was recorded
    op = load(package)["operation"]
    assert op["guarded"] == len(events)
    assert op["fully_scanned"] == sum(r["fully_scanned"] for r in events)
    assert op["actions"] == dict(Counter(r["action"] for r in events))
    per_day = {d["day"]: d for d in op["per_day"]}
    assert per_day[journey.day]["guarded"] == len(events)
    assert per_day[journey.day]["findings"] == sum(len(r["findings"]) for r in events)
    labels: dict[str, Counter[str]] = {}
    for r in events:
        for f in r["findings"]:
            labels.setdefault(f["label"], Counter())[f["action"]] += 1
    assert op["findings_per_label"] == {k: dict(v) for k, v in labels.items()}
    assert {"EMAIL_ADDRESS", "PHONE_NUMBER"} <= set(labels)
    policy = ("action:", "label:", "max_findings:")
    blocks = [r for r in events if r["action"] == "block"]
    assert op["fail_closed"] == dict(
        Counter(r["reason"] for r in blocks if not r["reason"].startswith(policy))
    )
    assert op["policy_blocks"] == dict(
        Counter(r["reason"] for r in blocks if r["reason"].startswith(policy))
    )
    assert op["fail_closed"]  # the load exercised both
    assert op["policy_blocks"]
    assert op["passed_unscanned"] == dict(
        Counter(r["reason"] for r in events if r["action"] != "block" and not r["fully_scanned"])
    )
    streams = {r["stream"] for r in records}
    assert op["streams"] == len(streams) == 4  # two workers, two deployments
    assert op["segments"] == sum(r["kind"] == "segment" for r in records)
    rotations = sum(r["kind"] == "seal" and r["reason"] == "rotate" for r in records)
    assert op["log_rotations"] == rotations >= 1
    assert op["routes"] == dict(Counter(r["route"] for r in events))


def test_controls_show_both_configs_and_the_change_between_them(
    journey: Journey, package: Path
) -> None:
    controls = load(package)["controls"]
    events = [r for r in raw_records(journey.log) if r["kind"] == "event"]
    fingerprints = Counter(r["policy_version"] for r in events)
    assert {c["fingerprint"]: c["used"]["records"] for c in controls["configs"]} == dict(
        fingerprints
    )
    assert [c["config_file"] for c in controls["configs"]] == [str(p) for p in journey.configs]
    (change,) = controls["changes"]
    assert change["changed"] == [
        {"setting": "policy.actions.PHONE_NUMBER", "from": None, "to": "block"}
    ]
    first_of_new = min(r["ts"] for r in events if r["policy_version"] == change["to"])
    assert change["ts"] == first_of_new
    assert controls["unknown_fingerprints"] == []


def test_a_whole_record_builds_a_package_without_findings_and_verifies(
    journey: Journey, package: Path
) -> None:
    evidence = load(package)
    assert evidence["flags"] == []
    assert check_shape(evidence) == []
    assert evidence["integrity"]["verified"] is True
    assert {link["status"] for link in evidence["lineage"]["links"]} == {"ok"}
    dp = evidence["lineage"]["dp_runs"][0]
    assert dp["epsilons_recomputed"][dp["accountant"]] == pytest.approx(dp["epsilon_reported"])
    manifest = json.loads((package / "manifest.json").read_text(encoding="utf-8"))
    assert {o["path"] for o in manifest["outputs"]} == {
        "evidence.json",
        "evidence.schema.json",
        "evidence.html",
        "EVIDENCE.md",
    }
    assert {i["role"] for i in manifest["inputs"]} == {
        "audit-log", "sanitize-run", "dp-run", "index", "config"
    }  # fmt: skip
    done = cli("evidence", "verify", str(package), check=False)
    assert done.returncode == EXIT_OK, done.stderr
    assert "verified" in done.stdout


def test_no_planted_value_reaches_any_file_of_the_package(package: Path) -> None:
    for file in package.iterdir():
        text = file.read_text(encoding="utf-8")
        for value in CANARIES:
            assert value not in text, f"{value!r} in {file.name}"
        assert "helpdesk" not in text  # the corpus' own values (sanitized) neither


def test_the_sample_is_reproducible_from_its_seed(journey: Journey, tmp_path: Path) -> None:
    drawn = []
    for name, seed in (("a", "s1"), ("b", "s1"), ("c", "s2")):
        out = tmp_path / name
        main(evidence_args(journey, out, "--sample", "5", "--seed", seed))
        drawn.append([(r["stream"], r["seq"]) for r in load(out)["sample"]["records"]])
    assert drawn[0] == drawn[1]
    assert len(drawn[0]) == 5
    assert drawn[0] != drawn[2]
    sample = load(tmp_path / "a")["sample"]
    assert "--seed s1" in sample["redraw"]
    assert sample["population"] == journey.sent
    assert all("context" not in f for r in sample["records"] for f in r["findings"])


def _lines(file: Path) -> list[str]:
    return file.read_text(encoding="utf-8").splitlines(keepends=True)


def _event_line(lines: list[str]) -> int:
    return next(i for i, line in enumerate(lines) if '"kind":"event"' in line)


def _edit(lines: list[str]) -> list[str]:
    i = _event_line(lines)
    record = json.loads(lines[i])
    record["action"] = "pass" if record["action"] != "pass" else "redact"
    return [*lines[:i], json.dumps(record) + "\n", *lines[i + 1 :]]


def _delete(lines: list[str]) -> list[str]:
    i = _event_line(lines)
    return [*lines[:i], *lines[i + 1 :]]


def _reorder(lines: list[str]) -> list[str]:
    i = _event_line(lines)
    return [*lines[:i], lines[i + 1], lines[i], *lines[i + 2 :]]


def _truncate(lines: list[str]) -> list[str]:
    return lines[:-2]  # the last record and the closing seal


@pytest.mark.parametrize(
    ("change", "code"),
    [
        (_edit, "chain_edited"),
        (_delete, "chain_deleted"),
        (_reorder, "chain_reordered"),
        (_truncate, "chain_truncated"),
    ],
)
def test_a_tampered_record_is_a_flagged_finding(
    journey: Journey,
    tmp_path: Path,
    change: Callable[[list[str]], list[str]],
    code: str,
) -> None:
    log = tmp_path / "log"
    shutil.copytree(journey.log, log)
    files = sorted(log.glob("*.jsonl"))
    target = files[-1] if change is _truncate else files[0]
    target.write_text("".join(change(_lines(target))), encoding="utf-8")
    out = tmp_path / "package"
    assert main(evidence_args(dataclasses.replace(journey, log=log), out)) == EXIT_BLOCKED
    assert code in codes(out)
    assert load(out)["integrity"]["verified"] is False
    assert "NO" in (out / "EVIDENCE.md").read_text(encoding="utf-8")


def test_a_swapped_index_is_a_flagged_finding(journey: Journey, tmp_path: Path) -> None:
    other = write_corpus(tmp_path / "other.jsonl", OTHER_CORPUS)
    swapped = tmp_path / "other.lgx"
    cli("index", "build", str(other), "--out", str(swapped))
    out = tmp_path / "package"
    args = evidence_args(dataclasses.replace(journey, index=swapped), out)
    assert main(args) == EXIT_BLOCKED
    assert {"served_index_mismatch", "index_not_from_training_data"} <= codes(out)


def test_a_dp_report_whose_epsilon_does_not_recompute_is_flagged(
    journey: Journey, tmp_path: Path
) -> None:
    run = tmp_path / "dp"
    shutil.copytree(journey.dp_run, run)
    report = json.loads((run / "privacy_report.json").read_text(encoding="utf-8"))
    report["epsilon"] = round(report["epsilon"] / 2, 3)  # a prettier number than the truth
    (run / "privacy_report.json").write_text(json.dumps(report), encoding="utf-8")
    out = tmp_path / "package"
    assert main(evidence_args(dataclasses.replace(journey, dp_run=run), out)) == EXIT_BLOCKED
    assert "dp_epsilon_mismatch" in codes(out)


def test_a_sanitize_run_of_another_corpus_is_flagged(journey: Journey, tmp_path: Path) -> None:
    other = write_corpus(tmp_path / "other.jsonl", OTHER_CORPUS)
    run = sanitize(tmp_path, other, "other-run")
    out = tmp_path / "package"
    assert main(evidence_args(dataclasses.replace(journey, sanitize_run=run), out)) == EXIT_BLOCKED
    assert "sanitize_dp_mismatch" in codes(out)


def test_verify_finds_an_edited_output_and_a_log_cut_back_after_the_anchor(
    journey: Journey, package: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "package"
    shutil.copytree(package, copy)
    html = copy / "evidence.html"
    html.write_text(html.read_text(encoding="utf-8").replace("yes", "yes!"), encoding="utf-8")
    done = cli("evidence", "verify", str(copy), check=False)
    assert done.returncode == EXIT_BLOCKED
    assert "evidence.html was changed" in done.stderr
    # A later package of a log from which one worker's stream was removed entirely: the
    # chain of what is left verifies, the earlier anchor does not.
    log = tmp_path / "log"
    shutil.copytree(journey.log, log)
    stream = sorted(log.glob("*.jsonl"))[0].name.rsplit("-", 1)[0]
    for file in log.glob(f"{stream}-*.jsonl"):
        file.unlink()
    later = tmp_path / "later"
    args = evidence_args(dataclasses.replace(journey, log=log), later, "--anchor", str(package))
    assert main(args) == EXIT_BLOCKED
    assert codes(later) == {"anchor_stream_missing"}


def test_bad_input_is_a_precise_error(journey: Journey, tmp_path: Path) -> None:
    done = cli(
        "evidence", "--from", "2026-13-01", "--to", journey.day, "--out", str(tmp_path / "x"),
        "--audit-log", str(journey.log), check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert "--from '2026-13-01' is not a date" in done.stderr
    empty = cli(
        "evidence", "--from", "2001-01-01", "--to", "2001-01-02", "--out", str(tmp_path / "y"),
        "--audit-log", str(journey.log), "--config", str(journey.configs[0]), check=False,
    )  # fmt: skip
    assert empty.returncode == EXIT_BLOCKED
    assert "no_records" in empty.stderr


# -- issue 24, item 4: the extraction probe in the lineage ----------------------------------


def probe(model: Path, journey: Journey, out: Path, control: Path) -> Path:
    """A real 'leakguard dp probe' of ``model`` on the DP run's training data."""
    write_corpus(control, OTHER_CORPUS)
    cli(
        "dp", "probe", str(model), "--corpus", str(sanitized_file(journey.sanitize_run)),
        "--control", str(control), "--prefixes", "6", "--prefix-words", "3",
        "--suffix-words", "4", "--no-pii", "--quiet", "--out", str(out),
    )  # fmt: skip
    return out


def test_a_probe_of_the_dp_runs_model_shows_its_rates_and_its_inputs_hashes(
    journey: Journey, tmp_path: Path
) -> None:
    run = tmp_path / "dp"
    shutil.copytree(journey.dp_run, run)
    control = tmp_path / "control.jsonl"
    result = json.loads(
        (probe(run, journey, run / "probe", control) / "probe.json").read_text("utf-8")
    )
    out = tmp_path / "package"
    # Found in the --dp-run directory, and given again with --probe: shown once.
    args = evidence_args(
        dataclasses.replace(journey, dp_run=run), out, "--probe", str(run / "probe")
    )
    assert main(args) == EXIT_OK
    evidence = load(out)
    assert evidence["flags"] == []
    (row,) = evidence["lineage"]["probes"]
    assert row["role"] == "model of the DP run"
    assert row["checkpoint"] == str(run)
    for group in ("training", "control"):
        for key in ("prompts", "exact_extractions", "exact_extraction_rate"):
            assert row["groups"][group][key] == result["groups"][group][key]
    (link,) = [r for r in evidence["lineage"]["links"] if r["link"] == "DP run → probe"]
    assert link["status"] == "ok"
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    model_sha = {a["sha256"] for a in evidence["lineage"]["dp_runs"][0]["artifacts"]}
    by_role = {r["role"]: r for r in manifest["probe_inputs"]}
    assert by_role["probe-model"]["sha256"] in model_sha
    assert by_role["probe-model"]["sha256_now"] == by_role["probe-model"]["sha256"]
    assert by_role["probe-corpus"]["path"] == str(sanitized_file(journey.sanitize_run))
    assert by_role["probe-corpus"]["sha256_now"] is not None
    assert by_role["probe-control"]["sha256_now"] is not None
    assert "probe" in {i["role"] for i in manifest["inputs"]}
    assert 'id="probes"' in (out / "evidence.html").read_text(encoding="utf-8")
    assert "### Extraction probe" in (out / "EVIDENCE.md").read_text(encoding="utf-8")
    done = cli("evidence", "verify", str(out), check=False)
    assert done.returncode == EXIT_OK, done.stderr
    # A probe input changed after the build: verify says which.
    control.write_text(control.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    done = cli("evidence", "verify", str(out), check=False)
    assert done.returncode == EXIT_BLOCKED
    assert "probe-control" in done.stderr


def test_a_probe_of_another_checkpoint_is_a_flagged_finding(
    journey: Journey, tmp_path: Path
) -> None:
    job = tmp_path / "job.yaml"
    job.write_text(
        journey.dp_config.read_text(encoding="utf-8").replace("steps: 3,", "steps: 3, seed: 7,"),
        encoding="utf-8",
    )
    other = tmp_path / "other-dp"
    cli("dp", "train", str(job), "--out", str(other), "--quiet")
    probed = probe(other, journey, tmp_path / "probe", tmp_path / "control.jsonl")
    not_a_probe = tmp_path / "notes.json"
    not_a_probe.write_text('{"model": "x"}', encoding="utf-8")
    out = tmp_path / "package"
    args = evidence_args(journey, out, "--probe", str(probed), "--probe", str(not_a_probe))
    assert main(args) == EXIT_BLOCKED
    assert {"probe_model_mismatch", "probe_unreadable"} <= codes(out)
    (row,) = load(out)["lineage"]["probes"]
    assert row["checkpoint"] is None
