"""``leakguard sanitize`` as a data engineer meets it: signals stop the whole process tree, a
wrong field fails fast, Dask errors and logs are readable, small shards, honest progress."""

from __future__ import annotations

import gzip
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import pytest

from leakguard.config import parse_config
from leakguard.corpus import plan_shards, read_shard
from leakguard.exceptions import ConfigError, CorpusError, DatasetError
from leakguard.sanitize.run import Progress, sanitize_corpus

PATTERN_ONLY: dict[str, dict[str, object]] = {
    "pii": {"spacy_model": "none", "entities": ["EMAIL_ADDRESS", "PHONE_NUMBER"]},
    "sanitize": {"pseudonym_key": "journey-key", "batch_size": 16},
}
KEY = b"journey-key"


def corpus(root: Path, *, files: int, records: int) -> Path:
    src = root / "in"
    src.mkdir()
    for f in range(files):
        lines = [
            json.dumps({"id": i, "text": f"Ticket {i}: mail user{i}@corp.io or call 415 555 0134."})
            for i in range(records)
        ]
        (src / f"f{f:02d}.jsonl").write_text("\n".join(lines) + "\n")
    return src


def cli(src: Path, out: Path, cfg: Mapping[str, object], tmp: Path, *extra: str) -> list[str]:
    cfg_path = tmp / "cfg.yaml"
    cfg_path.write_text(json.dumps(cfg))
    cmd = [sys.executable, "-m", "leakguard.cli", "sanitize", str(src), "--out", str(out)]
    return [*cmd, "--config", str(cfg_path), "--no-progress", *extra]


def children_of(pid: int) -> set[int]:
    """Live processes whose parent is ``pid`` (from /proc)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            found.add(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def start_and_wait_for_workers(cmd: list[str], out: Path) -> tuple[subprocess.Popen[str], set[int]]:
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    markers = out / ".leakguard" / "shards"
    deadline = time.monotonic() + 120
    workers: set[int] = set()
    while time.monotonic() < deadline and proc.poll() is None:
        # the pool's workers (spawned) plus multiprocessing's resource tracker
        workers = children_of(proc.pid)
        if len(workers) >= 2 and markers.is_dir() and any(markers.iterdir()):
            break
        time.sleep(0.02)
    assert proc.poll() is None, "the run finished before it could be interrupted"
    return proc, workers


@pytest.mark.heavy
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_the_workers_keeps_finished_shards_and_the_rerun_completes(
    tmp_path: Path, sig: signal.Signals
) -> None:
    src = corpus(tmp_path, files=12, records=400)
    out = tmp_path / "out"
    cmd = cli(src, out, PATTERN_ONLY, tmp_path, "--workers", "2")
    proc, workers = start_and_wait_for_workers(cmd, out)
    os.kill(proc.pid, sig)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == (143 if sig == signal.SIGTERM else 130), stderr
    assert "leakguard: interrupted:" in stderr
    assert "finished and kept" in stderr
    assert "rerun the same command to resume" in stderr
    assert "Traceback" not in stderr
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(alive(p) for p in workers):
        time.sleep(0.05)
    assert not [p for p in workers if alive(p)], "worker processes outlived the run"
    assert list((out / ".leakguard" / "tmp").iterdir()) == []  # unfinished work discarded
    done = len(list((out / ".leakguard" / "shards").iterdir()))
    assert 1 <= done < 12

    resumed = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert resumed.returncode == 0, resumed.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["totals"]["records_in"] == manifest["totals"]["records_out"] == 12 * 400
    assert manifest["totals"]["shards_resumed"] >= done


@pytest.mark.heavy
def test_workers_die_with_a_parent_killed_by_sigkill(tmp_path: Path) -> None:
    src = corpus(tmp_path, files=12, records=400)
    out = tmp_path / "out"
    proc, workers = start_and_wait_for_workers(
        cli(src, out, PATTERN_ONLY, tmp_path, "--workers", "2"), out
    )
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(alive(p) for p in workers):
        time.sleep(0.05)
    assert not [p for p in workers if alive(p)], "worker processes outlived a killed parent"


def test_a_field_in_none_of_the_first_records_fails_before_any_work(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    lines = [json.dumps({"id": i, "text": "hello", "meta": {}}) for i in range(300)]
    src.write_text("\n".join(lines) + "\n")
    with pytest.raises(CorpusError) as caught:
        sanitize_corpus(
            [src], tmp_path / "out", config=parse_config(PATTERN_ONLY), key=KEY, field="body"
        )
    assert str(caught.value) == (
        f"field 'body' is in none of the first 100 records of {str(src)!r}; they have: "
        "'id', 'text', 'meta'. Pass the key that holds the text as --field."
    )
    assert not (tmp_path / "out" / "data").exists()


def test_a_field_that_some_records_lack_still_runs_and_rejects_those(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    lines = [json.dumps({"body": "x"}) for _ in range(5)] + [json.dumps({"text": "mail a@b.io"})]
    src.write_text("\n".join(lines) + "\n")
    summary = sanitize_corpus(
        [src], tmp_path / "out", config=parse_config(PATTERN_ONLY), key=KEY, workers=1
    )
    assert (summary.records_out, summary.rejected) == (1, 5)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.heavy
def test_an_unreachable_dask_scheduler_is_a_clear_error_naming_its_address(
    tmp_path: Path,
) -> None:
    src = corpus(tmp_path, files=1, records=5)
    address = f"tcp://127.0.0.1:{free_port()}"
    done = subprocess.run(
        cli(src, tmp_path / "out", PATTERN_ONLY, tmp_path, "--dask", address),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 2
    assert f"cannot reach the Dask scheduler at {address!r}" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.heavy
def test_a_local_dask_cluster_logs_nothing_below_warning_unless_verbose(tmp_path: Path) -> None:
    src = corpus(tmp_path, files=2, records=5)
    done = subprocess.run(
        cli(src, tmp_path / "out", PATTERN_ONLY, tmp_path, "--dask", "local", "--workers", "1"),
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert [line for line in done.stderr.splitlines() if "INFO" in line] == []
    assert "2 shards done" in done.stderr


def test_shards_can_be_smaller_than_a_megabyte(tmp_path: Path) -> None:
    src = corpus(tmp_path, files=1, records=2000)
    cfg = parse_config({**PATTERN_ONLY, "sanitize": {**PATTERN_ONLY["sanitize"], "shard_mb": 0.02}})
    shards = plan_shards([src], target_shard_bytes=int(cfg.sanitize.shard_mb * 1024 * 1024))
    size = (src / "f00.jsonl").stat().st_size
    assert len(shards) == -(-size // int(0.02 * 1024 * 1024)) or len(shards) > 1
    summary = sanitize_corpus([src], tmp_path / "out", config=cfg, key=KEY, workers=1)
    assert len(summary.shards) == len(shards) > 1
    assert summary.records_out == 2000
    with pytest.raises(ConfigError, match="shard_mb"):
        parse_config({"sanitize": {"shard_mb": 0}})


def test_a_broken_gzip_member_is_reported_at_the_line_where_it_broke(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl.gz"
    body = "".join(json.dumps({"text": f"line {i} " + "x" * 200}) + "\n" for i in range(400))
    data = gzip.compress(body.encode(), mtime=0)
    path.write_bytes(data[: len(data) * 3 // 4])  # cut in the last quarter
    (shard,) = plan_shards([path])
    records = list(read_shard(shard))
    good = [r for r in records if r.ok]
    (broken,) = [r for r in records if not r.ok]
    assert len(good) > 50
    assert broken.line == len(good) + 1
    assert broken.reject == f"broken gzip stream after line {len(good)}: EOFError"


def test_one_shard_is_one_shard_in_the_summary_line(tmp_path: Path) -> None:
    src = corpus(tmp_path, files=1, records=3)
    done = subprocess.run(
        cli(src, tmp_path / "out", PATTERN_ONLY, tmp_path),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "1 shard done (0 from an earlier run)" in done.stderr


def test_the_eta_follows_this_runs_rate_not_the_resumed_shards() -> None:
    # 900 of 1,000 bytes were done by an earlier run; this run read 50 in 10 s.
    progress = Progress(
        shards_done=9,
        shards_total=10,
        records=0,
        bytes_done=950,
        bytes_total=1000,
        elapsed_s=10.0,
        bytes_resumed=900,
    )
    assert progress.eta_s == pytest.approx(10.0)
    assert Progress(0, 10, 0, 0, 1000, 1.0).eta_s is None


def test_progress_reports_bytes_read_by_running_shards(tmp_path: Path) -> None:
    """Ticks between finished shards carry what running shards have read so far."""
    src = corpus(tmp_path, files=1, records=6000)
    seen: list[Progress] = []
    sanitize_corpus(
        [src],
        tmp_path / "out",
        config=parse_config(PATTERN_ONLY),
        key=KEY,
        workers=1,
        on_progress=seen.append,
    )
    assert seen[-1].bytes_done == seen[-1].bytes_total
    assert seen[-1].shards_done == 1
    # one shard: every tick before the end saw it running; the bytes only grow
    done = [p.bytes_done for p in seen]
    assert done == sorted(done)


def test_a_dp_data_set_with_invalid_json_names_the_column_once(tmp_path: Path) -> None:
    from leakguard.dp.config import DataConfig
    from leakguard.dp.data import read_examples

    path = tmp_path / "d.jsonl"
    path.write_text('{"text": "ok"}\n{"text": oops}\n')
    with pytest.raises(DatasetError) as caught:
        read_examples(DataConfig(path=path), need_label=False, need_user=False)
    assert str(caught.value) == f"{path}:2: invalid JSON (Expecting value at column 10)"
