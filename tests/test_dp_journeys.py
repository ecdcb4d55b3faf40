"""``leakguard dp train`` as a new user meets it (issue 25, items 1-5 and 8): a finished run
is not resumed, an earlier run is not overwritten, dropped records are counted, progress shows
up in a log, a model that learned nothing is called out, the report explains its numbers, and
a missing field names the setting to change."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("opacus")

from leakguard.cli import main
from leakguard.commands.exit_codes import EXIT_ERROR, EXIT_OK

TEXTS = [f"ticket {i}: the printer on floor {i % 5} jams again" for i in range(48)]


def _job(
    tmp_path: Path,
    *,
    training: str = "{steps: 6, batch_size: 8, engine: hooks, learning_rate: 0.01}",
    privacy: str = "{accountant: rdp, unit: user, max_examples_per_user: 2}",
    records: list[dict[str, object]] | None = None,
) -> Path:
    corpus = tmp_path / "c.jsonl"
    rows = records or [{"text": t, "user_id": f"u{i % 12}"} for i, t in enumerate(TEXTS)]
    corpus.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    config = tmp_path / "job.yaml"
    config.write_text(
        "data: {path: c.jsonl, max_length: 48}\n"
        "model: {d_model: 16, layers: 1, heads: 2}\n"
        f"privacy: {privacy}\n"
        f"training: {training}\n",
        encoding="utf-8",
    )
    return config


def _report(out: Path) -> dict[str, object]:
    result: dict[str, object] = json.loads((out / "privacy_report.json").read_text("utf-8"))
    return result


def test_resume_of_a_finished_run_says_so_and_exits_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config, out = _job(tmp_path), tmp_path / "out"
    assert main(["dp", "train", str(config), "--out", str(out), "--quiet"]) == EXIT_OK
    before = (out / "model.pt").read_bytes()
    capsys.readouterr()
    assert main(["dp", "train", str(config), "--out", str(out), "--resume", "--quiet"]) == EXIT_OK
    said = capsys.readouterr().out
    assert f"the run in {out} is complete" in said
    assert "nothing to resume" in said
    assert (out / "model.pt").read_bytes() == before


def test_a_second_run_into_a_used_directory_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config, out = _job(tmp_path), tmp_path / "out"
    assert main(["dp", "train", str(config), "--out", str(out), "--quiet"]) == EXIT_OK
    report = (out / "privacy_report.json").read_bytes()
    capsys.readouterr()
    assert main(["dp", "train", str(config), "--out", str(out), "--quiet"]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert "already holds a run" in err
    assert "--resume" in err
    assert (out / "privacy_report.json").read_bytes() == report  # nothing overwritten


def test_records_dropped_by_the_user_cap_are_counted_everywhere(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config, out = _job(tmp_path), tmp_path / "out"
    assert main(["dp", "train", str(config), "--out", str(out), "--quiet"]) == EXIT_OK
    # 48 records of 12 users, at most 2 per user: 24 used, 24 dropped.
    data = _report(out)["data"]
    assert data == {
        "examples_read": 48,
        "examples_used": 24,
        "dropped": {"over_user_cap": 24},
        "user_cap": 2,
        "users": 12,
    }
    said = capsys.readouterr().out
    assert "trained on 24 of 48 records (24 dropped over the per-user cap of 2)" in said
    md = (out / "PRIVACY.md").read_text("utf-8")
    assert "| training records | 48 read, 24 trained on, 24 dropped" in md


def test_progress_is_logged_line_by_line_off_a_terminal_and_quiet_is_quiet(
    tmp_path: Path,
) -> None:
    config = _job(tmp_path, training="{steps: 20, batch_size: 8, engine: hooks}")
    cmd = [sys.executable, "-m", "leakguard.cli", "dp", "train", str(config), "--out"]
    loud = subprocess.run([*cmd, str(tmp_path / "a")], capture_output=True, text=True, check=True)
    lines = [line for line in loud.stderr.splitlines() if line.startswith("step ")]
    # The stderr of a pipe is no terminal: the first step, then a line per tenth of the run.
    assert len(lines) == 11
    assert lines[0].startswith("step 1/20 ")
    assert lines[-1].startswith("step 20/20 loss ")
    assert "\r" not in loud.stderr
    quiet = subprocess.run(
        [*cmd, str(tmp_path / "b"), "--quiet"], capture_output=True, text=True, check=True
    )
    assert "step " not in quiet.stderr
    assert "ε = " in quiet.stdout  # the result is still printed


def test_a_model_that_learned_nothing_is_called_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # ε = 0.05 over 6 steps: the noise drowns every gradient.
    config = _job(
        tmp_path,
        privacy="{accountant: rdp, unit: example, target_epsilon: 0.05}",
        training="{steps: 6, batch_size: 8, engine: hooks, learning_rate: 0.0001}",
    )
    out = tmp_path / "out"
    assert main(["dp", "train", str(config), "--out", str(out), "--quiet"]) == EXIT_OK
    loss = _report(out)["loss"]
    assert isinstance(loss, dict)
    assert loss["learned"] is False
    assert loss["examples"] == 48
    assert "the model learned nothing measurable" in capsys.readouterr().err
    assert "**the model learned nothing measurable**" in (out / "PRIVACY.md").read_text("utf-8")


def test_a_model_that_learned_shows_its_loss_falling(tmp_path: Path) -> None:
    config = _job(
        tmp_path,
        privacy="{accountant: rdp, unit: example, target_epsilon: 50}",
        training="{steps: 40, batch_size: 16, engine: hooks, learning_rate: 0.01}",
    )
    out = tmp_path / "out"
    assert main(["dp", "train", str(config), "--out", str(out), "--quiet"]) == EXIT_OK
    loss = _report(out)["loss"]
    assert isinstance(loss, dict)
    assert loss["learned"] is True
    assert loss["final"] < loss["initial"]
    assert "**the model learned nothing measurable**" not in (out / "PRIVACY.md").read_text("utf-8")


def test_privacy_md_explains_its_numbers_and_the_done_line_names_full_paths(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _job(tmp_path, privacy="{accountant: prv, unit: user, max_examples_per_user: 2}")
    out = tmp_path / "out"
    assert main(["dp", "train", str(config), "--out", str(out), "--quiet"]) == EXIT_OK
    md = (out / "PRIVACY.md").read_text("utf-8")
    assert "### How to read the numbers" in md
    assert "**Which ε is the guarantee:** the prv accountant's" in md
    assert "**Epochs" in md
    assert "Poisson" in md
    assert "**Secure RNG off:**" in md
    assert "The loss is not covered by ε" in md
    said = capsys.readouterr().out
    assert str(out / "PRIVACY.md") in said
    assert str(out / "privacy_report.json") in said


def test_a_missing_text_field_names_the_setting_and_the_keys_the_record_has(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _job(tmp_path, records=[{"body": "hello", "user_id": "u1", "meta": 1}])
    assert main(["dp", "train", str(config), "--out", str(tmp_path / "o")]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert "field 'text' missing: set data.text_field" in err
    assert "the fields: body, meta, user_id" in err
    assert "hello" not in err  # field names only, never values


def test_a_missing_user_field_points_at_user_field_or_example_unit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _job(tmp_path, records=[{"text": "hello", "uid": "u1"}])
    assert main(["dp", "train", str(config), "--out", str(tmp_path / "o")]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert "field 'user_id' is missing: set data.user_field" in err
    assert "privacy.unit: example" in err
    assert "the fields: text, uid" in err


def test_the_shipped_audit_example_shows_the_contrast_it_exists_to_show(tmp_path: Path) -> None:
    """Issue 25 item 6: the non-DP model memorises the canaries, the DP model does not."""
    from leakguard.dp.report import MEMORISED_BITS

    example = Path(__file__).resolve().parent.parent / "examples" / "dp_tiny_lm.yaml"
    out = tmp_path / "audit"
    assert main(["dp", "audit", str(example), "--out", str(out), "--quiet"]) == EXIT_OK
    audit = _report(out)["audit"]
    assert isinstance(audit, dict)
    assert audit["non_dp"]["median_exposure"] >= MEMORISED_BITS
    assert audit["dp"]["median_exposure"] < MEMORISED_BITS / 2
    assert (
        audit["non_dp"]["one_run"]["epsilon_lower_bound"]
        > audit["dp"]["one_run"]["epsilon_lower_bound"]
    )
    md = (out / "PRIVACY.md").read_text("utf-8")
    assert "the audit can see leakage when there is some" in md


def test_an_audit_whose_baseline_memorised_nothing_says_it_was_inconclusive() -> None:
    from leakguard.dp.report import _audit_md

    side = {
        "median_exposure": 1.0,
        "max_exposure": 3.0,
        "one_run": {"epsilon_lower_bound": 0.0, "max_certifiable": 2.26},
    }
    audit = {
        "canaries": 64,
        "secret_digits": 6,
        "repetitions": 2,
        "candidates": 4096,
        "confidence": 0.95,
        "dp": side,
        "non_dp": side,
    }
    text = "\n".join(_audit_md(audit))
    assert "the non-DP model did not memorise the canaries either" in text
    assert "could not have seen leakage" in text
