"""Distribution benchmark: claim-then-submit cycles over HTTP against `concord serve` on PostgreSQL.

    python bench/assign.py [--tasks 100000] [--big-tasks 1000000] [--clients 8,32,128] [--seconds 20] [--floor]

For each client count C, C simulated annotators (each with its own token and
keep-alive connection, spread over two load processes) loop claim -> submit on
a project with overlap 3. Prints cycles/s, p50/p99 latency of each call, and
the duplicates and overlap violations found afterwards (must be 0). Then runs
`pgbench` (tpcb-like) with the same client count for scale, and the same load
at --big-tasks to show the cost does not grow with project size.

With --floor it also drives `bench/floor_app.py` (claim and submit that do nothing, on the same
gunicorn configuration) with the same load: the most any Flask server could do on this machine.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

from _common import ROOT, bench_database_url, fresh_database

PORT = 8765
SERVER_LOG = Path(tempfile.gettempdir()) / "concord-bench-assign-server.log"  # the server's errors, if any


def setup_project(url: str, tasks: int, clients: int) -> tuple[int, list[str]]:
    from backend import db
    from backend.jobs import new_job_id
    from backend.services import accounts, datasets, projects

    accounts.configure_password_hashing(time_cost=1, memory_cost=1024)
    db.configure(url)
    org = accounts.create_organization(name=f"Bench {time.time_ns()}")
    manager = accounts.create_user(email=f"m{time.time_ns()}@bench.test", password="benchmark-pw", role="manager",
                                   organization_name=org.name)
    principal = accounts.principal_for_user(manager)
    project = projects.create_project(principal=principal, fields={
        "name": "Assign bench", "task_type": "single_choice", "labels": ["positive", "negative", "neutral"],
        "overlap": 3, "batch_size": 1000, "lease_seconds": 600, "status": "active"})
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as fh:
        for i in range(tasks):
            fh.write(json.dumps({"external_id": f"t{i}", "text": f"review number {i} with some words"}) + "\n")
    dataset, _ = datasets.queue_file_import(principal=principal, project_id=project.id, fmt="jsonl",
                                            filename="bench.jsonl", batch_size=1000, job_id=new_job_id())
    datasets.run_file_import(dataset_id=dataset.id, path=Path(fh.name))
    os.unlink(fh.name)
    secrets = []
    for i in range(clients):
        user = accounts.create_user(email=f"a{i}-{time.time_ns()}@bench.test", password="benchmark-pw",
                                    role="annotator")
        secrets.append(accounts.create_token(name="bench", user_id=user.id)[1])
    db.dispose()
    return project.id, secrets


SERVER = {"workers": 4, "threads": 4}


def start_server(url: str | None) -> subprocess.Popen:
    """`concord serve` on ``url``; with no url, the floor app on the same gunicorn settings."""
    env = {**os.environ, "DATABASE_URL": url or "", "SECRET_KEY": "bench", "CONCORD_PERIODIC_JOBS": "1"}
    env.pop("REDIS_URL", None)
    bin_dir = Path(sys.executable).parent
    if url:
        command = [str(bin_dir / "concord"), "serve", "--port", str(PORT),
                   "--workers", str(SERVER["workers"]), "--threads", str(SERVER["threads"])]
    else:
        command = [str(bin_dir / "gunicorn"), "--bind", f"127.0.0.1:{PORT}", "--workers", str(SERVER["workers"]),
                   "--threads", str(SERVER["threads"]),
                   "--worker-class", "gthread" if SERVER["threads"] > 1 else "sync",
                   "--no-control-socket", "--chdir", str(ROOT / "bench"), "floor_app:app"]
    proc = subprocess.Popen(command, cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=SERVER_LOG.open("w"),  # noqa: SIM115 - lives as long as the server
                            start_new_session=True)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", PORT), timeout=0.2).close()
            return proc
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("server did not start")


def load_process(project_id: int, secrets: list[str], seconds: float, out: mp.Queue) -> None:
    claims: list[float] = []
    submits: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def annotator(secret: str) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
        headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
        my_claims, my_submits = [], []
        while time.monotonic() < stop_at:
            t0 = time.perf_counter()
            conn.request("POST", f"/api/v1/projects/{project_id}/assignments", body=b"", headers=headers)
            response = conn.getresponse()
            body = response.read()
            my_claims.append(time.perf_counter() - t0)
            if response.status == 204:
                continue
            if response.status not in (200, 201):
                errors.append(f"claim {response.status}")
                continue
            assignment = json.loads(body)["id"]
            payload = json.dumps({"answer": {"choice": "positive"}, "active_seconds": 3}).encode()
            t0 = time.perf_counter()
            conn.request("POST", f"/api/v1/assignments/{assignment}/submit", body=payload, headers=headers)
            response = conn.getresponse()
            response.read()
            my_submits.append(time.perf_counter() - t0)
            if response.status != 200:
                errors.append(f"submit {response.status}")
        with lock:
            claims.extend(my_claims)
            submits.extend(my_submits)

    threads = [threading.Thread(target=annotator, args=(s,)) for s in secrets]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.put((claims, submits, errors))


def run_load(project_id: int, secrets: list[str], seconds: float) -> dict:
    out: mp.Queue = mp.Queue()
    halves = [secrets[0::2], secrets[1::2]]
    procs = [mp.Process(target=load_process, args=(project_id, h, seconds, out)) for h in halves if h]
    started = time.perf_counter()
    for p in procs:
        p.start()
    claims, submits, errors = [], [], []
    for _ in procs:
        c, s, e = out.get()
        claims += c
        submits += s
        errors += e
    for p in procs:
        p.join()
    elapsed = time.perf_counter() - started

    def pct(values, q):
        values = sorted(values)
        return values[min(len(values) - 1, int(q * len(values)))] * 1000 if values else float("nan")

    return {"cycles_per_s": len(submits) / elapsed, "claim_p50": pct(claims, 0.5), "claim_p99": pct(claims, 0.99),
            "submit_p50": pct(submits, 0.5), "submit_p99": pct(submits, 0.99), "errors": len(errors),
            "error_kinds": dict(Counter(errors)), "cycles": len(submits)}


def violations(url: str, project_id: int) -> dict:
    import psycopg

    with psycopg.connect(url.replace("+psycopg", "")) as conn:
        over = conn.execute("SELECT count(*) FROM tasks WHERE project_id = %s AND answer_count > required_overlap",
                            (project_id,)).fetchone()[0]
        mismatched = conn.execute(
            "SELECT count(*) FROM tasks t WHERE project_id = %s AND answer_count <> "
            "(SELECT count(*) FROM assignments a WHERE a.task_id = t.id AND a.status = 'submitted')",
            (project_id,)).fetchone()[0]
        duplicates = conn.execute(
            "SELECT count(*) FROM (SELECT task_id, worker_id FROM assignments WHERE project_id = %s "
            "GROUP BY 1, 2 HAVING count(*) > 1) d", (project_id,)).fetchone()[0]
    return {"over_overlap": over, "count_mismatch": mismatched, "duplicates": duplicates}


def pgbench_tps(url: str, clients: int, seconds: int) -> tuple[float, int] | None:
    """pgbench tpcb-like TPS, and the client count used (capped below the server's max_connections)."""
    if not shutil.which("pgbench"):
        return None
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    args = ["-h", parsed.host or "127.0.0.1", "-p", str(parsed.port or 5432), "-U", parsed.username or "postgres"]
    env = {**os.environ, "PGPASSWORD": parsed.password or ""}
    subprocess.run(["psql", *args, "-d", "postgres", "-qc", "DROP DATABASE IF EXISTS concord_pgbench"],
                   env=env, check=True, capture_output=True)
    subprocess.run(["psql", *args, "-d", "postgres", "-qc", "CREATE DATABASE concord_pgbench"], env=env, check=True,
                   capture_output=True)
    subprocess.run(["pgbench", *args, "-i", "-s", "10", "-q", "concord_pgbench"], env=env, check=True,
                   capture_output=True)
    limit = subprocess.run(["psql", *args, "-d", "postgres", "-tAc", "SHOW max_connections"], env=env, check=True,
                           capture_output=True, text=True).stdout.strip()
    clients = min(clients, int(limit) - 10)
    out = subprocess.run(["pgbench", *args, "-c", str(clients), "-j", "2", "-T", str(seconds), "concord_pgbench"],
                         env=env, check=True, capture_output=True, text=True).stdout
    match = re.search(r"tps = ([\d.]+)", out)
    return (float(match.group(1)), clients) if match else None


def _figures_line(label: str, figures: dict) -> str:
    return (f"{label} C={figures['clients']:>3}  cycles/s={figures['cycles_per_s']:7.1f}  "
            f"claim p50/p99={figures['claim_p50']:6.1f}/{figures['claim_p99']:6.1f} ms  "
            f"submit p50/p99={figures['submit_p50']:6.1f}/{figures['submit_p99']:6.1f} ms  "
            f"errors={figures['errors']}{figures['error_kinds'] or ''}")


def _load_each(server: subprocess.Popen, project_id: int, secrets: list[str], clients: list[int],
               seconds: float) -> dict[int, dict]:
    try:
        run_load(project_id, secrets[:4], 2)  # warm up connections and caches
        return {c: {**run_load(project_id, secrets[:c], seconds), "clients": c} for c in clients}
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def measure(url: str, tasks: int, clients: list[int], seconds: float, with_pgbench: bool,
            floor: bool = False) -> dict[int, dict]:
    fresh_database(url)
    project_id, secrets = setup_project(url, tasks, max(clients))
    results = _load_each(start_server(url), project_id, secrets, clients, seconds)
    for figures in results.values():
        figures.update(violations(url, project_id))
    # The floor runs right after, so that both face the same machine and the same pgbench figure.
    floors = _load_each(start_server(None), 1, ["floor"] * max(clients), clients, seconds) if floor else {}
    for c, figures in results.items():
        # pgbench runs with the servers stopped, so both get the machine and the connection slots to themselves.
        measured = pgbench_tps(url, c, int(seconds)) if with_pgbench else None
        lines = [(f"tasks={tasks:>9,}", figures)] + ([("floor (empty Flask app)", floors[c])] if floor else [])
        for label, each in lines:
            line = _figures_line(label, each)
            if "duplicates" in each:  # the floor has no database to check
                line += (f" duplicates={each['duplicates']} over-overlap={each['over_overlap']} "
                         f"count-mismatch={each['count_mismatch']}")
            if measured:
                tps, used = measured
                line += f"  pgbench tps={tps:.0f} (-c {used}) ratio={each['cycles_per_s'] / tps:.3f}"
            print(line, flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--big-tasks", type=int, default=1_000_000)
    parser.add_argument("--clients", default="8,32,128")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--server-workers", type=int, default=SERVER["workers"], help="gunicorn processes")
    parser.add_argument("--server-threads", type=int, default=SERVER["threads"], help="threads per process")
    parser.add_argument("--floor", action="store_true", help="also measure the do-nothing app (bench/floor_app.py)")
    args = parser.parse_args()
    SERVER.update(workers=args.server_workers, threads=args.server_threads)
    url = bench_database_url()
    clients = [int(c) for c in args.clients.split(",")]
    small = measure(url, args.tasks, clients, args.seconds, with_pgbench=True, floor=args.floor)
    if args.big_tasks:
        c = 32 if 32 in clients else clients[0]
        big = measure(url, args.big_tasks, [c], args.seconds, with_pgbench=False)
        print(f"throughput at {args.big_tasks:,} tasks vs {args.tasks:,} (C={c}): "
              f"{big[c]['cycles_per_s'] / small[c]['cycles_per_s']:.0%}")


if __name__ == "__main__":
    main()
