"""Streaming readers for uploaded datasets: CSV, JSON array and JSON Lines.

Each yields ``(row_number, item, bytes_read)`` one item at a time, so memory
does not grow with the file. Row numbers are 1-based item numbers; for CSV
they are the file's line numbers (the header is line 1).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from typing import IO

import ijson
import orjson

from ..errors import ValidationError
from .json_limits import MAX_JSON_DEPTH, DepthScanner, TooDeep, check_depth

FORMATS = ("csv", "json", "jsonl")
# A JSON Lines or CSV line longer than this is refused rather than read whole into memory.
MAX_LINE_BYTES = 16 * 1024 * 1024


class RowError(ValidationError):
    """A row of an upload is wrong; nothing of the upload is imported."""

    code = "invalid_row"

    def __init__(self, row: int, message: str, field: str | None = None):
        details = {"row": row, "reason": message}
        if field:
            details["field"] = field
        super().__init__(f"Row {row}: {message}. Nothing was imported.", details=details)


def detect_format(filename: str | None, declared: str | None, head: bytes) -> str:
    """The upload's format from an explicit value, the file name, or its first byte."""
    if declared:
        if declared not in FORMATS:
            raise ValidationError(f"format: must be one of {', '.join(FORMATS)}",
                                  details={"fields": {"format": ["unknown format"]}})
        return declared
    name = (filename or "").lower()
    if name.endswith(".csv"):
        return "csv"
    if name.endswith((".jsonl", ".ndjson")):
        return "jsonl"
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped.startswith(b"["):
        return "json"
    if stripped.startswith(b"{"):
        return "jsonl"
    if name.endswith(".json"):
        return "json"
    raise ValidationError(
        "Cannot tell the file's format: send a .csv, .json or .jsonl file, or a format field.",
        code="unknown_format",
    )


def read_jsonl(fh: IO[bytes]) -> Iterator[tuple[int, object, int]]:
    consumed = 0
    for number, line in enumerate(iter(lambda: fh.readline(MAX_LINE_BYTES + 1), b""), 1):
        consumed += len(line)
        if len(line) > MAX_LINE_BYTES:
            raise RowError(number, f"is longer than {MAX_LINE_BYTES} bytes")
        if not line.strip():
            continue
        try:
            check_depth(line)
            yield number, orjson.loads(line), consumed
        except TooDeep as exc:
            raise RowError(number, str(exc)) from None
        except orjson.JSONDecodeError as exc:
            raise RowError(number, f"invalid JSON ({exc})") from exc


# A \\uXXXX surrogate escape not paired with its other half, after an even run of backslashes.
_LONE_SURROGATE = re.compile(
    rb"(?<!\\)(?:\\\\)*(?:\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}|(\\u[dD][89a-fA-F][0-9a-fA-F]{2}))")


class _LoneSurrogate(ValueError):
    def __init__(self, item: int):
        super().__init__("holds a lone surrogate (an unpaired \\ud800-\\udfff escape)")
        self.item = item


class _CheckedFile:
    """The upload as ijson reads it, checked as each piece goes by. Nesting: ijson keeps a path string
    per level, so a deep item would cost memory quadratic in its depth before it ends. Lone surrogates:
    yajl turns one into "?" or fails with a decoding error, where JSON Lines refuses it."""

    def __init__(self, fh: IO[bytes]):
        self.fh, self.scanner = fh, DepthScanner(MAX_JSON_DEPTH, base=1)

    def read(self, size: int = -1) -> bytes:
        chunk = self.fh.read(size)
        # Do not end a piece inside a surrogate pair's 12 bytes, so each one is seen whole (a few extra
        # reads at most: a long run of backslashes must not make this quadratic).
        for _ in range(4):
            start = chunk.find(b"\\", max(0, len(chunk) - 12))
            more = self.fh.read(12 - (len(chunk) - start)) if start >= 0 else b""
            if not more:
                break
            chunk += more
        if b"\\u" in chunk:
            for match in _LONE_SURROGATE.finditer(chunk):
                if match.group(1):
                    self.scanner.feed(chunk[:match.start(1)])
                    raise _LoneSurrogate(self.scanner.item)
        self.scanner.feed(chunk)
        return chunk


def read_json_array(fh: IO[bytes]) -> Iterator[tuple[int, object, int]]:
    head = fh.read(64)
    if not head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"["):
        raise ValidationError("A .json upload must be a JSON array of items (use .jsonl for JSON Lines).",
                              code="invalid_file")
    fh.seek(0)
    number = 0
    try:
        for number, item in enumerate(ijson.items(_CheckedFile(fh), "item", use_float=True), 1):
            yield number, item, fh.tell()
    except (TooDeep, _LoneSurrogate) as exc:
        raise RowError(exc.item, str(exc)) from None
    except UnicodeDecodeError as exc:
        raise RowError(number + 1, f"is not valid UTF-8 text ({exc.reason})") from None
    except ijson.JSONError as exc:
        raise RowError(number + 1, f"invalid JSON ({exc})") from exc


class _LineTooLong(ValueError):
    pass


def _bounded_lines(text: IO[str]) -> Iterator[str]:
    """The file's lines, none read past MAX_LINE_BYTES characters: with the csv module's limit on a
    field's size this bounds a row's memory (a row spans several lines only inside quoted fields)."""
    while line := text.readline(MAX_LINE_BYTES + 1):
        if len(line) > MAX_LINE_BYTES:
            raise _LineTooLong()
        yield line


def read_csv(fh: IO[bytes]) -> Iterator[tuple[int, object, int]]:
    text = io.TextIOWrapper(fh, encoding="utf-8-sig", newline="")
    reader = csv.DictReader(_bounded_lines(text), strict=True)
    try:
        header = reader.fieldnames
        if not header:
            raise ValidationError("The CSV file has no header row.", code="invalid_file")
        if len(set(header)) != len(header) or any(not h for h in header):
            raise ValidationError("The CSV header has empty or repeated column names.", code="invalid_file")
        for row in reader:
            line = reader.line_num
            if None in row:
                raise RowError(line, f"has {len(header) + len(row[None])} fields, the header has {len(header)}")
            if any(value is None for value in row.values()):
                raise RowError(line, f"has fewer fields than the header's {len(header)}")
            yield line, row, fh.tell()
    except UnicodeDecodeError as exc:
        raise ValidationError(f"The CSV file is not UTF-8 text ({exc.reason}).", code="invalid_file") from exc
    except csv.Error as exc:
        raise RowError(reader.line_num + 1, f"malformed CSV ({exc})") from exc
    except _LineTooLong:
        raise RowError(reader.line_num + 1, f"has a line longer than {MAX_LINE_BYTES} characters") from None
    finally:
        text.detach()


READERS = {"csv": read_csv, "json": read_json_array, "jsonl": read_jsonl}
