"""Training examples for DP jobs: reading, byte-level tokens, privacy units.

Pure Python (no torch): the trainer turns these values into tensors. A *privacy unit* is
what the guarantee protects: one example, or all (capped) examples of one user.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from leakguard.dp.config import DataConfig
from leakguard.exceptions import DatasetError

__all__ = [
    "BOS",
    "EOS",
    "PAD",
    "VOCAB_SIZE",
    "Example",
    "decode",
    "encode",
    "privacy_units",
    "read_examples",
]

# Byte-level tokens: 0..255 are bytes; three specials follow. No vocabulary to download.
BOS, EOS, PAD = 256, 257, 258
VOCAB_SIZE = 259


@dataclass(frozen=True, slots=True)
class Example:
    """One training example; ``user`` is set when the data names one."""

    text: str
    label: str | None = None
    user: str | None = None


def encode(text: str, *, max_length: int) -> list[int]:
    """BOS + UTF-8 bytes + EOS, cut to ``max_length`` tokens."""
    ids = [BOS, *text.encode("utf-8"), EOS]
    return ids[:max_length]


def decode(ids: Iterable[int]) -> str:
    """Bytes back to text; specials are dropped, broken UTF-8 is replaced."""
    return bytes(i for i in ids if i < 256).decode("utf-8", errors="replace")


def _format(config: DataConfig) -> str:
    if config.format != "auto":
        return config.format
    suffix = config.path.suffix.lower()
    return "jsonl" if suffix in (".jsonl", ".ndjson") else "text"


def read_examples(config: DataConfig, *, need_label: bool, need_user: bool) -> list[Example]:
    """All examples of the corpus. A bad line is an error naming file and line, never its text."""
    path = config.path
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DatasetError(str(path), 0, f"cannot read the training data: {exc.strerror}") from None
    try:
        content = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise DatasetError(str(path), line, "not valid UTF-8") from None
    lines = content.splitlines()
    if _format(config) == "text":
        if need_label or need_user:
            wanted = "labels" if need_label else "user ids"
            raise DatasetError(
                str(path), 0, f"plain text has no {wanted}: use JSON Lines with those fields"
            )
        return [Example(line) for line in lines if line.strip()]
    return [
        example
        for number, line in enumerate(lines, 1)
        if line.strip()
        for example in [_json_example(config, line, number, need_label, need_user)]
    ]


def _json_example(
    config: DataConfig, line: str, number: int, need_label: bool, need_user: bool
) -> Example:
    where = str(config.path)
    try:
        record = json.loads(line)
    except ValueError as exc:
        # JSONDecodeError's msg and colno never quote the document.
        detail = (
            f"{exc.msg} at column {exc.colno}"
            if isinstance(exc, json.JSONDecodeError)
            else type(exc).__name__
        )
        raise DatasetError(where, number, f"invalid JSON ({detail})") from None
    if not isinstance(record, dict):
        raise DatasetError(where, number, "a line must be a JSON object")
    text = record.get(config.text_field)
    if text is None:
        raise DatasetError(
            where,
            number,
            f"field {config.text_field!r} missing: set data.text_field to the field that "
            f"holds the text; this record has {_keys(record)}",
        )
    if not isinstance(text, str):
        raise DatasetError(
            where, number, f"field {config.text_field!r} must be a string (data.text_field)"
        )
    label = _field(
        record, config.label_field, where, number, required=need_label, setting="data.label_field"
    )
    user = _field(
        record,
        config.user_field,
        where,
        number,
        required=need_user,
        setting="data.user_field (or privacy.unit: example, to protect each example instead "
        "of each user)",
    )
    return Example(text, label, user)


def _keys(record: dict[str, object]) -> str:
    """The record's field names (never its values), for an error message."""
    names = sorted(str(k) for k in record)[:20]
    return "the fields: " + ", ".join(names) if names else "no fields"


def _field(
    record: dict[str, object],
    key: str,
    where: str,
    number: int,
    *,
    required: bool,
    setting: str,
) -> str | None:
    value = record.get(key)
    if value is None:
        if required:
            raise DatasetError(
                where,
                number,
                f"field {key!r} is missing: set {setting}; this record has {_keys(record)}",
            )
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise DatasetError(where, number, f"field {key!r} must be a string or an integer")
    return str(value)


def privacy_units(
    examples: Sequence[Example], *, unit: str, max_per_user: int, seed: int
) -> list[list[int]]:
    """Example indices grouped by privacy unit.

    ``unit == "example"``: one example per unit. ``unit == "user"``: one unit per user,
    holding at most ``max_per_user`` of that user's examples (a seeded random subset); the
    rest are dropped, which is what bounds a user's influence on the model.
    """
    if unit == "example":
        return [[i] for i in range(len(examples))]
    by_user: dict[str, list[int]] = {}
    for i, example in enumerate(examples):
        if example.user is None:
            raise DatasetError(
                "<data>", i + 1, "privacy unit 'user' needs a user id on every example"
            )
        by_user.setdefault(example.user, []).append(i)
    rng = random.Random(seed)
    units = []
    for user in sorted(by_user):
        indices = by_user[user]
        if len(indices) > max_per_user:
            indices = sorted(rng.sample(indices, max_per_user))
        units.append(indices)
    return units
