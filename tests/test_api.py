from __future__ import annotations

import subprocess
import sys

import leakguard


def test_public_api_is_curated() -> None:
    assert sorted(leakguard.__all__) == [
        "Action",
        "ConfigError",
        "Detector",
        "DetectorError",
        "Finding",
        "Guard",
        "LeakGuardConfig",
        "LeakGuardError",
        "LeakGuardMiddleware",
        "MissingExtraError",
        "ModelNotInstalledError",
        "Numbering",
        "Outcome",
        "OutcomeAction",
        "PIIConfig",
        "PolicyConfig",
        "__version__",
        "load_config",
        "scan",
    ]
    for name in leakguard.__all__:
        assert hasattr(leakguard, name)
    from leakguard.middleware import LeakGuardMiddleware

    assert leakguard.LeakGuardMiddleware is LeakGuardMiddleware


def test_importing_leakguard_loads_no_models_or_heavy_extras() -> None:
    code = (
        "import sys, leakguard; "
        "heavy = [m for m in ('spacy', 'presidio_analyzer', 'torch', 'opacus', 'dask', "
        "'anyio', 'leakguard.middleware') "
        "if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_module_level_scan_reuses_one_guard_per_config() -> None:
    first = leakguard.scan("mail jane@corp.io")
    assert first.text == "mail <EMAIL_ADDRESS>"
    from leakguard import guard as guard_module

    count = len(guard_module._GUARDS)
    leakguard.scan("mail bob@corp.io")
    assert len(guard_module._GUARDS) == count
