"""evidence.html in a real headless Chromium: it opens with nothing fetched from anywhere,
shows the figures, is screenshotted, and prints to PDF (Chrome's own print-to-PDF)."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_kit import chromium, needs_chromium
from evidence_kit import KEY, synthetic_log

from leakguard.audit.chain import AuditKey
from leakguard.audit.evidence import EvidenceInputs, build_evidence, parse_period


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    yield from chromium(tmp_path / "chromium-profile", "--window-size=1200,1600")


@pytest.mark.browser
@needs_chromium
def test_evidence_html_opens_offline_shows_the_figures_and_prints_to_pdf(
    tmp_path: Path, browser: Any
) -> None:
    from selenium.webdriver.common.by import By

    log = tmp_path / "log"
    synthetic_log(log, records=600, days=3, streams=2)
    result = build_evidence(
        EvidenceInputs(audit_logs=(log,)),
        period=parse_period("2026-09-01", "2026-09-03"),
        out=tmp_path / "package",
        key=AuditKey(KEY.encode()),
    )
    html = tmp_path / "package" / "evidence.html"
    text = html.read_text(encoding="utf-8")
    assert "http://" not in text.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in text
    assert "<script" not in text
    browser.get(html.as_uri())
    assert browser.find_element(By.ID, "guarded").text == "600"
    assert browser.find_element(By.ID, "chain-verified").text == "yes"
    anchor = result.evidence["integrity"]["anchor"]["digest"]
    assert browser.find_element(By.ID, "anchor").text == anchor
    charts = browser.find_elements(By.CSS_SELECTOR, "svg.chart")
    assert len(charts) == 2
    bars = browser.find_elements(By.CSS_SELECTOR, "svg.chart rect")
    assert len(bars) >= 3 * 2  # three days, pass and redact each
    # Only the page itself was loaded: no image, font or style from anywhere else.
    loaded = browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
    )
    assert loaded == []
    shot = tmp_path / "evidence.png"
    assert browser.save_screenshot(str(shot))
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 10_000  # a rendered page, not a blank one
    pdf = base64.b64decode(
        browser.execute_cdp_cmd("Page.printToPDF", {"printBackground": True})["data"]
    )
    assert pdf[:5] == b"%PDF-"
    assert pdf.count(b"/Type /Page") - pdf.count(b"/Type /Pages") >= 2
