"""The CLI through its entry point, in a real subprocess where output and exit codes matter."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from leakguard import __version__
from leakguard.cli import EXIT_BLOCKED, EXIT_ERROR, EXIT_OK, main

QUICK_START = (
    "Contact Jane Doe at jane.doe@example.com or +1 415 555 0134, card 4111 1111 1111 1111"
)
ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "leakguard.cli", *args],
        input=stdin,
        capture_output=True,
        check=False,
        cwd=ROOT,
    )
    return subprocess.CompletedProcess(
        proc.args, proc.returncode, proc.stdout.decode(), proc.stderr.decode()
    )


@pytest.mark.heavy
def test_scan_stdin_text_and_json_in_one_process_each() -> None:
    text = run_cli("scan", "-", stdin=QUICK_START.encode())
    assert text.returncode == EXIT_OK
    assert text.stdout == (
        "Contact <PERSON> at <EMAIL_ADDRESS> or <PHONE_NUMBER>, card <CREDIT_CARD>\n"
    )
    assert text.stderr == ""


def test_scan_json_lists_findings_without_values(capsys: pytest.CaptureFixture[str]) -> None:
    path = ROOT / "examples" / "response.txt"
    assert main(["scan", "--format", "json", str(path)]) == EXIT_OK
    record = json.loads(capsys.readouterr().out)
    assert record["action"] == "redact"
    assert [f["label"] for f in record["findings"]] == [
        "PERSON",
        "EMAIL_ADDRESS",
        "PHONE_NUMBER",
        "CREDIT_CARD",
    ]
    assert "jane.doe@example.com" not in json.dumps(record)
    assert set(record["findings"][0]) == {"label", "detector", "start", "end", "score", "action"}


def test_show_values_adds_the_value_at_the_character_offsets(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "in.txt"
    src.write_text("Ünïcode first: mail bob@corp.io", encoding="utf-8")
    assert main(["scan", "--format", "json", "--show-values", str(src)]) == EXIT_OK
    (finding,) = json.loads(capsys.readouterr().out)["findings"]
    assert finding["value"] == "bob@corp.io"
    assert "Ünïcode first: mail bob@corp.io"[finding["start"] : finding["end"]] == "bob@corp.io"


def test_several_files_give_one_json_line_each_in_order_with_source(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("nothing here", encoding="utf-8")
    b.write_text("mail bob@corp.io", encoding="utf-8")
    assert main(["scan", "--format", "json", str(b), str(a)]) == EXIT_OK
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["source"], r["action"]) for r in lines] == [(str(b), "redact"), (str(a), "pass")]


def test_blocked_input_exits_with_the_blocked_code(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("policy:\n  actions:\n    CREDIT_CARD: block\n  block_message: nope\n")
    src = tmp_path / "in.txt"
    src.write_text(QUICK_START, encoding="utf-8")
    assert main(["scan", "--config", str(cfg), str(src)]) == EXIT_BLOCKED
    assert capsys.readouterr().out == "nope\n"


def test_invalid_utf8_and_missing_files_are_errors_that_print_nothing_for_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"mail bob@corp.io \xff\xfe")
    assert main(["scan", str(bad), str(tmp_path / "missing.txt")]) == EXIT_ERROR
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "is not valid UTF-8 (byte offset 17)" in captured.err
    assert "cannot read" in captured.err
    assert "bob@corp.io" not in captured.err


def test_bad_config_is_an_error_naming_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("policy:\n  default_action: nuke\n")
    assert main(["scan", "--config", str(cfg), "-"]) == EXIT_ERROR
    assert "key 'policy.default_action' got 'nuke'" in capsys.readouterr().err


def test_version_flag(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"leakguard {__version__}"
