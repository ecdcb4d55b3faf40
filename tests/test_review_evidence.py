"""Issue 23, item 4: the review page builds the SOC 2 evidence package for a period and
serves it for download. Through ``leakguard review`` itself (a real uvicorn server in a
subprocess, started with the artifacts the page may use) and httpx: the login and the form
token, the form's defaults and its errors on the page, the "building…" state, the zip and
each file, no planted value in any of them, and ``leakguard evidence verify`` on the
unzipped download (while the server runs and after it stopped)."""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from browser_kit import chromium, needs_chromium
from evidence_kit import cli, free_port, write_corpus
from test_review import EMAIL, KEY, PASSWORD, navigate, seed_database

from leakguard.audit.evidence.jobs import default_period
from leakguard.commands.exit_codes import EXIT_OK
from leakguard.config import parse_config

CARD = "4111 1111 1111 1111"  # seed_database's blocked card number


@dataclass(frozen=True, slots=True)
class Review:
    base: str
    db: Path
    index: Path
    proc: subprocess.Popen[bytes]


def start_review(root: Path) -> Review:
    db = root / "audit.db"
    audit = {"sink": "sqlite", "path": str(db), "fingerprint_key": KEY}
    seed_database(db, parse_config({"audit": audit}))
    config = root / "review.yaml"
    config.write_text(json.dumps({"audit": audit | {"review_password": PASSWORD}}))
    index = root / "corpus.lgx"
    corpus = write_corpus(
        root / "corpus.jsonl", [f"Note {i}: the build is green." for i in range(9)]
    )
    cli("index", "build", str(corpus), "--out", str(index))
    port = free_port()
    cmd = [
        sys.executable, "-m", "leakguard.cli", "review", "--db", str(db), "--config", str(config),
        "--port", str(port), "--index", str(index), "--evidence-config", str(config),
    ]  # fmt: skip
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(f"{base}/login")
            return Review(base, db, index, proc)
        except httpx.TransportError:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "leakguard review did not start"
            time.sleep(0.1)


def stop_review(review: Review) -> None:
    review.proc.send_signal(signal.SIGTERM)
    review.proc.wait(timeout=60)
    if review.proc.stderr:
        review.proc.stderr.close()


@pytest.fixture(scope="module")
def review(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Review]:
    started = start_review(tmp_path_factory.mktemp("review-evidence"))
    yield started
    stop_review(started)


@contextmanager
def logged_in(base: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base, timeout=60) as client:
        login = client.post("/login", data={"reviewer": "Rita Reviewer", "password": PASSWORD})
        assert login.status_code == 303
        yield client


def form_token(client: httpx.Client) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', client.get("/evidence").text)
    assert found is not None
    return found[1]


def build(client: httpx.Client, **fields: str) -> httpx.Response:
    return client.post("/evidence", data={"csrf": form_token(client), **fields})


def wait_ready(client: httpx.Client, location: str) -> str:
    deadline = time.monotonic() + 300
    while True:
        page = client.get(location).text
        state = re.search(r'id="evidence-state">(\w+)<', page)
        assert state is not None, page
        if state[1] != "building":
            assert state[1] == "ready", page
            return page
        assert 'http-equiv="refresh"' in page
        assert "Building…" in page
        assert time.monotonic() < deadline, "the package was not built in time"
        time.sleep(0.3)


def unzip(data: bytes, into: Path) -> Path:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        (folder,) = {name.split("/", 1)[0] for name in archive.namelist()}
        archive.extractall(into)
    return into / folder


def verify(package: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "LEAKGUARD_AUDIT_KEY": KEY}
    cmd = [sys.executable, "-m", "leakguard.cli", "evidence", "verify", str(package)]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, check=False)


def test_the_evidence_pages_need_a_login_and_the_form_token(review: Review) -> None:
    with httpx.Client(base_url=review.base) as anonymous:
        for path in ("/evidence", "/evidence/0123abcd", "/evidence/0123abcd/package.zip"):
            response = anonymous.get(path)
            assert (response.status_code, response.headers["location"]) == (303, "/login")
        assert anonymous.post("/evidence", data={"from": "2026-01-01"}).status_code == 303
        bearer = anonymous.get("/evidence", headers={"Authorization": "Bearer wrong-token"})
        assert bearer.status_code == 401
    with logged_in(review.base) as client:
        refused = client.post("/evidence", data={"csrf": "forged", "from": "x", "to": "y"})
        assert refused.status_code == 403
        assert "Evidence package" in client.get("/records").text  # the link in the header
        assert client.get("/evidence/0123abcd").status_code == 404
        assert client.get("/evidence/0123abcd/files/evidence.json").status_code == 404


def test_the_form_defaults_to_the_last_90_days_of_the_log_and_offers_the_start_up_inputs(
    review: Review,
) -> None:
    with logged_in(review.base) as client:
        page = client.get("/evidence").text
    today = datetime.now(UTC).date().isoformat()  # every seeded record is from today
    assert f'id="evidence-from" value="{today}"' in page
    assert f'id="evidence-to" value="{today}"' in page
    assert f"<code>{review.index}</code>" in page
    assert 'name="use:index-0" value="1" id="use-index-0" checked' in page
    assert 'name="use:config-0"' in page


def test_default_period_is_90_days_back_from_the_last_event_not_before_the_first() -> None:
    assert default_period("2026-01-05T10:00:00Z", "2026-11-29T23:59:00Z") == (
        "2026-09-01",
        "2026-11-29",
    )
    assert default_period("2026-11-20T00:00:00Z", "2026-11-29T01:00:00Z") == (
        "2026-11-20",
        "2026-11-29",
    )
    today = datetime.now(UTC).date()
    assert default_period(None, None) == (
        (today - timedelta(days=89)).isoformat(),
        today.isoformat(),
    )


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"from": "2026-13-01", "to": "2026-12-01"}, "From '2026-13-01' is not a date"),
        ({"from": "2026-11-02", "to": ""}, "To '' is not a date"),
        ({"from": "2026-11-02", "to": "2026-11-01"}, "To 2026-11-01 is before From 2026-11-02"),
        (
            {"from": "2001-01-01", "to": "2001-01-02"},
            "the log holds no records from 2001-01-01 to 2001-01-02 (its records run from ",
        ),
        ({"use:/etc/passwd": "1"}, "unknown input '/etc/passwd'"),
        ({"use:index-7": "1"}, "unknown input 'index-7'"),
        ({"sample": "-3"}, "Sample '-3' must be a whole number"),
    ],
)
def test_a_bad_form_is_a_precise_message_on_the_page(
    review: Review, fields: dict[str, str], message: str
) -> None:
    today = datetime.now(UTC).date().isoformat()
    with logged_in(review.base) as client:
        response = build(client, **({"from": today, "to": today} | fields))
    assert response.status_code == 400
    error = re.search(r'id="evidence-error">Not built: ([^<]+)<', response.text)
    assert error is not None, response.text
    assert message in error[1].replace("&#39;", "'")
    assert 'id="evidence-form"' in response.text  # the form again, to correct


def test_the_form_builds_a_package_that_downloads_and_verifies(
    review: Review, tmp_path: Path
) -> None:
    today = datetime.now(UTC).date()
    first = (today - timedelta(days=2)).isoformat()
    fields = {"from": first, "to": today.isoformat(), "sample": "5", "use:index-0": "1"}
    with logged_in(review.base) as client:
        response = build(client, **fields)
        assert response.status_code == 303
        location = response.headers["location"]
        assert re.fullmatch(r"/evidence/[0-9a-f]{16}", location)
        page = wait_ready(client, location)
        assert "30 responses guarded" in page
        listing = client.get("/evidence").text
        assert location in listing
        assert "ready" in listing

        zipped = client.get(f"{location}/package.zip")
        assert zipped.status_code == 200
        assert zipped.headers["content-type"] == "application/zip"
        assert "attachment" in zipped.headers["content-disposition"]
        package = unzip(zipped.content, tmp_path)
        assert package.name == f"leakguard-evidence-{first}_{today.isoformat()}"
        names = {p.name for p in package.iterdir()}
        assert names == {
            "evidence.json", "evidence.schema.json", "evidence.html", "EVIDENCE.md",
            "manifest.json",
        }  # fmt: skip
        for name in names:  # each file on its own is the same as in the zip
            single = client.get(f"{location}/files/{name}")
            assert single.status_code == 200
            assert single.content == (package / name).read_bytes()
            assert EMAIL not in single.text, name  # planted values: never
            assert CARD not in single.text, name
        assert client.get(f"{location}/files/..%2Faudit.db").status_code == 404
        assert client.get(f"{location}/files/audit.db").status_code == 404

    evidence = json.loads((package / "evidence.json").read_text(encoding="utf-8"))
    assert evidence["period"]["first_day"] == first
    assert evidence["operation"]["guarded"] == 30
    assert evidence["inputs"]["audit-log"] == [str(review.db)]
    assert evidence["inputs"]["index"] == [str(review.index)]
    assert evidence["inputs"]["config"] == []  # not ticked: not used
    assert [i["path"] for i in evidence["lineage"]["indexes"]] == [str(review.index)]
    assert len(evidence["sample"]["records"]) == 5
    assert evidence["integrity"]["verified"] is True
    done = verify(package)
    assert done.returncode == EXIT_OK, done.stdout + done.stderr
    assert "verified" in done.stdout
    # An edited download no longer verifies.
    html = package / "evidence.html"
    html.write_text(html.read_text(encoding="utf-8") + "<!-- edited -->", encoding="utf-8")
    assert "evidence.html was changed" in verify(package).stderr


def test_a_package_still_verifies_after_the_server_stopped_and_the_log_grew(
    tmp_path: Path,
) -> None:
    """Stopping the server seals the reviewer's stream (the database changes): the chain
    re-check shows the package's records are still there; the log's new hash is a note."""
    review = start_review(tmp_path)
    day = datetime.now(UTC).date().isoformat()
    fields = {"from": day, "to": day, "use:config-0": "1"}
    try:
        with logged_in(review.base) as client:
            location = build(client, **fields).headers["location"]
            wait_ready(client, location)
            zipped = client.get(f"{location}/package.zip").content
            package = unzip(zipped, tmp_path / "download")
    finally:
        stop_review(review)
    for file in package.iterdir():  # the review config's password is not evidence
        assert PASSWORD not in file.read_text(encoding="utf-8"), file.name
    done = verify(package)
    assert done.returncode == EXIT_OK, done.stdout + done.stderr
    assert "note: the redaction log" in done.stderr


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    yield from chromium(tmp_path / "chromium-profile", "--disable-quic")


@pytest.mark.browser
@needs_chromium
def test_a_reviewer_clicks_through_to_the_package_in_a_real_browser(
    review: Review, browser: Any
) -> None:
    """Log in, follow the header's link, build with the form's defaults, wait on the
    self-reloading "building…" page, open evidence.html."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(f"{review.base}/login")
    browser.find_element(By.ID, "reviewer").send_keys("Rita Reviewer")
    browser.find_element(By.ID, "password").send_keys(PASSWORD)
    navigate(browser, browser.find_element(By.ID, "login"))
    navigate(browser, browser.find_element(By.ID, "nav-evidence"))
    assert browser.find_element(By.ID, "use-index-0").is_selected()
    navigate(browser, browser.find_element(By.ID, "build-evidence"))
    WebDriverWait(browser, 300).until(
        lambda b: b.find_element(By.ID, "evidence-state").text != "building"
    )
    assert browser.find_element(By.ID, "evidence-state").text == "ready"
    anchor = browser.find_element(By.ID, "evidence-anchor").text
    assert anchor.startswith("sha256:")
    navigate(browser, browser.find_element(By.ID, "view-html"))
    assert browser.find_element(By.ID, "guarded").text == "30"
    assert browser.find_element(By.ID, "chain-verified").text == "yes"
    assert browser.find_element(By.ID, "anchor").text == anchor
    assert EMAIL not in browser.page_source


def test_a_build_that_fails_shows_its_reason_on_the_page(tmp_path: Path) -> None:
    """An input the server was started with that cannot be read (a config with an unknown
    key) fails the build: the state page says why; the downloads are refused (409)."""
    from starlette.testclient import TestClient

    from leakguard.audit.chain import AuditKey
    from leakguard.audit.evidence.jobs import EvidenceSources
    from leakguard.audit.review import create_app

    db = tmp_path / "audit.db"
    config = parse_config({"audit": {"sink": "sqlite", "path": str(db), "fingerprint_key": KEY}})
    seed_database(db, config)
    broken = tmp_path / "guard.yaml"
    broken.write_text("pii: {no_such_setting: 1}\n", encoding="utf-8")
    sources = EvidenceSources(audit_log=db, configs=(broken,))
    app = create_app(
        db, config=config, key=AuditKey(KEY.encode()), password=PASSWORD, evidence=sources
    )
    day = datetime.now(UTC).date().isoformat()
    with TestClient(app) as client:
        client.post("/login", data={"reviewer": "Rita", "password": PASSWORD})
        token = re.search(r'name="csrf" value="([0-9a-f]+)"', client.get("/evidence").text)
        assert token is not None
        fields = {"csrf": token[1], "from": day, "to": day, "use:config-0": "1"}
        response = client.post("/evidence", data=fields, follow_redirects=False)
        location = response.headers["location"]
        deadline = time.monotonic() + 120
        while "evidence-building" in (page := client.get(location).text):
            assert time.monotonic() < deadline
            time.sleep(0.2)
        failed = re.search(r'id="evidence-failed">([^<]+)<', page)
        assert failed is not None, page
        assert "no_such_setting" in failed[1]
        assert str(broken) in failed[1]
        assert client.get(f"{location}/package.zip").status_code == 409
