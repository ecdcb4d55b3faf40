"""Issue 18.4: the installed packages satisfy the pins pyproject.toml declares, and the
lowest allowed versions of the pinned libraries still pass a smoke subset (opt-in)."""

from __future__ import annotations

import importlib.metadata
import os
import re
import subprocess
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
RUNTIME = [Requirement(line) for line in PROJECT["dependencies"]]
DP = [Requirement(line) for line in PROJECT["optional-dependencies"]["dp"]]


def _applies(req: Requirement) -> bool:
    return req.marker is None or req.marker.evaluate()


@pytest.mark.parametrize("req", [r for r in RUNTIME + DP if _applies(r)], ids=str)
def test_installed_version_satisfies_the_declared_pin(req: Requirement) -> None:
    try:
        installed = importlib.metadata.version(req.name)
    except importlib.metadata.PackageNotFoundError:
        pytest.fail(f"{req.name} is declared ({req}) but not installed")
    assert req.specifier.contains(installed, prereleases=True), f"{req.name} {installed} vs {req}"


@pytest.mark.parametrize(
    ("name", "pin"),
    [
        ("presidio-analyzer", ">=2.2.366,<2.3"),
        ("opacus", ">=1.6,<1.7"),
        ("anyio", None),
        ("tldextract", None),
        ("phonenumbers", None),
    ],
)
def test_directly_used_libraries_are_declared_with_bounds(name: str, pin: str | None) -> None:
    found = [r for r in RUNTIME + DP if r.name == name]
    assert found, f"{name} is imported by leakguard but not declared"
    spec = str(found[0].specifier)
    if pin is not None:
        assert set(spec.split(",")) == set(pin.split(","))
    assert "<" in spec
    assert ">=" in spec


def test_httpx_has_an_upper_bound() -> None:
    (httpx,) = [r for r in RUNTIME if r.name == "httpx"]
    assert any(s.operator == "<" for s in httpx.specifier)


def test_every_third_party_import_of_the_package_is_declared() -> None:
    declared = {r.name.lower().replace("_", "-") for r in RUNTIME}
    for extra in PROJECT["optional-dependencies"].values():
        declared |= {Requirement(x).name.lower().replace("_", "-") for x in extra}
    names = {"presidio_analyzer": "presidio-analyzer"}
    seen: set[str] = set()
    pattern = re.compile(r"^\s*(?:from|import)\s+([A-Za-z_][\w]*)", re.MULTILINE)
    for path in (ROOT / "leakguard").rglob("*.py"):
        seen |= set(pattern.findall(path.read_text(encoding="utf-8")))
    for module in ("anyio", "tldextract", "phonenumbers", "httpx", "presidio_analyzer"):
        if module in seen:
            assert names.get(module, module).replace("_", "-") in declared, module


@pytest.mark.heavy
@pytest.mark.skipif(
    os.environ.get("LEAKGUARD_LOWEST_DEPS") != "1",
    reason="installs the lowest allowed versions into a temp venv: set LEAKGUARD_LOWEST_DEPS=1",
)
def test_lowest_allowed_versions_pass_the_smoke_subset() -> None:
    done = subprocess.run([str(ROOT / "scripts" / "lowest-deps")], cwd=ROOT, check=False)
    assert done.returncode == 0
