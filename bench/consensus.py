"""Consensus end to end: one batch completion's run on a project of N answers, and a cold run.

    python bench/consensus.py [--answers 150000] [--batch 500] [--repeat 3] [--method dawid_skene]
    python bench/consensus.py --answers 1000000

The database is DATABASE_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/concord_bench,
created if missing); it is emptied first, so its name must contain "bench" (or it is an SQLite file).

Not timed: a single_choice project (3 labels) of N answers, 3 per task, in batches of --batch tasks,
from a synthetic crowd (2,000 workers: 60% good, 25% mediocre, 15% answering at random; seed 7),
answers bulk-loaded (COPY on PostgreSQL, executemany on SQLite); every batch but the last has its
results (one whole-project run), then the last batch's answers arrive.

Timed, each ``--repeat`` times from that same state (the results and fit are put back between
runs), as the service does it:
  batch run    run_consensus(batch_ids=[last]): the automatic run after the last batch completes
               (a fit from the majority vote at this size: WARM_START_MIN_ANSWERS);
  warm start   the same run starting from the stored fit (what projects of 2,000,000 answers or
               more get);
  cold run     run_consensus() over the whole project, writing every result.
Each line splits the time: reading answers, reading stored results, the fit (E-steps), writing
results and agreement, and the rest (comparing, building rows, the commit). Prints figures only.

    python bench/consensus.py --label-sets [DIR]     (no database; DIR defaults to ../shared/data)

For each real label set: Dawid-Skene as a run fits it (from the majority vote, accelerated, to a
posterior tolerance of 1e-5) against plain EM to the same tolerance (E-steps), against crowd-kit's
own E and M steps run to convergence (tasks labelled differently), and against a chain of warm
starts fed the tasks in batches (500, or 50 on sets under 2,000 tasks) as the earlier batches'
fits would start it: tasks labelled differently and the largest confidence gap.
"""

from __future__ import annotations

import argparse
import os
import time
from contextlib import contextmanager
from datetime import UTC, datetime

import numpy as np
from _common import DEFAULT_URL, ROOT, fresh_database, synthetic_crowd

LABELS = ["positive", "negative", "neutral"]


def database_url(force: bool) -> str:
    url = os.environ.get("DATABASE_URL", DEFAULT_URL)
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" and "bench" not in (parsed.database or "") and not force:
        raise SystemExit(f"refusing to empty {parsed.database!r}: its name has no 'bench' (use --force)")
    return url


def prepare(url: str) -> None:
    if url.startswith("sqlite"):
        from alembic import command
        from sqlalchemy.engine import make_url

        from backend.cli import alembic_config

        path = make_url(url).database
        if path and os.path.exists(path):
            os.remove(path)
        command.upgrade(alembic_config(url), "head")
    else:
        fresh_database(url)


def fill(url: str, answers: int, batch: int, method: str) -> tuple[int, int, int]:
    """The project, its answers and results before the last batch. Returns (project, last batch, tasks)."""
    from sqlalchemy import select, text

    from backend import db
    from backend.models import Task
    from backend.services import accounts, consensus, datasets, projects

    accounts.configure_password_hashing(time_cost=1, memory_cost=1024)
    db.configure(url)
    org = accounts.create_organization(name="Consensus bench")
    manager = accounts.create_user(email="m@bench.test", password="benchmark-pw", role="manager",
                                   organization_name=org.name)
    principal = accounts.principal_for_user(manager)
    n_tasks = answers // 3
    project = projects.create_project(principal=principal, fields={
        "name": "Consensus", "task_type": "single_choice", "labels": LABELS, "overlap": 3, "batch_size": batch,
        "status": "active", "consensus_method": method})
    datasets.import_items(principal=principal, project_id=project.id,
                          items=[{"external_id": f"t{i}", "text": f"review number {i}"} for i in range(n_tasks)])
    task, worker, value, _truth = synthetic_crowd(tasks=n_tasks, per_task=3, labels=3, workers=2_000)
    order = np.argsort(task, kind="stable")
    task, worker, value = task[order], worker[order], value[order]
    with db.get_engine().begin() as conn:
        conn.execute(text("INSERT INTO workers (created_at) SELECT CURRENT_TIMESTAMP FROM "
                          "(WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000) "
                          "SELECT i FROM n) AS s"))
        first_worker = conn.execute(text("SELECT min(id) FROM workers")).scalar_one()
    with db.read_session() as session:
        ids = session.execute(select(Task.id, Task.batch_id).where(Task.project_id == project.id)
                              .order_by(Task.ordinal)).all()
    task_id = np.array([i for i, _ in ids], dtype=np.int64)[task]
    batch_id = np.array([b for _, b in ids], dtype=np.int64)[task]
    last = int(batch_id.max())
    early = batch_id != last
    load_answers(project.id, task_id[early], batch_id[early], worker[early] + first_worker, value[early])
    started = time.perf_counter()
    consensus.run_consensus(project_id=project.id)
    print(f"  results of the first {int(np.unique(batch_id[early]).size):,} batches: one whole-project run "
          f"({time.perf_counter() - started:.1f} s)")
    load_answers(project.id, task_id[~early], batch_id[~early], worker[~early] + first_worker, value[~early])
    settle()
    return project.id, last, n_tasks


def load_answers(project_id: int, task, batch, worker, value) -> None:
    from sqlalchemy import insert

    from backend import db
    from backend.models import Assignment

    now = datetime.now(UTC)
    if db.is_postgres():
        stamp = now.isoformat()
        lines = "".join(
            f"{project_id}\t{b}\t{t}\t{w}\tsubmitted\t{stamp}\t{stamp}\t{stamp}\t{{\"choice\": \"{LABELS[v]}\"}}"
            f"\t0\tUSD\tf\tf\n" for t, b, w, v in zip(task.tolist(), batch.tolist(), worker.tolist(), value.tolist(),
                                                     strict=True))
        with db.get_engine().begin() as conn:
            raw = conn.connection.driver_connection
            with raw.cursor() as cursor, cursor.copy(
                    "COPY assignments (project_id, batch_id, task_id, worker_id, status, leased_at, expires_at, "
                    "submitted_at, answer, reward_amount, reward_currency, is_gold, flagged) FROM STDIN") as copy:
                copy.write(lines.encode())
        return
    rows = [{"project_id": project_id, "batch_id": b, "task_id": t, "worker_id": w, "status": "submitted",
             "leased_at": now, "expires_at": now, "submitted_at": now, "answer": {"choice": LABELS[v]}}
            for t, b, w, v in zip(task.tolist(), batch.tolist(), worker.tolist(), value.tolist(), strict=True)]
    with db.get_engine().begin() as conn:
        for start in range(0, len(rows), 50_000):
            conn.execute(insert(Assignment), rows[start:start + 50_000])


def settle() -> None:
    """Statistics and a vacuumed, checkpointed database: a project's data as a run finds it."""
    from sqlalchemy import text

    from backend import db

    if not db.is_postgres():
        return
    with db.get_engine().connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM (ANALYZE) tasks, assignments, consensus_results, consensus_models"))
        conn.execute(text("CHECKPOINT"))


def snapshot(save: bool) -> None:
    """Keep (or put back) the stored results and fits, so that every timed run starts alike."""
    from sqlalchemy import text

    from backend import db

    with db.get_engine().begin() as conn:
        for table in ("consensus_results", "consensus_models"):
            if save:
                conn.execute(text(f"DROP TABLE IF EXISTS bench_{table}"))
                conn.execute(text(f"CREATE TABLE bench_{table} AS SELECT * FROM {table}"))
            else:
                conn.execute(text(f"DELETE FROM {table}"))
                conn.execute(text(f"INSERT INTO {table} SELECT * FROM bench_{table}"))
        if not save:  # and the runs of the timed runs go: the last run is again the one that left the results
            conn.execute(text("DELETE FROM consensus_runs WHERE id > (SELECT max(run_id) FROM bench_consensus_models)"))
    if not save:
        settle()


class Clock:
    """Wall time spent in named calls of a run (wrapped functions)."""

    def __init__(self) -> None:
        self.spent: dict[str, float] = {}
        self.iterations = 0

    @contextmanager
    def wrapping(self):
        from backend.quality import consensus as algorithms
        from backend.services import consensus_data as data
        from backend.services import consensus_store as store

        targets = [(data, "choices", "read answers"), (data, "stored_choices", "read results"),
                   (store, "load_model", "fit"), (algorithms, "dawid_skene", "fit"),
                   (algorithms, "one_coin_dawid_skene", "fit"), (algorithms, "weighted_majority", "fit"),
                   (data, "write_results", "write"), (data, "write_agreement", "write"), (store, "save_model", "write")]
        originals = [(module, name, getattr(module, name)) for module, name, _ in targets]
        for (module, name, label), (_m, _n, original) in zip(targets, originals, strict=True):
            setattr(module, name, self._timed(original, label))
        try:
            yield self
        finally:
            for module, name, original in originals:
                setattr(module, name, original)

    def _timed(self, function, label: str):
        def call(*args, **kwargs):
            started = time.perf_counter()
            try:
                result = function(*args, **kwargs)
            finally:
                self.spent[label] = self.spent.get(label, 0.0) + time.perf_counter() - started
            if getattr(result, "iterations", None):
                self.iterations += result.iterations
            return result

        return call


def timed_run(project_id: int, **scope) -> dict:
    from backend.services import consensus

    clock = Clock()
    with clock.wrapping():
        started = time.perf_counter()
        outcome = consensus.run_consensus(project_id=project_id, **scope)
        total = time.perf_counter() - started
    parts = {k: clock.spent.get(k, 0.0) for k in ("read answers", "read results", "fit", "write")}
    return {"total": total, **parts, "rest": total - sum(parts.values()), "iterations": clock.iterations,
            "tasks": outcome["tasks"], "revised": outcome["revised"]}


def report(title: str, runs: list[dict]) -> None:
    middle = sorted(runs, key=lambda r: r["total"])[len(runs) // 2]
    others = ", ".join(f"{r['total']:.2f}" for r in runs)
    split = ", ".join(f"{k} {middle[k]:.2f}" for k in ("read answers", "read results", "fit", "write", "rest"))
    print(f"  {title:<12} {middle['total']:6.2f} s (runs {others}; median shown)  {split}; "
          f"{middle['iterations']} E-steps; {middle['tasks']:,} results written ({middle['revised']:,} re-versioned)")


def label_sets(folder) -> None:
    import warnings
    from pathlib import Path

    import pandas as pd

    from backend.quality import consensus as algorithms
    from backend.quality import em
    from backend.services import consensus_plan

    warnings.filterwarnings("ignore")  # crowd-kit 1.4.2 on pandas 3
    from crowdkit.aggregation import DawidSkene, MajorityVote

    options = {"max_iter": consensus_plan.MAX_ITER, "posterior_tol": consensus_plan.POSTERIOR_TOL}

    def plain(task, worker, value, k):
        run = em.run

        def unaccelerated(*args, **kwargs):
            return run(*args, **{**kwargs, "free": None})

        em.run = unaccelerated
        try:
            return algorithms.dawid_skene(task, worker, value, n_classes=k, **options)
        finally:
            em.run = run

    print(f"Label sets under {folder}: Dawid-Skene as consensus runs fit it (E-steps to {options['posterior_tol']:g})")
    print(f"  {'set':<10} {'answers':>7} {'tasks':>6} | {'E-steps':>7} {'plain':>6} | {'vs crowd-kit':>12} | "
          f"{'batch':>5} {'warm chain: labels':>18} {'max conf gap':>12}")
    for path in sorted(p for p in Path(folder).iterdir() if (p / "answers.csv").is_file()):
        frame = pd.read_csv(path / "answers.csv", dtype=str).drop_duplicates(["task", "worker"])
        labels = sorted(frame["label"].unique())
        code = {label: i for i, label in enumerate(labels)}
        tasks = sorted(frame["task"].unique())
        position = {t: i for i, t in enumerate(tasks)}
        task = frame["task"].map(position).to_numpy()
        worker = pd.factorize(frame["worker"])[0]
        value = frame["label"].map(code).to_numpy()
        k = len(labels)
        fresh = algorithms.dawid_skene(task, worker, value, n_classes=k, **options)
        slow = plain(task, worker, value, k)
        data = pd.DataFrame({"task": task, "worker": worker, "label": value})
        probas = MajorityVote().fit_predict_proba(data)
        priors, errors = probas.mean(), DawidSkene._m_step(data, probas)
        for _ in range(20_000):
            new = DawidSkene._e_step(data, priors, errors)
            priors, errors = new.mean(), DawidSkene._m_step(data, new)
            if (new - probas).abs().to_numpy().max() < 1e-9:
                break
            probas = new
        reference = new.idxmax(axis=1).reindex(np.arange(len(tasks))).to_numpy()
        size = 500 if len(tasks) >= 2_000 else 50
        params = None
        for end in range(size, len(tasks) + size, size):
            seen = task < end
            chained = algorithms.dawid_skene(task[seen], worker[seen], value[seen], n_classes=k, init=params,
                                             **options)
            params = chained.params
        gap = float(np.abs(chained.confidence - fresh.confidence).max())
        unlike_ck, unlike_chain = int((fresh.label != reference).sum()), int((chained.label != fresh.label).sum())
        print(f"  {path.name:<10} {task.size:>7,} {len(tasks):>6,} | {fresh.iterations:>7} {slow.iterations:>6} | "
              f"{unlike_ck:>12} | {size:>5} {unlike_chain:>18} {gap:>12.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--answers", type=int, default=150_000, help="answers in the project (3 a task)")
    parser.add_argument("--batch", type=int, default=500, help="tasks per batch")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each kind; the median is shown")
    parser.add_argument("--method", default="dawid_skene", choices=["dawid_skene", "one_coin", "weighted_majority"])
    parser.add_argument("--force", action="store_true", help="empty DATABASE_URL even without 'bench' in its name")
    parser.add_argument("--label-sets", nargs="?", const=str(ROOT.parent / "shared" / "data"), metavar="DIR",
                        help="only the label-set comparison (no database)")
    args = parser.parse_args()
    if args.label_sets:
        label_sets(args.label_sets)
        return
    url = database_url(args.force)
    from backend.services import consensus_plan

    print(f"Consensus bench on {url.split('@')[-1]}: {args.answers:,} answers, {args.answers // 3:,} tasks "
          f"x 3, batches of {args.batch}, {args.method}")
    prepare(url)
    started = time.perf_counter()
    project_id, last, _tasks = fill(url, args.answers, args.batch, args.method)
    print(f"  filled in {time.perf_counter() - started:.1f} s (not timed below)")
    snapshot(save=True)
    kinds = [("batch run", {"batch_ids": [last]}, None), ("warm start", {"batch_ids": [last]}, 0),
             ("cold run", {}, None)]
    for title, scope, threshold in kinds:
        runs = []
        for _ in range(args.repeat):
            snapshot(save=False)
            kept = consensus_plan.WARM_START_MIN_ANSWERS
            if threshold is not None:
                consensus_plan.WARM_START_MIN_ANSWERS = threshold
            try:
                runs.append(timed_run(project_id, **scope))
            finally:
                consensus_plan.WARM_START_MIN_ANSWERS = kept
        report(title, runs)
    print(f"  (median of {args.repeat}; the machine's other work moves single runs)")


if __name__ == "__main__":
    main()
