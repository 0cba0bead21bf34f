"""Streaming readers for uploaded datasets: CSV, JSON array and JSON Lines.

Each yields ``(row_number, item, bytes_read)`` one item at a time, so memory
does not grow with the file. Row numbers are 1-based item numbers; for CSV
they are the file's line numbers (the header is line 1).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import IO

import ijson
import orjson

from ..errors import ValidationError

FORMATS = ("csv", "json", "jsonl")


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
    for number, line in enumerate(fh, 1):
        consumed += len(line)
        if not line.strip():
            continue
        try:
            yield number, orjson.loads(line), consumed
        except orjson.JSONDecodeError as exc:
            raise RowError(number, f"invalid JSON ({exc})") from exc


def read_json_array(fh: IO[bytes]) -> Iterator[tuple[int, object, int]]:
    head = fh.read(64)
    if not head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"["):
        raise ValidationError("A .json upload must be a JSON array of items (use .jsonl for JSON Lines).",
                              code="invalid_file")
    fh.seek(0)
    number = 0
    try:
        for number, item in enumerate(ijson.items(fh, "item", use_float=True), 1):
            yield number, item, fh.tell()
    except ijson.JSONError as exc:
        raise RowError(number + 1, f"invalid JSON ({exc})") from exc


def read_csv(fh: IO[bytes]) -> Iterator[tuple[int, object, int]]:
    text = io.TextIOWrapper(fh, encoding="utf-8-sig", newline="")
    reader = csv.DictReader(text, strict=True)
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
    finally:
        text.detach()


READERS = {"csv": read_csv, "json": read_json_array, "jsonl": read_jsonl}
