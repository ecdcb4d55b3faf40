"""Import paths of the 0.1 layout, kept working: ``leakguard.bloom`` is now
``leakguard.memorization.bloom``, and importing the old name gives the new module itself
(one module object, so ``isinstance`` and monkeypatching behave), with a DeprecationWarning.

Old names that are now packages (``leakguard.pii``, ``leakguard.audit``,
``leakguard.memorization``, ``leakguard.sanitize``, ``leakguard.evaluation``) need no entry:
each package exports the old module's public names itself.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import warnings
from collections.abc import Sequence
from types import ModuleType

__all__ = ["MOVED", "install"]

MOVED: dict[str, str] = {
    "leakguard.audit_db": "leakguard.audit.db",
    "leakguard.audit_report": "leakguard.audit.report",
    "leakguard.audit_sinks": "leakguard.audit.sinks",
    "leakguard.audit_verify": "leakguard.audit.verify",
    "leakguard.review": "leakguard.audit.review",
    "leakguard.bloom": "leakguard.memorization.bloom",
    "leakguard.normalize": "leakguard.memorization.normalize",
    "leakguard.ngrams": "leakguard.memorization.ngrams",
    "leakguard.index": "leakguard.memorization",
    "leakguard.pii_batch": "leakguard.pii.batch",
    "leakguard.pattern_windows": "leakguard.pii.windows",
    "leakguard.regex_gil": "leakguard.pii.regex_gil",
    "leakguard.recognizers": "leakguard.pii.recognizers",
    "leakguard.framing": "leakguard.online.framing",
    "leakguard.payloads": "leakguard.online.shapes",
    "leakguard.streaming": "leakguard.online.streaming",
    "leakguard.scan_threads": "leakguard.online.scan_threads",
    "leakguard.metrics": "leakguard.online.metrics",
    "leakguard.upstream_pool": "leakguard.online.upstream_http",
    "leakguard.sanitize_report": "leakguard.sanitize.report",
    "leakguard.pseudonyms": "leakguard.sanitize.pseudonyms",
    "leakguard.devset": "leakguard.evaluation.devset",
    "leakguard.devset_templates": "leakguard.evaluation.templates",
    "leakguard.upstream": "leakguard.testing",
    "leakguard.scale": "leakguard.executors",
    "leakguard.dp.audit": "leakguard.dp.canary_audit",
}


def _new_name(old: str) -> str | None:
    if old in MOVED:
        return MOVED[old]
    parent, _, leaf = old.rpartition(".")
    # a submodule of a moved package: leakguard.recognizers.names
    if parent in MOVED and MOVED[parent] != "leakguard.memorization":
        return f"{MOVED[parent]}.{leaf}"
    return None


class _Alias(importlib.abc.Loader):
    def __init__(self, new: str) -> None:
        self.new = new

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return None

    def exec_module(self, module: ModuleType) -> None:
        warnings.warn(
            f"{module.__name__} moved to {self.new}; import it from there "
            "(the old path goes in leakguard 0.3)",
            DeprecationWarning,
            stacklevel=2,
        )
        # The import system returns whatever sys.modules holds under the name once
        # exec_module is done: the new module itself, not a copy.
        sys.modules[module.__name__] = importlib.import_module(self.new)


class _MovedFinder(importlib.abc.MetaPathFinder):
    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if not fullname.startswith("leakguard."):
            return None
        new = _new_name(fullname)
        if new is None:
            return None
        return importlib.util.spec_from_loader(fullname, _Alias(new))


def install() -> None:
    """Put the finder on ``sys.meta_path`` once.

    First, so that ``leakguard.recognizers.names`` resolves here too: the normal finders would
    load a second copy of the module from the moved package's folder under the old name.
    It answers only for the old names, which no real module has.
    """
    if not any(isinstance(finder, _MovedFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _MovedFinder())
