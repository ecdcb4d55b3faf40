"""leakguard's own Presidio recognizers, one module per kind of value.

Importing this package is cheap; :func:`builtin_recognizers` imports Presidio.
"""

from __future__ import annotations

from typing import Any

__all__ = ["KIND_KEY", "builtin_recognizers"]

# Key in a Presidio result's recognition_metadata: which rule of a recognizer matched
# (e.g. "aws_access_key"); copied into Finding.details["kind"].
KIND_KEY = "leakguard_kind"


def builtin_recognizers(language: str) -> list[Any]:
    """Fresh instances of every leakguard recognizer for ``language``."""
    from leakguard.pii.recognizers.address import LeakGuardAddressRecognizer
    from leakguard.pii.recognizers.cards import LeakGuardCardRecognizer
    from leakguard.pii.recognizers.licence import LeakGuardLicenceRecognizer
    from leakguard.pii.recognizers.names import LeakGuardNameCueRecognizer
    from leakguard.pii.recognizers.nhs import LeakGuardNhsRecognizer
    from leakguard.pii.recognizers.phone import LeakGuardPhoneRecognizer
    from leakguard.pii.recognizers.secrets import LeakGuardSecretRecognizer

    classes = (
        LeakGuardAddressRecognizer,
        LeakGuardCardRecognizer,
        LeakGuardLicenceRecognizer,
        LeakGuardNameCueRecognizer,
        LeakGuardNhsRecognizer,
        LeakGuardPhoneRecognizer,
        LeakGuardSecretRecognizer,
    )
    return [cls(supported_language=language) for cls in classes]
