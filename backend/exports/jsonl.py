"""JSON Lines: one task per line with its answers, consensus and agreement, and whether it is a control
(gold) task with the answer it expects."""

from __future__ import annotations

from collections.abc import Iterable
from typing import BinaryIO

import orjson

from ._common import DEFAULT_OPTIONS, ChunkedWriter, WriteOptions


def write_jsonl(
    rows: Iterable[dict],
    fh: BinaryIO,
    project: dict,
    *,
    tmp_dir: str | None = None,
    options: WriteOptions = DEFAULT_OPTIONS,
) -> int:
    """Write one JSON object per task; return the number of tasks written.

    ``gold`` is true for a control task, whose ``expected`` answer is given (null for other tasks).
    """
    out = ChunkedWriter(fh)
    # Bound locally: this loop is the hot path of the largest exports.
    dumps, option, write = orjson.dumps, orjson.OPT_APPEND_NEWLINE, out.write
    count = 0
    for row in rows:
        gold = bool(row.get("gold"))
        # A new dict rather than the row itself, so that a caller's extra keys never leak into the file.
        write(
            dumps(
                {
                    "task_id": row["task_id"],
                    "external_id": row["external_id"],
                    "batch_id": row["batch_id"],
                    "data": row["data"],
                    "answers": row["answers"],
                    "consensus": row["consensus"],
                    "agreement": row["agreement"],
                    "gold": gold,
                    "expected": row.get("expected") if gold else None,
                },
                option=option,
            )
        )
        count += 1
    out.flush()
    return count
