"""JSON Lines: one task per line with its answers, consensus and agreement."""

from __future__ import annotations

from collections.abc import Iterable
from typing import BinaryIO

import orjson

from ._common import ChunkedWriter


def write_jsonl(rows: Iterable[dict], fh: BinaryIO, project: dict, *, tmp_dir: str | None = None) -> int:
    """Write one JSON object per task; return the number of tasks written."""
    out = ChunkedWriter(fh)
    # Bound locally: this loop is the hot path of the largest exports.
    dumps, option, write = orjson.dumps, orjson.OPT_APPEND_NEWLINE, out.write
    count = 0
    for row in rows:
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
                },
                option=option,
            )
        )
        count += 1
    out.flush()
    return count
