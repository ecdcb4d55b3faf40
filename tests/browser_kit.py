"""A real headless Chromium for the browser tests (Debian `chromium` + `chromium-driver`;
`.ci/run` installs both, `LEAKGUARD_CHROMIUM` / `LEAKGUARD_CHROMEDRIVER` point elsewhere).
Without them the tests are skipped, unless `LEAKGUARD_REQUIRE_BROWSER=1` (CI) makes that a
failure."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("LEAKGUARD_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("LEAKGUARD_CHROMEDRIVER", "/usr/bin/chromedriver")

needs_chromium = pytest.mark.skipif(
    not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER))
    and os.environ.get("LEAKGUARD_REQUIRE_BROWSER") != "1",
    reason="needs Debian chromium and chromium-driver (.ci/run installs them)",
)

_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)


def chromium(profile: Path, *extra: str) -> Iterator[Any]:
    """A headless Chromium driver with its own profile in ``profile``, quit afterwards."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*_FLAGS, *extra, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()
