"""Issue 21, items 14-18: the privacy officer's review. Live streams verify as open, the
review page's filters, verdicts and exports, and its login security."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient
from test_review import KEY, PASSWORD, login, seed_database

from leakguard.audit.chain import AuditKey
from leakguard.audit.review import create_app
from leakguard.cli import main
from leakguard.config import LeakGuardConfig, parse_config

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def seeded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, LeakGuardConfig]:
    monkeypatch.setenv("LEAKGUARD_AUDIT_KEY", KEY)
    db = tmp_path / "audit.db"
    config = parse_config({"audit": {"sink": "sqlite", "path": str(db), "fingerprint_key": KEY}})
    seed_database(db, config)
    return db, config


def review_client(
    db: Path, config: LeakGuardConfig, *, client: tuple[str, int] = ("10.0.0.1", 5000)
) -> TestClient:
    app = create_app(db, config=config, key=AuditKey(KEY.encode()), password=PASSWORD)
    return TestClient(app, client=client)


@pytest.fixture
def page(seeded: tuple[Path, LeakGuardConfig]) -> Iterator[TestClient]:
    db, config = seeded
    with review_client(db, config) as client:
        yield client


def give_verdict(client: TestClient, verdict: str = "false_positive", *, query: str = "") -> str:
    """Record a verdict on the first record the filter ``query`` lists; its link."""
    listing = client.get(f"/records?{query}").text
    link: str = re.findall(r'href="(/records/[^"]+/\d+)"', listing)[0]
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', client.get(link).text)
    assert csrf is not None
    response = client.post(link, data={"verdict": verdict, "finding": "0", "csrf": csrf[1]})
    assert response.status_code == 200
    return link


# -- item 14: a live stream is open, not truncated --------------------------------------


def test_verify_passes_while_the_review_page_writes_and_names_the_open_stream(
    seeded: tuple[Path, LeakGuardConfig], capsys: pytest.CaptureFixture[str]
) -> None:
    db, config = seeded
    with review_client(db, config) as client:
        login(client)
        give_verdict(client)
        assert main(["audit", "verify", str(db)]) == 0
        out = capsys.readouterr().out
        assert "open (being written now)" in out
        assert "OK (1 open, being written: " in out
    assert main(["audit", "verify", str(db)]) == 0
    assert "open" not in capsys.readouterr().out.splitlines()[-1]


def test_a_stream_whose_writer_was_killed_is_still_truncated(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEAKGUARD_AUDIT_KEY", KEY)
    db = tmp_path / "audit.db"
    script = (
        "import sys, time\n"
        "from leakguard.audit.sinks import open_sink\n"
        "from leakguard.config import parse_config\n"
        "from leakguard.events import ScanEvent\n"
        "from leakguard.findings import OutcomeAction\n"
        f"c = parse_config({{'audit': {{'sink': 'sqlite', 'path': {str(db)!r}}}}})\n"
        "s = open_sink(c)\n"
        "s.emit(ScanEvent('scan', 'r1', OutcomeAction.PASS, (), 'pv'))\n"
        "s.flush(); print('ready', flush=True); time.sleep(60)\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", script],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "LEAKGUARD_AUDIT_KEY": KEY},
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        assert main(["audit", "verify", str(db)]) == 0  # running: open
        assert "being written" in capsys.readouterr().out
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
        if child.stdout is not None:
            child.stdout.close()
    assert main(["audit", "verify", str(db)]) != 0
    assert "without a closing seal" in capsys.readouterr().out


# -- item 18: review page security ------------------------------------------------------


def test_bearer_guesses_are_throttled_per_client_address(
    seeded: tuple[Path, LeakGuardConfig],
) -> None:
    db, config = seeded
    with review_client(db, config) as guesser:
        codes = [
            guesser.get("/records", headers={"Authorization": f"Bearer guess-{i}"}).status_code
            for i in range(12)
        ]
        assert codes[:10] == [401] * 10
        assert codes[10:] == [429, 429]
        right = guesser.get("/records", headers={"Authorization": f"Bearer {PASSWORD}"})
        assert right.status_code == 429  # still throttled: guessing gains nothing
    with review_client(db, config, client=("10.0.0.2", 5000)) as other:
        right = other.get("/records", headers={"Authorization": f"Bearer {PASSWORD}"})
        assert right.status_code == 200


def test_wrong_passwords_from_one_address_do_not_lock_out_the_reviewer(
    seeded: tuple[Path, LeakGuardConfig],
) -> None:
    db, config = seeded
    with review_client(db, config) as attacker:
        assert [login(attacker, f"guess-{i}") for i in range(10)] == [401] * 10
        assert login(attacker) == 429
    with review_client(db, config, client=("10.0.0.2", 5000)) as reviewer:
        assert login(reviewer) == 303


def test_wrong_passwords_for_one_account_from_many_addresses_are_throttled(
    seeded: tuple[Path, LeakGuardConfig],
) -> None:
    db, config = seeded
    app = create_app(db, config=config, key=AuditKey(KEY.encode()), password=PASSWORD)
    codes = []
    for i in range(31):
        with TestClient(app, client=(f"10.1.0.{i}", 5000)) as client:
            codes.append(login(client, f"guess-{i}"))
    assert codes[:30] == [401] * 30
    assert codes[30] == 429


def test_logout_revokes_the_session_cookie(page: TestClient) -> None:
    login(page)
    cookie = page.cookies["leakguard_review"]
    assert page.get("/records", follow_redirects=False).status_code == 200
    page.post("/logout", follow_redirects=False)
    page.cookies.set("leakguard_review", cookie)  # a copy kept by an attacker
    assert page.get("/records", follow_redirects=False).status_code == 303


@pytest.mark.parametrize("number", ["99999999999999999999999", "2", "0", "-1", "x"])
def test_any_page_number_is_a_page_not_a_500(page: TestClient, number: str) -> None:
    login(page)
    response = page.get(f"/records?page={number}")
    assert response.status_code == 200
    expected = "page 2 of 2" if number.isdigit() and number != "0" else "page 1 of 2"
    assert expected in response.text


# -- item 15: enough to judge a finding -------------------------------------------------


def test_the_detail_page_shows_rule_score_against_threshold_and_whole_word_context(
    tmp_path: Path,
) -> None:
    from leakguard.audit.sinks import open_sink
    from leakguard.events import ScanEvent, evidence_for
    from leakguard.findings import Action, Finding, OutcomeAction

    db = tmp_path / "audit.db"
    config = parse_config({"audit": {"sink": "sqlite", "path": str(db), "fingerprint_key": KEY}})
    text = "Configuration follows. The deploy key is AKIAIOSFODNN7EXAMPLE and it rotates weekly."
    start = text.index("AKIA")
    secret = Finding("pii", "SECRET", start, start + 20, 0.9, Action.REDACT, None, {"kind": "aws"})
    sink = open_sink(config)
    sink.emit(
        ScanEvent("middleware", "r1", OutcomeAction.REDACT, evidence_for(text, [secret]), "pv")
    )
    sink.close()
    with review_client(db, config) as client:
        login(client)
        link = re.findall(r'href="(/records/[^"]+/\d+)"', client.get("/records").text)[0]
        page = client.get(link).text
    assert '<span class="mono rule">aws</span>' in page
    assert "0.9 / 0.4" in page
    assert "(+0.50)" in page
    assert "…follows. The deploy key is &lt;SECRET&gt; and it rotates weekly." in page
    assert "AKIA" not in page


# -- item 16: filters -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("since=yesterday", "since=&#39;yesterday&#39; is not a UTC ISO date or time"),
        ("until=2026-13", "until=&#39;2026-13&#39; is not a UTC ISO date or time"),
        ("action=nuke", "must be one of pass, redact, block"),
        ("label=email", "is not a label such as EMAIL_ADDRESS"),
        ("verdict=maybe", "must be one of confirmed_leak, false_positive, unreviewed"),
    ],
)
def test_a_bad_filter_value_is_an_error_on_the_page_not_ignored(
    page: TestClient, query: str, message: str
) -> None:
    login(page)
    for path in ("/records", "/charts"):
        response = page.get(f"{path}?{query}")
        assert response.status_code == 400
        assert "Filter not applied" in response.text
        assert message in response.text
        assert 'class="record"' not in response.text


def test_the_cli_rejects_a_bad_filter_value(
    seeded: tuple[Path, LeakGuardConfig], capsys: pytest.CaptureFixture[str]
) -> None:
    db, _ = seeded
    assert main(["audit", "export", str(db), "--since", "yesterday"]) == 2
    assert "since='yesterday' is not a UTC ISO date or time" in capsys.readouterr().err


def test_labels_seen_are_offered_and_charts_take_the_filters(page: TestClient) -> None:
    login(page)
    listing = page.get("/records").text
    assert '<option value="CREDIT_CARD">' in listing
    assert '<option value="EMAIL_ADDRESS">' in listing
    charts = page.get("/charts?action=block").text
    assert 'id="filter-action"' in charts
    assert "CREDIT_CARD" in charts
    assert "EMAIL_ADDRESS" not in charts.split('id="chart-label"')[1]


def test_a_verdict_on_one_value_shows_on_every_record_with_it_and_filters_by_verdict(
    page: TestClient,
) -> None:
    login(page)
    assert "30 matching" in page.get("/records?verdict=unreviewed").text
    give_verdict(page, query="label=EMAIL_ADDRESS")  # one of 28 records with the same e-mail
    fp = page.get("/records?verdict=false_positive").text
    assert "28 matching" in fp
    assert fp.count("(same value, another record)") == 24  # 25 on the page, one its own
    assert "2 matching" in page.get("/records?verdict=unreviewed").text  # the card, the pass
    assert "0 matching" in page.get("/records?verdict=confirmed_leak").text
    give_verdict(page, "confirmed_leak", query="action=block")
    assert "1 matching" in page.get("/records?verdict=confirmed_leak").text


# -- item 17: exports with verdicts -----------------------------------------------------


def test_exports_carry_verdicts_from_the_cli_and_the_page(
    seeded: tuple[Path, LeakGuardConfig], capsys: pytest.CaptureFixture[str]
) -> None:
    db, config = seeded
    with review_client(db, config) as client:
        login(client)
        assert (
            'id="export-csv" href="/export.csv?action=block"'
            in client.get("/records?action=block").text
        )
        give_verdict(client, "confirmed_leak", query="action=block")
        from_page = client.get("/export.csv?action=block")
        assert from_page.status_code == 200
        assert from_page.headers["content-type"].startswith("text/csv")
        jsonl = client.get("/export.jsonl?action=block").text.splitlines()
    rows = list(csv.DictReader(io.StringIO(from_page.text)))
    assert [(r["label"], r["verdict"], r["verdict_by"]) for r in rows] == [
        ("CREDIT_CARD", "confirmed_leak", "finding")
    ]
    kinds = [json.loads(line)["kind"] for line in jsonl]
    assert kinds == ["event", "verdict"]
    assert main(["audit", "export", str(db), "--action", "block"]) == 0
    cli_rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert cli_rows == rows


def test_export_into_a_closed_pipe_ends_quietly(seeded: tuple[Path, LeakGuardConfig]) -> None:
    db, _ = seeded
    # The same database named 300 times: megabytes, far more than a pipe holds.
    cli = "import sys; from leakguard.cli import main; sys.exit(main())"
    many = " ".join([str(db)] * 300)
    pipeline = f"{sys.executable} -c '{cli}' audit export {many} --format jsonl | head -n 1"
    done = subprocess.run(
        ["bash", "-o", "pipefail", "-c", pipeline],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "LEAKGUARD_AUDIT_KEY": KEY},
        timeout=60,
        check=False,
    )
    assert "Traceback" not in done.stderr
    assert "BrokenPipe" not in done.stderr
    assert done.returncode == 0
    assert json.loads(done.stdout)["kind"] == "event"
