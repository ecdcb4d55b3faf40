"""Secrets and credentials (label ``SECRET``): private keys, cloud and SaaS tokens, JWTs,
passwords in URLs and connection strings, high-entropy values after ``key=`` / ``token:``.

Near misses stay clean: UUIDs, git SHAs and other hex digests, versions, timestamps and
base64 images are never flagged on their own (hex only counts after a credential key).
"""

from __future__ import annotations

import math
import re
from collections import Counter

from leakguard.pii.recognizers.base import CaselessWords, Recognizer

# Vendor formats: prefix + charset + length make them certain on their own. Each comes with
# the literals one of which any match contains: a substring test (C speed) skips the regex
# pass over a text that cannot match, which most texts are.
_TOKENS: tuple[tuple[str, tuple[str, ...], re.Pattern[str]], ...] = tuple(
    (kind, needles, re.compile(pattern))
    for kind, needles, pattern in (
        ("private_key", ("-----BEGIN ",),
                        r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----[\s\S]*?"
                        r"(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|\Z)"),
        ("aws_access_key", ("AKIA", "ASIA", "ABIA", "ACCA"),
                           r"\b(?:AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}\b"),
        ("github_token", ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
                         r"\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})\b"),
        ("gitlab_token", ("glpat-",), r"\bglpat-[A-Za-z0-9_-]{20,}\b"),
        ("slack_token", ("xox",), r"\bxox[abposr]-[A-Za-z0-9-]{10,}\b"),
        ("slack_webhook", ("https://hooks.slack.com/services/",),
                          r"https://hooks\.slack\.com/services/[A-Za-z0-9/]{20,}"),
        ("stripe_key", ("k_live_", "k_test_"), r"\b[sr]k_(?:live|test)_[A-Za-z0-9]{16,}\b"),
        ("google_api_key", ("AIza",), r"\bAIza[0-9A-Za-z_-]{35}\b"),
        ("openai_key", ("sk-",), r"\bsk-(?:proj-|svcacct-|ant-)?[A-Za-z0-9_-]{32,}\b"),
        ("npm_token", ("npm_",), r"\bnpm_[A-Za-z0-9]{36}\b"),
        ("sendgrid_key", ("SG.",), r"\bSG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}\b"),
        ("jwt", ("eyJ",), r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,}"),
    )
)  # fmt: skip

# Every vendor token but a private key is a run of 15 non-space characters or more.
_SHORTEST_TOKEN = 15

# scheme://user:PASSWORD@host — only the password is flagged.
_URL_PASSWORD = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]{1,20}://[^\s:/@]{1,64}:([^\s@/]{3,128})@")

# key = value / key: value / "key": "value"; the value group is judged below.
_KEY = (
    r"(?:pass(?:word|wd|phrase)?|pwd|secret|client[_-]?secret|[a-z_]*token|api[ _-]?key|apikey"
    r"|access[ _-]?key(?:[_-]?id)?|secret[ _-]?(?:access[_-]?)?key|private[ _-]?key|auth"
    r"|credentials?|x-api-key|signing[ _-]?key|encryption[ _-]?key|session[ _-]?key|jwt"
    r"|(?:stripe|aws|slack|github|gitlab|openai|google|azure|twilio|sendgrid|licen[cs]e)[ _-]key"
    r"|key)"
)
# A key always contains one of these words: the cheap test before _KEY_VALUE runs (case
# folds exactly as in _KEY_VALUE's (?i): see CaselessWords).
_KEY_HINT = CaselessWords("pass", "pwd", "secret", "token", "key", "auth", "credential", "jwt")
# "password for jane@corp.io is ...": one word may name what the credential is for.
_KEY_VALUE = re.compile(
    rf"(?i)(?<![A-Za-z0-9])(?:[A-Za-z0-9]+[_-])*{_KEY}(?:[ \t]+(?:for|of|to)[ \t]+\S{{1,64}}?)?"
    r"[\"']?\s*(?::|=|=>|\bis\b|\bwas (?:re)?set to\b)"
    r"\s*[\"'`]?([^\s\"'`,;<>{}()\[\]]{6,200})"
)
_BARE_KEY = re.compile(r"(?i)[\"']?\s*key[\"']?\s*(?::|=|=>)\s*[\"'`]?")
_BEARER = re.compile(r"(?i)\b(?:bearer|token)\s+([A-Za-z0-9._~+/-]{20,}=*)")
_BEARER_HINT = CaselessWords("bearer", "token")
# A lone random-looking string: long, mixed case and digits, high entropy, not hex.
_CANDIDATE = re.compile(r"(?<![A-Za-z0-9+/=_.-])[A-Za-z0-9+/_-]{32,200}={0,2}(?![A-Za-z0-9+/=_-])")
_HEX = re.compile(r"[0-9a-fA-F-]+")
_PLACEHOLDER = re.compile(
    r"(?i)^(?:x+|\*+|\.+|true|false|null|none|required|optional|changeme|example\w*|your[_-]\w*"
    r"|<.*>|\$.*|%.*|\{.*\}|string|secret|password|token|redacted|hidden|\w+_here)$"
)
# An all-caps metavariable, the man-page convention for "put yours here":
# --forward-ssh-password=FORWARD_SSH_PASSWORD, --token=API-TOKEN.
_METAVARIABLE = re.compile(r"[A-Z]+(?:[_-][A-Z]+)+")
# A resource name, not a token: "/"-separated words and numbers
# ("projects/12345/approvalRequests/abc123", "organizations/123/...CustomModules/123456"),
# or a command-line option ("--location=LOCATION" after "CREDENTIAL :").
_RESOURCE_PATH = re.compile(
    r"(?:[A-Za-z]+|\d+|[a-z][a-z0-9-]*)(?:/(?:[A-Za-z]+|\d+|[a-z][a-z0-9-]*))+"
)
_OPTION = re.compile(r"--?[a-z][\w-]*(?:=.*)?")


def entropy(value: str) -> float:
    """Shannon entropy in bits per character."""
    counts = Counter(value)
    return -sum(c / len(value) * math.log2(c / len(value)) for c in counts.values())


def _classes(value: str) -> int:
    return sum(
        (
            any(c.islower() for c in value),
            any(c.isupper() for c in value),
            any(c.isdigit() for c in value),
            any(not c.isalnum() for c in value),
        )
    )


def plausible_value(value: str, *, password: bool) -> bool:
    """Is the value after a credential key a real secret (not a placeholder or a word)?"""
    value = value.rstrip(".!?:")
    if len(value) < 6 or _PLACEHOLDER.match(value) or _METAVARIABLE.fullmatch(value):
        return False
    if _RESOURCE_PATH.fullmatch(value.rstrip("\\/")) or _OPTION.fullmatch(value):
        return False
    if password:
        return _classes(value) >= 2
    return (len(value) >= 16 and _classes(value) >= 2) or (_classes(value) >= 3 and len(value) >= 8)


def random_looking(value: str, *, min_digits: int = 3) -> bool:
    """A token that is hard to explain as anything but a secret. Hex alone does not count
    (digests, SHAs, UUIDs) unless a credential key names it (``min_digits=1`` callers)."""
    core = value.rstrip("=")
    if _HEX.fullmatch(core):
        return min_digits < 3 and len(core) >= 20 and entropy(core) >= 3.0
    has = (any(c.islower() for c in core), any(c.isupper() for c in core))
    digits = sum(c.isdigit() for c in core)
    return all(has) and digits >= min_digits and entropy(core) >= 4.2


class LeakGuardSecretRecognizer(Recognizer):
    """Credentials of many kinds; ``kind`` says which rule matched."""

    ENTITY = "SECRET"
    CONTEXT = ("key", "token", "secret", "password", "credential", "api", "bearer", "auth")

    def find(self, text: str) -> list[tuple[int, int, float, str]]:
        found: list[tuple[int, int, float, str]] = []
        # Vendor tokens, bearer tokens and lone random strings are runs without whitespace
        # of 15, 20 and 32 characters at least: a text whose words are all shorter (most
        # prose) skips their searches.
        longest = max(map(len, text.split()), default=0)
        for kind, needles, pattern in _TOKENS:
            if (longest >= _SHORTEST_TOKEN or kind == "private_key") and any(
                needle in text for needle in needles
            ):
                found += [(m.start(), m.end(), 0.95, kind) for m in pattern.finditer(text)]
        if "://" in text:
            for m in _URL_PASSWORD.finditer(text):
                found.append((m.start(1), m.end(1), 0.9, "url_password"))
        # Every credential key names one of these words (see _KEY); most texts name none.
        for m in _KEY_VALUE.finditer(text) if _KEY_HINT.found_in(text) else ():
            value = m.group(1).rstrip(".!?:")
            key = m.group(0)[: m.start(1) - m.start(0)].lower()
            password = "pass" in key or "pwd" in key
            # A bare "key:" is common in configs ("key: my-service"): only random values.
            if _BARE_KEY.fullmatch(key) and not random_looking(value, min_digits=1):
                continue
            if plausible_value(value, password=password):
                found.append((m.start(1), m.start(1) + len(value), 0.8, "key_value"))
        hinted = longest >= 20 and _BEARER_HINT.found_in(text)
        for m in _BEARER.finditer(text) if hinted else ():
            found.append((m.start(1), m.end(1), 0.85, "bearer"))
        for m in _CANDIDATE.finditer(text) if longest >= 32 else ():
            if _RESOURCE_PATH.fullmatch(m.group(0).rstrip("/")):
                continue
            if random_looking(m.group(0)) and not _inside_data_uri(text, m.start()):
                found.append((m.start(), m.end(), 0.6, "high_entropy"))
        return found


def _inside_data_uri(text: str, start: int) -> bool:
    """Is the token at ``start`` the payload of a ``data:...;base64,`` URI (an image)?"""
    window = text[max(0, start - 64) : start]
    return bool(re.search(r"data:[\w/+.-]+;base64,$", window))
