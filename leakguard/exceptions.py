"""Every error leakguard raises derives from :class:`LeakGuardError`.

Each subclass also inherits the builtin that fits, so callers may catch either.
Messages quote the bad value (never a scanned text or a detected value), say what was
expected and how to fix it.
"""

from __future__ import annotations


class LeakGuardError(Exception):
    """Root of all leakguard errors."""


class ConfigError(LeakGuardError, ValueError):
    """The configuration is invalid; the message names the key, the value and what is allowed."""


class ModelNotInstalledError(LeakGuardError, ImportError):
    """A spaCy pipeline named in the config is not installed."""

    def __init__(self, model: str, package: str | None) -> None:
        """``package`` is the pip package to suggest; ``None`` when ``model`` is a path."""
        how = (
            f"Install it with 'pip install {package}'"
            if package
            else "No pipeline directory exists at that path (relative paths are looked up in "
            "the working directory, the leakguard checkout and <prefix>/share/leakguard)"
        )
        super().__init__(
            f"spaCy pipeline {model!r} is not installed. {how} (leakguard never downloads "
            f"models at run time), or set pii.spacy_model to another installed pipeline, or "
            f"to 'none' for pattern-only detection."
        )
        self.model = model
        self.package = package


class MissingExtraError(LeakGuardError, ImportError):
    """An optional dependency group is not installed."""

    def __init__(self, feature: str, extra: str, missing: str) -> None:
        super().__init__(
            f"{feature} needs the optional dependency {missing!r}. "
            f"Install it with: pip install 'leakguard[{extra}]'"
        )
        self.feature = feature
        self.extra = extra
        self.missing = missing


class DetectorError(LeakGuardError, RuntimeError):
    """A detector failed on a text. Carries the detector name, never the text."""

    def __init__(self, detector: str, reason: str) -> None:
        super().__init__(f"detector {detector!r} failed: {reason}")
        self.detector = detector
        self.reason = reason


class DatasetError(LeakGuardError, ValueError):
    """An evaluation data set line is malformed. Carries file and line number, never the text."""

    def __init__(self, path: str, line: int, reason: str) -> None:
        super().__init__(f"{path}:{line}: {reason}")
        self.path = path
        self.line = line
        self.reason = reason


class CorpusError(LeakGuardError, ValueError):
    """A corpus input cannot be used (missing path, bad option). Never quotes corpus text."""


class FramingError(LeakGuardError, ValueError):
    """A response body cannot be decoded (bad frame, invalid UTF-8, over-size, bad
    compression). Carries what went wrong and where (byte offsets), never body text."""

    def __init__(self, reason: str, *, kind: str = "malformed") -> None:
        super().__init__(reason)
        self.reason = reason
        self.kind = kind  # malformed | oversize | encoding: a metrics/audit reason, no text


class IncompatibleModelError(LeakGuardError, ValueError):
    """A model has layers DP training cannot handle. Carries the layer names and why."""

    def __init__(self, problems: list[str]) -> None:
        listed = "; ".join(problems)
        super().__init__(
            f"the model cannot be trained with differential privacy: {listed}. Replace those "
            f"layers (e.g. BatchNorm with GroupNorm; opacus.validators.ModuleValidator.fix "
            f"does it for common cases) or freeze them"
        )
        self.problems = problems


class TrainingError(LeakGuardError, RuntimeError):
    """A DP training run cannot go on (a checkpoint from another job, adapters that never moved)."""


class AuditLogError(LeakGuardError, ValueError):
    """A redaction log cannot be read, written or verified. Names the path, never a value."""


class IndexFormatError(LeakGuardError, ValueError):
    """An index file is missing, damaged or of an unknown format."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"index {path!r}: {reason}")
        self.path = path
        self.reason = reason


class IndexMismatchError(LeakGuardError, ValueError):
    """An index was built with other parameters than the config asks for."""

    def __init__(
        self,
        path: str,
        key: str,
        built: object,
        wanted: object,
        *,
        rebuild: str,
        setting: str | None = None,
        wanted_by: str = "the config",
    ) -> None:
        fix = f" or set {setting}: {built}" if setting else ""
        super().__init__(
            f"Index {path!r} was built with {key}={built}, but {wanted_by} asks for "
            f"{key}={wanted}. Rebuild it with {rebuild!r}{fix}."
        )
        self.path = path
        self.key = key
        self.built = built
        self.wanted = wanted


class ScanTimedOut(LeakGuardError, TimeoutError):
    """A scan did not finish within its time-out (``online.scan_timeout_s``); it was
    abandoned to its worker thread and the response gets ``online.on_failure``."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C (SIGINT) or SIGTERM stopped a command. Work it finished is kept; ``detail``
    says what, and how to go on (e.g. "rerun the same command to resume")."""

    def __init__(self, signal_name: str = "SIGINT", detail: str = "") -> None:
        super().__init__(detail or signal_name)
        self.signal_name = signal_name
        self.detail = detail
