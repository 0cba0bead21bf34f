"""Export writer benchmark: generated rows written as JSON Lines and as Parquet.

    python bench/export_formats.py [--rows 1000000] [--formats jsonl,parquet]

Measures the writers of ``backend.exports``, with no database: each format
runs in a child process that writes single_choice rows (3 answers and a
consensus each) to a temporary file twice: first 10,000 prebuilt rows cycled
(the writer alone), then a generator that makes new objects for every row as
a database cursor would (end to end). It reports tasks/s for both, the
generator's own time, and its peak resident memory (ru_maxrss) before and
after writing.
Importing ``backend.exports`` imports ``backend``, whose ``__init__`` loads
Flask and SQLAlchemy: that is in the baseline memory, not in the growth.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, peak_rss_mb

LABELS = ("positive", "negative", "neutral")
TEXTS = (
    "the film was a quiet patient story that trusts its audience",
    "plot holes big enough to drive a truck through",
    "competent acting, forgettable script, and the final scene stayed with me for days",
)


def generate(count: int):
    """Rows as the export query yields them: new objects for every task."""
    for i in range(count):
        answers = [
            {
                "worker": f"w-{(i * 3 + w) % 65536:06x}",
                "answer": {"choice": LABELS[(i + w * (i % 2)) % 3]},
                "submitted_at": "2025-03-04T05:06:07.123456+00:00",
                "active_seconds": 5 + (i + w) % 40,
            }
            for w in range(3)
        ]
        yield {
            "task_id": i + 1,
            "external_id": f"item-{i:08d}",
            "batch_id": 1 + i // 1000,
            "data": {"text": TEXTS[i % 3], "source": "bench"},
            "answers": answers,
            "consensus": {
                "answer": {"choice": LABELS[i % 3]},
                "confidence": 0.67 if i % 2 else 1.0,
                "method": "majority",
                "answers_used": 3,
            },
            "agreement": 0.33 if i % 2 else 1.0,
        }


def child(fmt: str, rows: int, out: str) -> None:
    from backend.exports import write_export

    if fmt == "parquet":
        import pyarrow.parquet  # noqa: F401 - part of the baseline, as in a worker that has exported before

    project = {"id": 1, "name": "Bench", "task_type": "single_choice", "labels": list(LABELS)}
    # The writer alone: the same 10,000 rows cycled, so that making rows costs next to nothing.
    pool = list(generate(10_000))
    baseline = peak_rss_mb()
    started = time.perf_counter()
    with open(out, "wb") as fh:
        written = write_export(fmt, itertools.islice(itertools.cycle(pool), rows), fh, project)
    writer_seconds = time.perf_counter() - started
    # End to end: fresh objects for every row, as a database cursor makes them.
    started = time.perf_counter()
    with open(out, "wb") as fh:
        write_export(fmt, generate(rows), fh, project)
    end_to_end_seconds = time.perf_counter() - started
    started = time.perf_counter()
    for _ in generate(rows):
        pass
    generator_seconds = time.perf_counter() - started
    result = {
        "written": written,
        "writer_seconds": writer_seconds,
        "end_to_end_seconds": end_to_end_seconds,
        "generator_seconds": generator_seconds,
        "baseline_mb": baseline,
        "peak_mb": peak_rss_mb(),
        "bytes": os.path.getsize(out),
    }
    print(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--formats", default="jsonl,parquet")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.rows, args.out)
        return

    print(f"{args.rows:,} single_choice tasks, 3 answers + consensus each; writers alone, no database")
    with tempfile.TemporaryDirectory(prefix="concord-export-bench-") as tmp:
        for fmt in args.formats.split(","):
            out = Path(tmp) / f"export.{fmt}"
            env = {**os.environ, "PYTHONPATH": str(ROOT)}
            done = subprocess.run(
                [sys.executable, __file__, "--child", fmt, "--rows", str(args.rows), "--out", str(out)],
                check=True,
                capture_output=True,
                text=True,
                env=env,
            )
            r = json.loads(done.stdout.strip().splitlines()[-1])
            n = r["written"]
            print(
                f"{fmt:8s} writer alone {n / r['writer_seconds']:>10,.0f} tasks/s ({r['writer_seconds']:.2f}s) | "
                f"with a fresh-object generator {n / r['end_to_end_seconds']:>9,.0f} tasks/s "
                f"(generator alone {r['generator_seconds']:.2f}s) | {r['bytes'] / 2**20:,.1f} MiB file | "
                f"peak RSS {r['peak_mb']:.0f} MB = {r['peak_mb'] - r['baseline_mb']:+.0f} MB over the "
                f"{r['baseline_mb']:.0f} MB after imports"
            )
            out.unlink()


if __name__ == "__main__":
    main()
