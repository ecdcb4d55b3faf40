"""``leakguard sanitize`` end to end: round trip, rejects, pseudonyms, resume, Dask."""

from __future__ import annotations

import gzip
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from faker import Faker

from leakguard.config import LeakGuardConfig, parse_config
from leakguard.exceptions import ConfigError, CorpusError
from leakguard.sanitize.run import RunSummary, sanitize_corpus
from leakguard.sanitize.task import splice_field

KEY = b"test-pseudonym-key"
ENTITIES = ["PERSON", "EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "US_SSN", "IP_ADDRESS"]

# Templates where the planted values sit in plain prose; {x} slots are filled from Faker.
TEMPLATES = (
    "Yesterday Ms. {name} called about the refund; we will reply to {email} within two days.",
    "Yesterday Mr. {name} called about the invoice; call back on {phone} after five.",
    "Refund issued to card {card}; questions go to {email}.",
    "Server {ip} rejected three logins this morning.",
    "Meeting notes: budget approved, the rollout starts on Monday, nothing personal here.",
    "Use exponential backoff with a 30 second cap and retry at most 5 times.",
)


def config(**sanitize: Any) -> LeakGuardConfig:
    return parse_config(
        {
            "pii": {"entities": ENTITIES},
            "sanitize": {"pseudonym_key": KEY.decode(), "batch_size": 8, **sanitize},
        }
    )


def planted_corpus(root: Path, *, files: int = 2, records: int = 12, seed: int = 7) -> set[str]:
    """JSON Lines (plain and gzip) and a text file with planted PII; returns the values."""
    fake = Faker("en_US")
    fake.seed_instance(seed)
    rng = random.Random(seed)
    planted: set[str] = set()
    names = [f"{fake.first_name()} {fake.last_name()}" for _ in range(4)]  # values repeat

    def text() -> str:
        values = {
            "name": rng.choice(names),
            "email": fake.email(),
            "phone": fake.numerify("(###) 555-01##"),
            "card": fake.credit_card_number(card_type="visa16"),
            "ip": fake.ipv4_public(),
        }
        template = rng.choice(TEMPLATES)
        planted.update(v for k, v in values.items() if "{" + k + "}" in template)
        return template.format(**values)

    root.mkdir(parents=True, exist_ok=True)
    for f in range(files):
        lines = []
        for i in range(records):
            # Other fields carry escapes, unicode, odd spacing and numbers that a
            # re-serialization would change; they must come out byte-identical.
            lines.append(
                f'{{"id": {i}, "text": {json.dumps(text())},  "meta":{{"lang":"fr\\u00e9",'
                f' "score": 1.50, "tags": ["a","b"]}}, "note": "caf\u00e9"}}\n'
            )
        data = "".join(lines).encode()
        if f % 2:
            (root / f"part{f}.jsonl.gz").write_bytes(gzip.compress(data, mtime=0))
        else:
            (root / f"part{f}.jsonl").write_bytes(data)
    (root / "notes").mkdir(exist_ok=True)
    (root / "notes" / "letter.txt").write_text("\n\n".join(text() for _ in range(5)) + "\n")
    return planted


def read_output(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if path.suffix == ".gz" else data


def data_files(out: Path) -> dict[str, bytes]:
    return {
        p.relative_to(out).as_posix(): read_output(p)
        for p in sorted((out / "data").rglob("*"))
        if p.is_file()
    }


def run(inputs: list[Path], out: Path, cfg: LeakGuardConfig, **kwargs: Any) -> RunSummary:
    return sanitize_corpus(inputs, out, config=cfg, key=KEY, workers=1, **kwargs)


@pytest.fixture(scope="module")
def roundtrip(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, set[str], RunSummary]:
    root = tmp_path_factory.mktemp("corpus")
    planted = planted_corpus(root / "in")
    out = root / "out"
    return root / "in", out, planted, run([root / "in"], out, config())


def test_no_planted_value_survives_sanitization(
    roundtrip: tuple[Path, Path, set[str], RunSummary],
) -> None:
    _, out, planted, _ = roundtrip
    files = data_files(out)
    assert len(files) == 3
    text = b"".join(files.values()).decode()
    survivors = sorted(v for v in planted if v in text)
    assert survivors == []
    assert re.search(r"<PERSON_[0-9a-f]{10}>", text)
    assert re.search(r"<EMAIL_ADDRESS_[0-9a-f]{10}>", text)


def test_other_json_fields_and_clean_records_are_byte_identical(
    roundtrip: tuple[Path, Path, set[str], RunSummary],
) -> None:
    src, out, _, _ = roundtrip
    for name in ("part0.jsonl", "part1.jsonl.gz"):
        original = read_output(src / name).decode().splitlines(keepends=True)
        sanitized = read_output(out / "data" / "in" / name).decode().splitlines(keepends=True)
        assert len(sanitized) == len(original)
        for before, after in zip(original, sanitized, strict=True):
            # Putting the original text back must give the original line, byte for byte.
            restored = splice_field(after, "text", json.loads(before)["text"])
            assert restored == before
            if "nothing personal" in before or "backoff" in before:
                assert after == before


def test_text_files_keep_their_layout(roundtrip: tuple[Path, Path, set[str], RunSummary]) -> None:
    src, out, _, _ = roundtrip
    before = (src / "notes" / "letter.txt").read_text()
    after = (out / "data" / "in" / "notes" / "letter.txt").read_text()
    assert after.count("\n") == before.count("\n")
    assert after.endswith("\n")


def test_manifest_counts_add_up(roundtrip: tuple[Path, Path, set[str], RunSummary]) -> None:
    _, out, _, summary = roundtrip
    manifest = json.loads((out / "manifest.json").read_text())
    totals = manifest["totals"]
    assert totals["records_in"] == 2 * 12 + 1 == summary.records_in
    assert totals["records_in"] == totals["records_out"] + totals["rejected"]
    assert totals["rejected"] == 0
    for shard in manifest["shards"]:
        assert shard["records_in"] == shard["records_out"] + shard["rejected"]
    assert sum(s["records_in"] for s in manifest["shards"]) == totals["records_in"]
    per_label = totals["findings"]
    assert sum(per_label.values()) == sum(sum(s["findings"].values()) for s in manifest["shards"])
    assert {"PERSON", "EMAIL_ADDRESS"} <= set(per_label)


def test_report_shows_samples_only_as_placeholders(
    roundtrip: tuple[Path, Path, set[str], RunSummary],
) -> None:
    _, out, planted, _ = roundtrip
    report = (out / "report.json").read_text()
    page = (out / "SANITIZATION.md").read_text()
    for document in (report, page):
        assert not [v for v in planted if v in document]
        assert "<PERSON>" in document  # samples show the label, not even the pseudonym
        assert not re.search(r"<PERSON_[0-9a-f]{10}>", document)
    assert "Records read: **25**" in page


def test_same_value_gets_the_same_pseudonym_in_every_file(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.jsonl").write_text('{"text": "Mail jane.roe@corp.io today."}\n')
    (tmp_path / "in" / "b.txt").write_text("Her address: Jane.Roe@corp.io\n")
    run([tmp_path / "in"], tmp_path / "out", config())
    a = (tmp_path / "out" / "data" / "in" / "a.jsonl").read_text()
    b = (tmp_path / "out" / "data" / "in" / "b.txt").read_text()
    pseudonym = re.search(r"<EMAIL_ADDRESS_[0-9a-f]{10}>", a)
    assert pseudonym is not None
    assert pseudonym.group() in b


def test_format_preserving_replaces_values_with_fakes_of_the_same_kind(tmp_path: Path) -> None:
    (tmp_path / "in.jsonl").write_text(
        '{"text": "Write to jane.roe@corp.io or call (415) 555-0134."}\n'
    )
    run([tmp_path / "in.jsonl"], tmp_path / "out", config(format_preserving=True))
    text = json.loads((tmp_path / "out" / "data" / "in.jsonl").read_text())["text"]
    assert "jane.roe@corp.io" not in text
    assert "555-0134" not in text
    assert re.fullmatch(r"Write to \S+@\S+\.\w+ or call \(\d{3}\) \d{3}-\d{4}\.", text)


def test_bad_records_are_rejected_with_their_reason_and_never_their_text(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_bytes(
        b'{"text": "fine, nothing to see"}\n'
        b"not json at all\n"
        b'{"text": "caf\xe9 latin-1 bytes"}\n'
        b'["a list"]\n'
        b'{"body": "no text field"}\n'
        b'{"text": 42}\n'
        b'{"text": "' + b"x" * 200 + b'"}\n'
        b'{"text": "write to ann.lee@corp.io, keep it safe"}\n'
    )
    cfg = parse_config(
        {
            "pii": {"entities": ENTITIES},
            "policy": {"actions": {"EMAIL_ADDRESS": "block"}},
            "sanitize": {"pseudonym_key": "k", "max_record_chars": 100},
        }
    )
    summary = sanitize_corpus([src], tmp_path / "out", config=cfg, key=b"k", workers=1)
    assert (summary.records_in, summary.records_out, summary.rejected) == (8, 1, 7)
    rejects_file = tmp_path / "out" / "rejects" / "in.jsonl.rejects.jsonl"
    rejects = [json.loads(line) for line in rejects_file.read_text().splitlines()]
    assert [(r["line"], r["code"]) for r in rejects] == [
        (2, "invalid_json"),
        (3, "undecodable"),
        (4, "not_an_object"),
        (5, "missing_field"),
        (6, "field_not_text"),
        (7, "over_size"),
        (8, "blocked_by_policy"),
    ]
    assert "ann.lee" not in rejects_file.read_text()
    assert "latin-1" not in rejects_file.read_text()
    assert summary.rejects() == {
        "blocked_by_policy": 1,
        "field_not_text": 1,
        "invalid_json": 1,
        "missing_field": 1,
        "not_an_object": 1,
        "over_size": 1,
        "undecodable": 1,
    }


def test_a_failing_detector_rejects_only_its_record(tmp_path: Path) -> None:
    from leakguard.sanitize import task as sanitize_module

    src = tmp_path / "in.jsonl"
    src.write_text('{"text": "first jane@corp.io"}\n{"text": "BOOM"}\n{"text": "third"}\n')
    cfg = config()
    sanitizer = sanitize_module._worker_sanitizer(cfg, KEY)
    real = sanitizer.batch.detect_batch

    def flaky(texts: Any) -> Any:
        if "BOOM" in texts:
            raise RuntimeError("model crashed")
        return real(texts)

    sanitizer.batch.detect_batch = flaky  # type: ignore[method-assign]
    try:
        summary = run([src], tmp_path / "out", cfg)
    finally:
        del sanitizer.batch.detect_batch
    assert (summary.records_out, summary.rejected) == (2, 1)
    assert summary.rejects() == {"detector_error": 1}
    out = (tmp_path / "out" / "data" / "in.jsonl").read_text()
    assert "third" in out
    assert "jane@corp.io" not in out


def test_missing_key_is_an_error_that_names_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    from leakguard.sanitize.pseudonyms import resolve_pseudonym_key

    monkeypatch.delenv("LEAKGUARD_PSEUDONYM_KEY", raising=False)
    with pytest.raises(ConfigError, match="LEAKGUARD_PSEUDONYM_KEY"):
        resolve_pseudonym_key(LeakGuardConfig().sanitize)


def test_resuming_with_another_key_or_config_is_refused(tmp_path: Path) -> None:
    (tmp_path / "in.txt").write_text("hello\n")
    run([tmp_path / "in.txt"], tmp_path / "out", config())
    with pytest.raises(ConfigError, match="pseudonym key"):
        sanitize_corpus([tmp_path / "in.txt"], tmp_path / "out", config=config(), key=b"other")
    with pytest.raises(ConfigError, match="configuration"):
        run([tmp_path / "in.txt"], tmp_path / "out", config(format_preserving=True))


def test_a_non_empty_foreign_output_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "in.txt").write_text("hello\n")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "precious.txt").write_text("keep me")
    with pytest.raises(CorpusError, match="not empty"):
        run([tmp_path / "in.txt"], tmp_path / "out", config())


def test_an_output_directory_inside_an_input_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "in.txt").write_text("hello\n")
    with pytest.raises(CorpusError, match="inside the input directory"):
        run([tmp_path], tmp_path / "clean", config())


def test_a_second_run_redoes_nothing(tmp_path: Path) -> None:
    planted_corpus(tmp_path / "in", files=2, records=3)
    first = run([tmp_path / "in"], tmp_path / "out", config())
    before = data_files(tmp_path / "out")
    second = run([tmp_path / "in"], tmp_path / "out", config())
    assert second.resumed == len(second.shards) == len(first.shards) == 3
    assert second.records_in == first.records_in
    assert data_files(tmp_path / "out") == before


PATTERN_ONLY = {
    "pii": {"spacy_model": "none", "entities": ["EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD"]},
    "sanitize": {"pseudonym_key": "resume-key", "batch_size": 16},
}


FILES, RECORDS = 16, 60


def test_killed_run_resumes_to_the_same_output_as_an_uninterrupted_run(tmp_path: Path) -> None:
    """SIGKILL the CLI once some shards are done; the rerun finishes the rest, redoes none of
    the finished shards, and the result equals an uninterrupted run byte for byte."""
    src = tmp_path / "in"
    src.mkdir()
    fake = Faker("en_US")
    fake.seed_instance(3)
    for f in range(FILES):
        lines = [
            json.dumps(
                {"i": i, "text": f"Ticket {i}: mail {fake.email()} or call {fake.phone_number()}."}
            )
            for i in range(RECORDS)
        ]
        (src / f"f{f:02d}.jsonl").write_text("\n".join(lines) + "\n")
    cfg_path = tmp_path / "cfg.yaml"
    cfg_path.write_text(json.dumps(PATTERN_ONLY))
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "leakguard.cli", "sanitize", str(src), "--out", str(out)]
    cmd += ["--config", str(cfg_path), "--workers", "1", "--no-progress"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    markers = out / ".leakguard" / "shards"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if markers.is_dir() and len(list(markers.iterdir())) >= 2:
            break
        time.sleep(0.01)
    assert proc.poll() is None, "the run finished before it could be interrupted"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = len(list(markers.iterdir()))
    assert 2 <= done_before < FILES
    assert not (out / "manifest.json").exists()

    resumed = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert resumed.returncode == 0, resumed.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["totals"]["shards_resumed"] >= done_before
    assert manifest["totals"]["records_in"] == manifest["totals"]["records_out"] == FILES * RECORDS
    assert list((out / ".leakguard" / "tmp").iterdir()) == []

    reference = sanitize_corpus(
        [src], tmp_path / "ref", config=parse_config(PATTERN_ONLY), key=b"resume-key", workers=1
    )
    assert reference.records_out == FILES * RECORDS
    assert data_files(out) == data_files(tmp_path / "ref")


def test_dask_local_cluster_gives_the_same_output_as_the_local_path(tmp_path: Path) -> None:
    planted_corpus(tmp_path / "in", files=3, records=6)
    local = run([tmp_path / "in"], tmp_path / "local", config())
    dask = run([tmp_path / "in"], tmp_path / "dask", config(), dask="local", dask_processes=False)
    assert data_files(tmp_path / "dask") == data_files(tmp_path / "local")
    assert dask.findings() == local.findings()
    assert [s.to_dict() | {"seconds": 0} for s in dask.shards] == [
        s.to_dict() | {"seconds": 0} for s in local.shards
    ]


@pytest.mark.heavy
def test_worker_processes_give_the_same_output_as_one_process(tmp_path: Path) -> None:
    planted_corpus(tmp_path / "in", files=4, records=5)
    cfg = parse_config(PATTERN_ONLY)
    sanitize_corpus([tmp_path / "in"], tmp_path / "one", config=cfg, key=b"k", workers=1)
    sanitize_corpus([tmp_path / "in"], tmp_path / "two", config=cfg, key=b"k", workers=2)
    assert data_files(tmp_path / "two") == data_files(tmp_path / "one")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('{"text": "a"}\n', '{"text": "X"}\n'),
        (
            '{ "id":1 ,"text" :"a\\u00e9" , "z": [1, {"text": "inner"}] }\r\n',
            '{ "id":1 ,"text" :"X" , "z": [1, {"text": "inner"}] }\r\n',
        ),
        ('{"text": "first", "text": "last"}', '{"text": "first", "text": "X"}'),
        (
            '\ufeff{"meta": {"text": "no"}, "text": "yes"}\n',
            '\ufeff{"meta": {"text": "no"}, "text": "X"}\n',
        ),
    ],
)
def test_splice_field_changes_only_the_top_level_field(line: str, expected: str) -> None:
    assert splice_field(line, "text", "X") == expected


def test_splice_field_writes_valid_json_for_any_text() -> None:
    value = 'quote " backslash \\ newline \n tab \t emoji \U0001f600 nul \x00'
    out = splice_field('{"text": "a", "n": 1}', "text", value)
    assert json.loads(out) == {"text": value, "n": 1}


def test_sanitize_cli_exits_3_when_records_were_rejected(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from leakguard.cli import main

    (tmp_path / "in.jsonl").write_text('{"text": "mail a@corp.io"}\nnot json\n')
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(json.dumps(PATTERN_ONLY))
    monkeypatch.delenv("LEAKGUARD_PSEUDONYM_KEY", raising=False)
    args = ["sanitize", str(tmp_path / "in.jsonl"), "--out", str(tmp_path / "out")]
    code = main([*args, "--config", str(cfg), "--workers", "1", "--no-progress"])
    assert code == 3
    err = capsys.readouterr().err
    assert "2 records read, 1 written, 1 rejected" in err


def test_a_run_is_recorded_in_the_redaction_log_without_values(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from leakguard.cli import main

    (tmp_path / "in.jsonl").write_text('{"text": "mail ann.lee@corp.io"}\n{"text": "hi"}\n')
    cfg = tmp_path / "cfg.yaml"
    audit = {
        "enabled": True,
        "path": str(tmp_path / "log"),
        "fingerprint_key": "audit-key-0123456789abcdef",
    }
    cfg.write_text(json.dumps(PATTERN_ONLY | {"audit": audit}))
    args = ["sanitize", str(tmp_path / "in.jsonl"), "--out", str(tmp_path / "out")]
    assert main([*args, "--config", str(cfg), "--workers", "1", "--no-progress"]) == 0
    log = "".join(p.read_text() for p in sorted((tmp_path / "log").rglob("*")) if p.is_file())
    events = [json.loads(line) for line in log.splitlines() if '"sanitize"' in line]
    assert len(events) == 1
    assert events[0]["action"] == "redact"
    assert "records_in=2 records_out=2 rejected=0" in events[0]["reason"]
    assert "EMAIL_ADDRESS:1" in events[0]["reason"]
    assert "ann.lee" not in log


def test_annotated_example_config_documents_the_sanitize_section() -> None:
    from leakguard.config import load_config

    example = Path(__file__).resolve().parents[1] / "models" / "leakguard.example.yaml"
    settings = load_config(example).sanitize
    assert settings.pseudonym_key_env == "LEAKGUARD_PSEUDONYM_KEY"
    assert (settings.batch_size, settings.name_min_letters, settings.workers) == (32, 2, 0)
    assert settings.format_preserving is False


def test_a_failed_shard_is_reported_and_retried_by_the_next_run(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    for name in ("a", "b", "c"):
        (tmp_path / "in" / f"{name}.jsonl").write_text(f'{{"text": "mail {name}@corp.io"}}\n')
    out, cfg = tmp_path / "out", parse_config(PATTERN_ONLY)
    sanitize_corpus([tmp_path / "in"], out, config=cfg, key=b"k", workers=1)
    # b changes (a new shard to do) and a directory sits where its output must go.
    (tmp_path / "in" / "b.jsonl").write_text('{"text": "mail bee@corp.io"}\n')
    (out / "data" / "in" / "b.jsonl").unlink()
    (out / "data" / "in" / "b.jsonl").mkdir()

    second = sanitize_corpus([tmp_path / "in"], out, config=cfg, key=b"k", workers=1)
    assert second.resumed == 2
    assert [Path(f.source).name for f in second.failed] == ["b.jsonl"]
    assert "IsADirectoryError" in second.failed[0].error
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["totals"]["shards_failed"] == 1
    assert manifest["failed"][0]["shard_id"] == second.failed[0].shard_id

    (out / "data" / "in" / "b.jsonl").rmdir()
    third = sanitize_corpus([tmp_path / "in"], out, config=cfg, key=b"k", workers=1)
    assert (third.resumed, len(third.failed), third.records_out) == (2, 0, 3)
    assert "bee@corp.io" not in (out / "data" / "in" / "b.jsonl").read_text()


def test_a_failed_shard_reports_foreign_exceptions_by_type_only(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A third-party exception may quote the record it failed on: only its type is kept."""
    from types import SimpleNamespace

    from leakguard.executors import Completed
    from leakguard.sanitize.run import _failure

    task: Any = SimpleNamespace(shard=SimpleNamespace(id="s1", path="corpus.jsonl"))
    leaky: Completed[Any] = Completed(
        0, error=ValueError("Did not find word 'jane.doe@example.com'")
    )
    disk: Completed[Any] = Completed(0, error=OSError(28, "No space left on device"))
    with caplog.at_level("ERROR", logger="leakguard"):
        assert _failure(task, leaky).error == "ValueError"
        assert _failure(task, disk).error == "OSError: [Errno 28] No space left on device"
    assert "jane.doe" not in caplog.text
