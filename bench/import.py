"""Import benchmark: a generated JSON Lines file into PostgreSQL through the API's import path.

    python bench/import.py [--rows 1000000] [--batch-size 1000]

Generates the file (not timed), then, in a child process so that its peak
memory is its own, runs the same two steps as a large upload to
``POST /api/v1/projects/{id}/datasets``: ``queue_file_import`` records the
dataset and its job, and ``run_file_import`` (the job's body) streams the file
into tasks. Prints rows/s and the child's peak resident memory.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import bench_database_url, fresh_database, peak_rss_mb

WORDS = (
    'the', 'film', 'was', 'a', 'quiet', 'patient', 'story', 'that', 'trusts', 'its', 'audience',
    'and', 'the', 'final', 'scene', 'stayed', 'with', 'me', 'for', 'days', 'plot', 'holes', 'big',
    'enough', 'to', 'drive', 'a', 'truck', 'through', 'competent', 'acting', 'forgettable', 'script',
)


def generate(path: Path, rows: int) -> None:
    rng = random.Random(7)
    with open(path, "w") as fh:
        for i in range(rows):
            text = " ".join(rng.choices(WORDS, k=rng.randint(12, 24)))
            item = {"external_id": f"item-{i:08d}", "data": {"text": text, "source": "bench", "n": i}}
            if i % 50 == 0:
                item["gold"] = {"choice": rng.choice(["positive", "negative", "neutral"])}
            fh.write(json.dumps(item) + "\n")


def child(url: str, path: str, batch_size: int) -> None:
    from backend import db
    from backend.jobs import new_job_id
    from backend.services import accounts, datasets, projects

    db.configure(url)
    org = accounts.create_organization(name="Bench")
    manager = accounts.create_user(email="bench@example.test", password="benchmark-pw", role="manager",
                                   organization_name=org.name)
    principal = accounts.principal_for_user(manager)
    project = projects.create_project(principal=principal, fields={
        "name": "Import bench", "task_type": "single_choice", "labels": ["positive", "negative", "neutral"],
        "overlap": 2.5, "batch_size": batch_size, "status": "active"})
    started = time.perf_counter()
    dataset, _job = datasets.queue_file_import(principal=principal, project_id=project.id, fmt="jsonl",
                                               filename="bench.jsonl", batch_size=batch_size, job_id=new_job_id())
    result = datasets.run_file_import(dataset_id=dataset.id, path=Path(path))
    elapsed = time.perf_counter() - started
    print(json.dumps({"elapsed": elapsed, "tasks": result["tasks_created"], "peak_mb": peak_rss_mb()}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    url = bench_database_url()
    if args.child:
        child(url, args.child[1], args.batch_size)
        return
    fresh_database(url)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.jsonl"
        t0 = time.perf_counter()
        generate(path, args.rows)
        size_mb = os.path.getsize(path) / 1e6
        print(f"generated {args.rows:,} rows ({size_mb:.0f} MB) in {time.perf_counter() - t0:.1f} s")
        out = subprocess.run([sys.executable, __file__, "--batch-size", str(args.batch_size), "--child", url,
                              str(path)], check=True, capture_output=True, text=True)
        figures = json.loads(out.stdout.strip().splitlines()[-1])
    rate = figures["tasks"] / figures["elapsed"]
    print(f"imported {figures['tasks']:,} tasks into PostgreSQL in {figures['elapsed']:.1f} s")
    print(f"rows/s: {rate:,.0f}  (target >= 50,000)")
    print(f"peak memory of the importing process: {figures['peak_mb']:.0f} MB  (target < 300 MB)")


if __name__ == "__main__":
    main()
