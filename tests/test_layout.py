"""The 0.2 layout: old import paths keep working, the tree keeps its shape."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from leakguard._moved import MOVED

PACKAGE = Path(__file__).resolve().parent.parent / "leakguard"


@pytest.mark.parametrize(("old", "new"), sorted(MOVED.items()))
def test_an_old_import_path_gives_the_moved_module_with_a_deprecation_warning(
    old: str, new: str
) -> None:
    """Run in a fresh interpreter: this one may have imported the old name already."""
    code = (
        "import importlib, warnings\n"
        "warnings.simplefilter('error')\n"
        f"new = importlib.import_module({new!r})\n"
        "try:\n"
        f"    importlib.import_module({old!r})\n"
        "except DeprecationWarning as warning:\n"
        "    print(warning)\n"
        "warnings.simplefilter('ignore')\n"
        f"print(importlib.import_module({old!r}) is new)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    warning, same = out.stdout.strip().splitlines()
    assert warning.startswith(f"{old} moved to {new};")
    assert same == "True"


def test_a_submodule_of_a_moved_package_keeps_its_old_path() -> None:
    code = (
        "import importlib, sys, warnings\n"
        "warnings.simplefilter('ignore')\n"
        "old = importlib.import_module('leakguard.recognizers.names')\n"
        "new = importlib.import_module('leakguard.pii.recognizers.names')\n"
        "print(old is new, sum(m.endswith('recognizers.names') for m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "2"]  # one module object under both names


@pytest.mark.parametrize(
    ("package", "name", "module"),
    [
        ("leakguard.pii", "PIIDetector", "leakguard.pii.detector"),
        ("leakguard.memorization", "MemorizationDetector", "leakguard.memorization.detector"),
        ("leakguard.memorization", "open_index", "leakguard.memorization.index"),
        ("leakguard.memorization", "build_partial", "leakguard.memorization.build"),
        ("leakguard.audit", "AuditKey", "leakguard.audit.chain"),
        ("leakguard.audit", "record_from_event", "leakguard.audit.records"),
        ("leakguard.sanitize", "sanitize_corpus", "leakguard.sanitize.run"),
        ("leakguard.evaluation", "evaluate", "leakguard.evaluation.scoring"),
    ],
)
def test_a_package_that_replaced_a_module_exports_the_old_modules_names(
    package: str, name: str, module: str
) -> None:
    assert getattr(importlib.import_module(package), name) is getattr(
        importlib.import_module(module), name
    )


def test_the_documented_import_paths_stay_put() -> None:
    from leakguard.config import load_config
    from leakguard.middleware import LeakGuardMiddleware
    from leakguard.proxy import build_app
    from leakguard.testing import fake_upstream

    assert all(callable(x) for x in (load_config, LeakGuardMiddleware, build_app, fake_upstream))


def test_the_package_top_level_stays_small() -> None:
    modules = list(PACKAGE.glob("*.py"))
    assert len(modules) <= 20, sorted(p.name for p in modules)


def test_the_online_memorization_detector_does_not_import_the_index_builder() -> None:
    code = (
        "import sys, leakguard.memorization.detector; "
        "print('leakguard.memorization.build' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_commands_take_their_exit_codes_not_the_cli() -> None:
    for path in (PACKAGE / "commands").glob("*.py"):
        tree = ast.parse(path.read_text())
        imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert "leakguard.cli" not in imported, path.name
