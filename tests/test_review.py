"""The review app: over HTTP (login, filters, verdicts, charts, allow-list) and in a real
headless browser (log in, filter, open a record, mark a false positive, reload)."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
import yaml
from browser_kit import chromium, needs_chromium
from starlette.testclient import TestClient

from leakguard.audit.chain import AuditKey
from leakguard.audit.review import create_app
from leakguard.audit.sinks import open_sink
from leakguard.audit.verify import verify
from leakguard.config import LeakGuardConfig, parse_config
from leakguard.events import ScanEvent, evidence_for
from leakguard.findings import Action, Finding, OutcomeAction

KEY = "review-test-key-0123456789abcdef"
PASSWORD = "correct horse battery"
EMAIL = "ana.silva@corp.example"


def seed_database(db: Path, config: LeakGuardConfig) -> None:
    """30 records: e-mail redactions on two routes, a blocked card, a clean pass."""
    sink = open_sink(config)
    text = f"Write to {EMAIL} please."
    email = Finding("pii", "EMAIL_ADDRESS", 9, 9 + len(EMAIL), 0.95, Action.REDACT)
    for i in range(28):
        route = "/v1/chat/completions" if i % 2 else "/v1/completions"
        sink.emit(
            ScanEvent(
                "middleware", f"req-{i}", OutcomeAction.REDACT, evidence_for(text, [email]), "pv",
                route=route, model="m1",
            )
        )  # fmt: skip
    card_text = "card 4111 1111 1111 1111"
    card = Finding("pii", "CREDIT_CARD", 5, 24, 1.0, Action.BLOCK)
    sink.emit(
        ScanEvent(
            "middleware", "req-card", OutcomeAction.BLOCK, evidence_for(card_text, [card]), "pv",
            reason="action:CREDIT_CARD", route="/v1/chat/completions", model="m2",
        )
    )  # fmt: skip
    sink.emit(ScanEvent("middleware", "req-clean", OutcomeAction.PASS, (), "pv"))
    sink.close()


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[TestClient, Path, LeakGuardConfig]]:
    db = tmp_path / "audit.db"
    config = parse_config({"audit": {"sink": "sqlite", "path": str(db), "fingerprint_key": KEY}})
    seed_database(db, config)
    app = create_app(db, config=config, key=AuditKey(KEY.encode()), password=PASSWORD)
    with TestClient(app) as client:
        yield client, db, config


def login(client: TestClient, password: str = PASSWORD) -> int:
    response = client.post(
        "/login", data={"reviewer": "Rita Revíewer", "password": password}, follow_redirects=False
    )
    return response.status_code


def test_every_page_needs_a_login_and_a_wrong_password_is_refused(
    setup: tuple[TestClient, Path, LeakGuardConfig],
) -> None:
    client, _, _ = setup
    for path in ("/records", "/charts", "/allowlist.yaml", "/records/x/1"):
        response = client.get(path, follow_redirects=False)
        assert (response.status_code, response.headers["location"]) == (303, "/login")
    assert login(client, "wrong") == 401
    assert login(client) == 303
    page = client.get("/records")
    assert page.status_code == 200
    assert page.headers["x-frame-options"] == "DENY"
    assert "no-store" in page.headers["cache-control"]


def test_repeated_wrong_passwords_are_throttled(
    setup: tuple[TestClient, Path, LeakGuardConfig],
) -> None:
    client, _, _ = setup
    assert [login(client, f"guess-{i}") for i in range(10)] == [401] * 10
    assert login(client) == 429


def test_a_forged_or_tampered_session_cookie_is_not_a_login(
    setup: tuple[TestClient, Path, LeakGuardConfig],
) -> None:
    client, _, _ = setup
    login(client)
    cookie = client.cookies["leakguard_review"]
    client.cookies.clear()
    client.cookies.set("leakguard_review", cookie)
    assert client.get("/records", follow_redirects=False).status_code == 200
    client.cookies.clear()
    client.cookies.set("leakguard_review", cookie[:-1] + ("0" if cookie[-1] != "0" else "1"))
    assert client.get("/records", follow_redirects=False).status_code == 303


def test_a_bearer_token_works_without_a_session(
    setup: tuple[TestClient, Path, LeakGuardConfig],
) -> None:
    client, _, _ = setup
    response = client.get("/records", headers={"Authorization": f"Bearer {PASSWORD}"})
    assert response.status_code == 200


def test_filters_and_pages_narrow_the_table(
    setup: tuple[TestClient, Path, LeakGuardConfig],
) -> None:
    client, _, _ = setup
    login(client)
    first = client.get("/records").text
    assert "30 matching" in first
    assert first.count('class="record"') == 25
    assert client.get("/records?page=2").text.count('class="record"') == 5
    blocked = client.get("/records?action=block").text
    assert "1 matching" in blocked
    assert 'data-request-id="req-card"' in blocked
    routed = client.get("/records?label=EMAIL_ADDRESS&route=/v1/chat/completions").text
    assert "14 matching" in routed


def test_a_verdict_is_stored_as_a_chained_record_and_shown(
    setup: tuple[TestClient, Path, LeakGuardConfig],
) -> None:
    client, db, _ = setup
    login(client)
    detail = client.get("/records?action=block").text
    (link,) = re.findall(r'href="(/records/[^"]+/\d+)"', detail)
    page = client.get(link).text
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
    assert csrf is not None
    refused = client.post(link, data={"verdict": "false_positive", "csrf": "forged"})
    assert refused.status_code == 403
    response = client.post(
        link,
        data={"verdict": "false_positive", "comment": "test card", "finding": "0", "csrf": csrf[1]},
    )
    assert response.status_code == 200
    assert "false positive" in response.text
    assert "Rita Revíewer" in response.text
    assert "false positive" in client.get("/records?action=block").text
    snippet = yaml.safe_load(client.get("/allowlist.yaml").text)
    card_fp = AuditKey(KEY.encode()).fingerprint("CREDIT_CARD", "4111 1111 1111 1111")
    assert snippet == {"pii": {"allow_fingerprints": [card_fp]}}
    client.__exit__(None, None, None)  # lifespan end seals the reviewer's stream
    report = verify([db], key=AuditKey(KEY.encode()))
    assert report.ok, report.problems
    assert sum(s.records for s in report.streams) == 31


def test_pages_hold_no_raw_value_and_charts_count_findings(
    setup: tuple[TestClient, Path, LeakGuardConfig],
) -> None:
    client, _, _ = setup
    login(client)
    pages = [client.get("/records").text, client.get("/charts").text]
    pages += [
        client.get(link).text for link in re.findall(r'href="(/records/[^"?]+/\d+)"', pages[0])
    ]
    for page in pages:
        assert EMAIL not in page
        assert "4111 1111 1111 1111" not in page
    charts = pages[1]
    assert re.search(r"<td[^>]*>EMAIL_ADDRESS</td><td[^>]*>28</td>", charts)
    assert re.search(r"<td[^>]*>CREDIT_CARD</td><td[^>]*>1</td>", charts)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    db = tmp_path / "audit.db"
    config = parse_config({"audit": {"sink": "sqlite", "path": str(db), "fingerprint_key": KEY}})
    seed_database(db, config)
    app = create_app(db, config=config, key=AuditKey(KEY.encode()), password=PASSWORD)
    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(10)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    yield from chromium(tmp_path / "chromium-profile", "--disable-quic")


def navigate(browser: Any, element: Any) -> None:
    """Click something that loads a new page, and wait until the old one is gone."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    old = browser.find_element(By.TAG_NAME, "html")
    element.click()
    WebDriverWait(browser, 20).until(expected_conditions.staleness_of(old))


@pytest.mark.browser
@needs_chromium
def test_a_reviewer_marks_a_false_positive_and_it_persists_after_reload(
    server: str, browser: Any
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    browser.get(f"{server}/records")
    assert browser.current_url.endswith("/login")
    browser.find_element(By.ID, "reviewer").send_keys("Rita Reviewer")
    browser.find_element(By.ID, "password").send_keys(PASSWORD)
    navigate(browser, browser.find_element(By.ID, "login"))
    assert "30 matching" in browser.find_element(By.ID, "total").text

    Select(browser.find_element(By.ID, "filter-action")).select_by_value("block")
    navigate(browser, browser.find_element(By.ID, "apply"))
    assert browser.find_element(By.ID, "total").text == "1 matching"
    rows = browser.find_elements(By.CSS_SELECTOR, "tr.record")
    assert [r.get_attribute("data-request-id") for r in rows] == ["req-card"]

    navigate(browser, rows[0].find_element(By.CSS_SELECTOR, "a.open"))
    assert "CREDIT_CARD" in browser.find_element(By.ID, "findings").text
    assert "4111" not in browser.page_source
    browser.find_element(By.ID, "verdict-false_positive").click()
    browser.find_element(By.ID, "comment").send_keys("test card number from QA")
    navigate(browser, browser.find_element(By.ID, "submit-verdict"))

    browser.refresh()
    verdicts = browser.find_elements(By.CSS_SELECTOR, "#verdicts li.verdict")
    assert len(verdicts) == 1
    assert "false positive" in verdicts[0].text
    assert "Rita Reviewer" in verdicts[0].text
    assert "test card number from QA" in verdicts[0].text

    browser.get(f"{server}/records?action=block")
    assert browser.find_element(By.CSS_SELECTOR, "td.verdict").text == "false positive"
