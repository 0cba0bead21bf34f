"""Krippendorff's alpha: backend.quality against the `krippendorff` package, synthetic and real label sets.

    .venv/bin/python bench/agreement.py [--small] [--data DIR]

1. A synthetic crowd: 1,000,000 answers (200,000 tasks x 5 answers, 4 labels,
   2,000 workers of mixed quality; --small: 100,000 answers on 20,000 tasks).
   Nominal alpha is computed by our long-format function and by the package on
   its documented input (reliability_data: workers x tasks, NaN where missing),
   then on its value_counts input (tasks x categories). Each runs in its own
   subprocess, so its peak RSS (ru_maxrss) is its own: interpreter, numpy, the
   input and the computation, nothing subtracted.
2. Every real label set under --data (default ../shared/data from the project
   root): answers.csv with `task,worker,label`. The package's reliability_data
   cannot hold two answers of one worker on one task, so for that comparison
   repeated (task, worker) pairs are dropped (first kept). Ours on the raw
   input (every answer kept) is compared with the package's value_counts
   input, which can hold repeats; the published reference alphas are of that kind.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import ROOT, load_quality_module, peak_rss_mb, synthetic_crowd

# Published with the data (krippendorff package, nominal, whole answers.csv).
REFERENCE = {
    "rte": 0.241,
    "temp": 0.223,
    "wsd": 0.937,
    "bluebirds": 0.126,
    "d_product": 0.157,
    "d_possent": 0.149,
    "s_dog": 0.519,
    "s_face": 0.495,
    "s_rel": 0.093,
    "s_adult": 0.314,
}





def measure(kind: str, folder: Path) -> dict:
    """Run in a child process: load the answers, build this method's input, time the call."""
    task, worker, value = (np.load(folder / f"{name}.npy") for name in ("task", "worker", "value"))
    started = time.perf_counter()
    if kind == "ours":
        krippendorff_alpha = load_quality_module("agreement").krippendorff_alpha
        data = (task, value)
        call = lambda: krippendorff_alpha(task, value, level="nominal")  # noqa: E731
    else:
        import krippendorff

        if kind == "package":
            data = np.full((int(worker.max()) + 1, int(task.max()) + 1), np.nan)
            data[worker, task] = value
            call = lambda: krippendorff.alpha(reliability_data=data, level_of_measurement="nominal")  # noqa: E731
        else:
            labels = int(value.max()) + 1
            data = np.bincount(task * labels + value, minlength=(int(task.max()) + 1) * labels).reshape(-1, labels)
            call = lambda: krippendorff.alpha(value_counts=data, level_of_measurement="nominal")  # noqa: E731
    prepared = time.perf_counter()
    alpha = float(call())
    seconds = time.perf_counter() - prepared
    peak = peak_rss_mb()
    repeats = [seconds]
    if kind == "ours":  # cheap enough to show the warm figure too
        for _ in range(3):
            start = time.perf_counter()
            call()
            repeats.append(time.perf_counter() - start)
    input_mb = sum(a.nbytes for a in data) / 2**20 if isinstance(data, tuple) else data.nbytes / 2**20
    return {
        "alpha": alpha,
        "seconds": seconds,
        "best": min(repeats),
        "prep": prepared - started,
        "peak_mb": peak,
        "input_mb": input_mb,
        "shape": "x".join(map(str, np.shape(data))),
    }


def run_child(kind: str, folder: Path) -> dict:
    done = subprocess.run(
        [sys.executable, __file__, "--measure", kind, "--input", str(folder)], capture_output=True, text=True
    )
    if done.returncode:
        sys.exit(f"{kind} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def synthetic_section(small: bool) -> None:
    tasks = 20_000 if small else 200_000
    task, worker, value, _truth = synthetic_crowd(tasks=tasks, per_task=5, labels=4, workers=2_000)
    print(f"Synthetic crowd: {task.size:,} answers, {tasks:,} tasks x 5, 4 labels, 2,000 workers (seed 7)")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name, array in (("task", task), ("worker", worker), ("value", value)):
            np.save(folder / f"{name}.npy", array)
        results = {kind: run_child(kind, folder) for kind in ("ours", "package", "package-counts")}
    titles = {
        "ours": "ours: krippendorff_alpha(task, value), long format",
        "package": "krippendorff package, reliability_data (workers x tasks, NaN missing)",
        "package-counts": "krippendorff package, value_counts (tasks x categories; counting not timed)",
    }
    print(f"  {'method':<78} {'alpha':>12} {'time s':>8} {'peak MB':>8} {'input MB':>9}  input shape")
    for kind, r in results.items():
        print(
            f"  {titles[kind]:<78} {r['alpha']:>12.9f} {r['seconds']:>8.3f} {r['peak_mb']:>8.0f} "
            f"{r['input_mb']:>9.1f}  {r['shape']}"
        )
    ours, package, counts = results["ours"], results["package"], results["package-counts"]
    print(
        f"  ours warm (best of 4 calls): {ours['best']:.3f} s; building the package's reliability_data took "
        f"{package['prep']:.2f} s (not in its time)"
    )
    print(
        f"  |alpha ours - package| = {abs(ours['alpha'] - package['alpha']):.2e}, "
        f"value_counts: {abs(ours['alpha'] - counts['alpha']):.2e}"
    )
    print(
        f"  speed: ours is {package['seconds'] / ours['seconds']:.0f}x faster than the package on reliability_data "
        f"({counts['seconds'] / ours['seconds']:.1f}x on value_counts); "
        f"peak memory {ours['peak_mb']:.0f} MB vs {package['peak_mb']:.0f} MB "
        f"({package['peak_mb'] / ours['peak_mb']:.0f}x less)"
    )


def read_answers(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    # Ids and labels as strings: some sets use text ids, and a label's codes only need to be distinct.
    return tuple(
        np.unique(np.array([r[c] for r in rows]), return_inverse=True)[1].reshape(-1)
        for c in ("task", "worker", "label")
    )


def real_section(data: Path) -> None:
    import krippendorff

    from backend.quality.agreement import krippendorff_alpha

    folders = sorted(p for p in data.iterdir() if (p / "answers.csv").is_file()) if data.is_dir() else []
    print(f"\nReal label sets under {data} (nominal alpha).")
    print("  dedup: repeated (task, worker) pairs dropped, first kept; the package's reliability_data holds one answer")
    print("  per pair. raw: every answer kept; the package's value_counts (tasks x labels) can hold repeats.")
    if not folders:
        print("  no answers.csv found")
        return
    print(
        f"  {'set':<10} {'answers':>8} {'tasks':>6} {'dropped':>7} | {'ours dedup':>11} {'pkg dedup':>11} "
        f"{'|diff|':>7} {'ours s':>6} {'pkg s':>6} | {'ours raw':>11} {'pkg raw vc':>11} {'|diff|':>7} | ref"
    )
    for folder in folders:
        task, worker, label = read_answers(folder / "answers.csv")
        _, first = np.unique(task.astype(np.int64) * (worker.max() + 1) + worker, return_index=True)
        keep = np.sort(first)
        start = time.perf_counter()
        ours = krippendorff_alpha(task[keep], label[keep])
        ours_s = time.perf_counter() - start
        matrix = np.full((worker.max() + 1, task.max() + 1), np.nan)
        matrix[worker[keep], task[keep]] = label[keep]
        start = time.perf_counter()
        package = float(krippendorff.alpha(reliability_data=matrix, level_of_measurement="nominal"))
        package_s = time.perf_counter() - start
        raw = krippendorff_alpha(task, label)
        labels = label.max() + 1
        counts = np.bincount(task * labels + label, minlength=(task.max() + 1) * labels).reshape(-1, labels)
        package_raw = float(krippendorff.alpha(value_counts=counts, level_of_measurement="nominal"))
        ref = REFERENCE.get(folder.name)
        print(
            f"  {folder.name:<10} {task.size:>8,} {task.max() + 1:>6,} {task.size - keep.size:>7} | {ours:>11.8f} "
            f"{package:>11.8f} {abs(ours - package):>7.1e} {ours_s:>6.3f} {package_s:>6.3f} | {raw:>11.8f} "
            f"{package_raw:>11.8f} {abs(raw - package_raw):>7.1e} | {'' if ref is None else f'{ref:.3f}'}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="100,000 answers instead of 1,000,000")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data", help="folder of label sets")
    parser.add_argument("--measure", choices=("ours", "package", "package-counts"), help=argparse.SUPPRESS)
    parser.add_argument("--input", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.input)))
        return
    synthetic_section(args.small)
    real_section(args.data)


if __name__ == "__main__":
    main()
