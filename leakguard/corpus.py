"""Read a training corpus as a stream of records, cut into deterministic shards.

Used by the index builder (``leakguard index build``) and the corpus sanitizer. Both call
:func:`plan_shards` once, then :func:`read_shard` per shard, in any process: a
:class:`Shard` is a small frozen, picklable value (no open handles), so it travels to
worker processes and Dask workers unchanged.

Inputs and formats
------------------
* A **directory** is walked recursively in sorted order; names starting with ``.`` (files
  or directories) are skipped, everything else is read.
* ``*.jsonl`` / ``*.ndjson``: **JSON Lines**, one record per non-blank line; the text is the
  string in ``field`` (default ``text``). The parsed object is kept on the record so other
  fields can be written back untouched.
* Any other file is **text**: one record per file. A text file larger than
  ``max_record_bytes`` is cut into several records at line breaks (a blank line when there
  is one), numbered by :attr:`Record.part`; they follow each other in the same shard, so a
  reader that concatenates the texts of one source gets the file back.
* A ``.gz`` suffix on any of these means gzip (``notes.txt.gz``, ``data.jsonl.gz``).

Sharding
--------
An uncompressed file larger than ``target_shard_bytes`` is cut into byte ranges at line
breaks; anything else (gzip files, small files) is one shard. Shard ids are stable hashes of
the path, size, modification time, format, field and range: the same inputs give the same
shards, and a changed file gives new ids (a resumed run redoes it).

Bad input loses nothing
-----------------------
Records that cannot be read are yielded as rejects (``text is None``, ``reject`` says why,
``raw`` holds the bytes when there are any): undecodable UTF-8, invalid JSON, a line that is
not an object, a missing or non-string field, an over-long line, a broken gzip stream.
Reject reasons never quote the record's content.
"""

from __future__ import annotations

import codecs
import gzip
import hashlib
import io
import json
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from leakguard.exceptions import CorpusError

__all__ = [
    "DEFAULT_FIELD",
    "DEFAULT_MAX_RECORD_BYTES",
    "DEFAULT_TARGET_SHARD_BYTES",
    "Format",
    "Record",
    "Shard",
    "format_of",
    "iter_files",
    "plan_shards",
    "read_shard",
    "shard_bytes",
]

DEFAULT_FIELD = "text"
DEFAULT_TARGET_SHARD_BYTES = 64 * 1024 * 1024
DEFAULT_MAX_RECORD_BYTES = 4 * 1024 * 1024
_JSONL_SUFFIXES = (".jsonl", ".ndjson")
_BLOCK = 1024 * 1024


class Format(StrEnum):
    """How a file's bytes become records."""

    TEXT = "text"  # one record per file (cut at line breaks when very large)
    JSONL = "jsonl"  # one record per line, the text in a named field


@dataclass(frozen=True, slots=True)
class Shard:
    """A unit of work: a whole file, or a byte range ``[start, end)`` of an uncompressed one.

    ``first_line`` is the 1-based line number at ``start``, so records report true line
    numbers. ``end`` is ``None`` for "to the end of the file".
    """

    id: str
    path: str
    format: Format
    compressed: bool
    field: str = DEFAULT_FIELD
    start: int = 0
    end: int | None = None
    first_line: int = 1
    max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES
    size: int = 0  # bytes of the file on disk (for progress reports)

    @property
    def nbytes(self) -> int:
        """Bytes of this shard on disk (the whole compressed file for gzip)."""
        return (self.end if self.end is not None else self.size) - self.start


@dataclass(frozen=True, slots=True)
class Record:
    """One record of a shard: a text, or a reject with its reason.

    ``line`` is the 1-based line where the record starts in ``source``. ``part`` numbers the
    pieces of a text file that was cut (0 for the first or only piece). ``obj`` is the parsed
    JSON object of a JSONL record (``None`` for text files). ``raw`` holds the bytes of a
    reject, and the whole line (with its line break) of a JSONL record, so a writer can
    change one field and keep every other byte.
    """

    source: str
    format: Format
    line: int
    text: str | None
    part: int = 0
    obj: dict[str, Any] | None = field(default=None, compare=False)
    reject: str | None = None
    raw: bytes | None = field(default=None, compare=False, repr=False)

    @property
    def ok(self) -> bool:
        return self.text is not None


def format_of(path: str | Path) -> tuple[Format, bool]:
    """The format and gzip flag a file name implies."""
    name = Path(path).name.lower()
    compressed = name.endswith(".gz")
    if compressed:
        name = name[:-3]
    fmt = Format.JSONL if name.endswith(_JSONL_SUFFIXES) else Format.TEXT
    return fmt, compressed


def iter_files(inputs: Iterable[str | Path]) -> Iterator[Path]:
    """Every file named by ``inputs``, directories walked recursively in sorted order."""
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            yield from _walk(path)
        elif path.is_file():
            yield path
        elif path.exists():
            raise CorpusError(f"corpus input {str(path)!r} is neither a file nor a directory")
        else:
            raise CorpusError(f"corpus input {str(path)!r} does not exist; check the path")


def _walk(directory: Path) -> Iterator[Path]:
    for entry in sorted(directory.iterdir(), key=lambda p: p.name):
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            yield from _walk(entry)
        elif entry.is_file():
            yield entry


def plan_shards(
    inputs: Iterable[str | Path],
    *,
    field: str = DEFAULT_FIELD,
    target_shard_bytes: int = DEFAULT_TARGET_SHARD_BYTES,
    max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
) -> list[Shard]:
    """Cut ``inputs`` into shards, deterministically (same inputs, same shards and ids)."""
    if target_shard_bytes < 1 or max_record_bytes < 1:
        raise CorpusError("target_shard_bytes and max_record_bytes must be positive")
    if not field:
        raise CorpusError("the JSON Lines text field name must not be empty (e.g. --field text)")
    shards: list[Shard] = []
    for path in iter_files(inputs):
        fmt, compressed = format_of(path)
        stat = path.stat()
        ranges = (
            [(0, None, 1)]
            if compressed or stat.st_size <= target_shard_bytes
            else _line_ranges(path, target_shard_bytes)
        )
        for start, end, first_line in ranges:
            key = "\0".join(
                map(str, (path.resolve(), stat.st_size, stat.st_mtime_ns, fmt, field, start, end))
            )
            shards.append(
                Shard(
                    id=hashlib.sha256(key.encode()).hexdigest()[:16],
                    path=str(path),
                    format=fmt,
                    compressed=compressed,
                    field=field,
                    start=start,
                    end=end,
                    first_line=first_line,
                    max_record_bytes=max_record_bytes,
                    size=stat.st_size,
                )
            )
    return shards


def _line_ranges(path: Path, target: int) -> list[tuple[int, int | None, int]]:
    """Byte ranges of at least ``target`` bytes, each ending just after a line break."""
    ranges: list[tuple[int, int | None, int]] = []
    start, start_line = 0, 1
    pos, line = 0, 1  # file offset of the current block, line number at that offset
    with path.open("rb") as f:
        while block := f.read(_BLOCK):
            counted = 0  # newlines of ``block`` before this index are in ``line``
            while (want := max(start + target - 1 - pos, 0)) < len(block):
                newline = block.find(b"\n", want)
                if newline < 0:
                    break
                line += block.count(b"\n", counted, newline + 1)
                counted = newline + 1
                ranges.append((start, pos + counted, start_line))
                start, start_line = pos + counted, line
            line += block.count(b"\n", counted)
            pos += len(block)
    if start < pos or not ranges:
        ranges.append((start, None, start_line))
    return ranges


def read_shard(shard: Shard) -> Iterator[Record]:
    """The records of one shard, streamed (memory bounded by ``max_record_bytes``)."""
    last = [shard.first_line - 1]  # the last line read whole, for the reject below

    def counted(lines: Iterator[_Line]) -> Iterator[_Line]:
        for line in lines:
            last[0] = line.number
            yield line

    try:
        with _open(shard) as f:
            lines = counted(_lines(f, shard))
            if shard.format is Format.JSONL:
                yield from _jsonl_records(lines, shard)
            else:
                yield from _text_records(lines, shard)
    except (OSError, EOFError, zlib.error) as exc:
        # A broken gzip stream or an unreadable file: one reject, and the shard ends here.
        # It names where the break came: the line after the last one read whole.
        reason = "broken gzip stream" if shard.compressed else "unreadable file"
        detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        where = f" after line {last[0]}" if last[0] >= shard.first_line else ""
        yield Record(
            shard.path, shard.format, last[0] + 1, None, reject=f"{reason}{where}: {detail}"
        )


def _open(shard: Shard) -> io.BufferedIOBase:
    if shard.compressed:
        return gzip.GzipFile(shard.path, "rb")
    f = open(shard.path, "rb")  # noqa: SIM115  (returned to a with-block)
    f.seek(shard.start)
    return f


@dataclass(slots=True)
class _Line:
    number: int
    data: bytes  # without the line break when ``complete``; a prefix of it when too long
    too_long: bool


def _lines(f: io.BufferedIOBase, shard: Shard) -> Iterator[_Line]:
    """Lines with their numbers; a line longer than the record bound is cut off, not kept."""
    limit = shard.max_record_bytes
    remaining = None if shard.end is None else shard.end - shard.start
    number = shard.first_line
    while remaining is None or remaining > 0:
        data = f.readline(limit + 1)
        if not data:
            return
        too_long = len(data) > limit and not data.endswith(b"\n")
        if too_long:  # skip the rest of this line without holding it
            skipped = data
            while skipped and not skipped.endswith(b"\n"):
                skipped = f.readline(_BLOCK)
                if remaining is not None:
                    remaining -= len(skipped)
        if remaining is not None:
            remaining -= len(data)
        yield _Line(number, data[:limit] if too_long else data, too_long)
        number += 1


def _jsonl_records(lines: Iterator[_Line], shard: Shard) -> Iterator[Record]:
    for line in lines:
        if line.too_long:
            yield _reject(shard, line, f"line longer than {shard.max_record_bytes} bytes")
            continue
        if not line.data.strip():
            continue
        try:
            obj = json.loads(line.data)
        except UnicodeDecodeError as exc:
            yield _reject(shard, line, f"undecodable UTF-8 at byte {exc.start}")
            continue
        except ValueError as exc:
            yield _reject(shard, line, f"invalid JSON ({_json_reason(exc)})")
            continue
        if not isinstance(obj, dict):
            yield _reject(shard, line, f"not a JSON object (got {type(obj).__name__})")
            continue
        text = obj.get(shard.field)
        if text is None and shard.field not in obj:
            yield _reject(shard, line, f"missing field {shard.field!r}")
        elif not isinstance(text, str):
            yield _reject(shard, line, f"field {shard.field!r} is {type(text).__name__}, not str")
        else:
            yield Record(shard.path, shard.format, line.number, text, obj=obj, raw=line.data)


def _json_reason(exc: ValueError) -> str:
    # json.JSONDecodeError carries a message and position, never the document itself.
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at column {exc.colno}"
    return type(exc).__name__


def _reject(shard: Shard, line: _Line, reason: str) -> Record:
    return Record(shard.path, shard.format, line.number, None, reject=reason, raw=line.data)


def _text_records(lines: Iterator[_Line], shard: Shard) -> Iterator[Record]:
    """One record per file, or pieces of at most ``max_record_bytes`` cut at line breaks."""
    limit = shard.max_record_bytes
    piece: list[bytes] = []
    size, first, part = 0, shard.first_line, 0
    last_blank = -1  # index in ``piece`` after the last blank line
    for line in lines:
        if line.too_long:
            if piece:
                yield _text_piece(shard, piece, first, part)
                part += 1
            yield _reject(shard, line, f"line longer than {limit} bytes")
            piece, size, first, last_blank, part = [], 0, line.number + 1, -1, part + 1
            continue
        if piece and size + len(line.data) > limit:
            cut = last_blank if last_blank > 0 else len(piece)
            yield _text_piece(shard, piece[:cut], first, part)
            part += 1
            first += cut
            piece = piece[cut:]
            size = sum(map(len, piece))
            last_blank = -1
        piece.append(line.data)
        size += len(line.data)
        if not line.data.strip():
            last_blank = len(piece)
    if piece or part == 0:
        yield _text_piece(shard, piece, first, part)


def _text_piece(shard: Shard, lines: list[bytes], first: int, part: int) -> Record:
    data = b"".join(lines)
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        text = decoder.decode(data, final=True)
    except UnicodeDecodeError as exc:
        return Record(
            shard.path,
            shard.format,
            first,
            None,
            part=part,
            reject=f"undecodable UTF-8 at byte {exc.start} of this piece",
            raw=data,
        )
    return Record(shard.path, shard.format, first, text, part=part)


def shard_bytes(shards: Iterable[Shard]) -> int:
    """Total bytes on disk of ``shards`` (for progress bars)."""
    return sum(s.nbytes for s in shards)
