"""`make bench`: B12 Clinic at clinic-network scale, on PostgreSQL. Prints the figures and writes
bench/results.json. Not part of `make test` (tests/test_bench_smoke.py runs a tiny version).

Steps: a fresh database; `generate_clinic --patients N`; the engine alone; the daily refresh; the
protocol change preview (`preview_patients_per_s`);
dashboard, worklist and chart served by gunicorn (production settings) and timed from a separate
client process; the same dashboard lists as hand-written SQL; one reminder scan; sending the
reminders to a local SMTP sink. Each measurement runs in a process of its own (bench/measure.py).

    BENCH_PATIENTS=20000 BENCH_REQUESTS=200 python bench/run.py [--output bench/results.json]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable

GOALS = [  # (figure, comparison, goal) at 20,000 patients on the 2-core machine (issue 6; the pages: issue 16)
    ("engine_patients_per_s", ">=", 20000),
    ("refresh_all_s", "<", 20),
    ("dashboard_p95_ms", "<", 60),
    ("worklist_p95_ms", "<", 60),
    ("chart_p95_ms", "<", 100),
    ("dashboard_vs_sql", "<=", 2),
    ("scan_s", "<", 5),
    ("emails_per_s", ">=", 500),  # issue 16
    ("import_rows_per_s", ">=", 5000),  # issue 13: 600,000 rows in under two minutes
    ("preview_patients_per_s", ">=", 20000),  # issue 16: a protocol change previewed at engine speed
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"nothing answered on port {port}")


def recreate_database(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    maintenance = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(maintenance, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')


def vacuum(url: str) -> None:
    """VACUUM (ANALYZE) the whole database: what autovacuum (off on this machine's server) would have
    done to a freshly loaded database before the next nightly refresh. It sets the visibility map that
    index-only scans need; the refresh then leaves the statuses it does not change untouched."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("VACUUM (ANALYZE)")


class Bench:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.results: dict[str, object] = {}

    def manage(self, *args: str) -> str:
        proc = subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True, text=True)
        if proc.returncode:
            raise SystemExit(f"manage.py {' '.join(args)} failed:\n{proc.stderr[-3000:]}")
        return proc.stdout

    def measure(self, what: str, *args: str, env: dict[str, str] | None = None) -> dict[str, object]:
        proc = subprocess.run(
            [PYTHON, "bench/measure.py", what, *args], cwd=ROOT, env=env or self.env, capture_output=True, text=True
        )
        if proc.returncode:
            raise SystemExit(f"measure {what} failed:\n{proc.stderr[-3000:]}")
        figures = json.loads(proc.stdout.strip().splitlines()[-1])
        self.results.update({k: v for k, v in figures.items() if k not in ("cookie", "chart_patients")})
        return figures

    def step(self, title: str) -> None:
        print(f"-- {title}", flush=True)


def serve_and_time(bench: Bench, cookie: str, chart_patients: list[int], requests: int) -> None:
    port = free_port()
    server = subprocess.Popen(
        [PYTHON, "-m", "gunicorn", "b12clinic.wsgi", "-b", f"127.0.0.1:{port}", "-w", "2", "--log-level", "warning"],
        cwd=ROOT,
        env=bench.env,
        start_new_session=True,
    )
    try:
        wait_for_port(port)
        pages = {
            "dashboard": ["/dashboard/"],
            "worklist": ["/worklist/"],
            "chart": [f"/patients/{pid}/" for pid in chart_patients],
        }
        proc = subprocess.run(
            [PYTHON, "bench/client.py", str(port), cookie, json.dumps(pages), str(requests)],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        if proc.returncode:
            raise SystemExit(f"client failed: {proc.stdout}{proc.stderr}")
        for page, figures in json.loads(proc.stdout).items():
            for key, value in figures.items():
                bench.results[f"{page}_{key}"] = value
        workers = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
        peaks = []
        for pid in workers:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peaks.append(int(line.split()[1]) / 1024)
        bench.results["web_worker_peak_rss_mb"] = round(max(peaks), 1) if peaks else None
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def cpu_seconds(pid: int) -> float:
    """CPU time (user and system) of a process and its living children (a Celery worker's pool)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for one in [pid, *map(int, Path(f"/proc/{pid}/task/{pid}/children").read_text().split())]:
        fields = Path(f"/proc/{one}/stat").read_text().rpartition(")")[2].split()
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def send_to_sink(bench: Bench, broker: str) -> None:
    """Send the scan's reminders to a local SMTP sink: first synchronously in one process (the
    `send_reminders` path), then through the broker with two Celery worker processes (production)."""
    port = free_port()
    sink = subprocess.Popen(
        [PYTHON, "-m", "aiosmtpd", "-n", "-c", "aiosmtpd.handlers.Sink", "-l", f"127.0.0.1:{port}"],
        cwd=ROOT,
        start_new_session=True,
    )
    env = {
        **bench.env,
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(port),
        "EMAIL_USE_TLS": "0",
        "CELERY_BROKER_URL": broker,
    }
    worker = None
    try:
        wait_for_port(port)
        bench.measure("emails", env=env)
        sink_cpu = cpu_seconds(sink.pid)
        figures = bench.measure("email_costs", env=env)
        sent = int(figures["email_costs_sent"])  # type: ignore[arg-type]
        bench.results["email_cpu_ms_sink"] = round((cpu_seconds(sink.pid) - sink_cpu) / max(sent, 1) * 1000, 3)
        import redis

        redis.Redis.from_url(broker).flushdb()  # the benchmark's own Redis database: no stale tasks
        worker = subprocess.Popen(
            [PYTHON, "-m", "celery", "-A", "b12clinic", "worker", "-c", "2", "-l", "warning"]
            + ["--without-gossip", "--without-mingle", "--without-heartbeat"],
            cwd=ROOT,
            env=env,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(3)  # the workers connect; tasks queued before they are ready simply wait
        before = {"worker": cpu_seconds(worker.pid), "sink": cpu_seconds(sink.pid)}
        bench.measure("celery_emails", env=env)
        sent = int(bench.results["emails_sent_by_workers"])  # type: ignore[arg-type]
        for name, pid in (("worker", worker.pid), ("sink", sink.pid)):
            used = cpu_seconds(pid) - before[name]
            bench.results[f"emails_cpu_ms_{name}"] = round(used / max(sent, 1) * 1000, 3)
    finally:
        for process in (worker, sink):
            if process is not None:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=30)


def measure_pages(bench: Bench, requests: int) -> None:
    bench.step("pages over HTTP (gunicorn, 2 workers; client in its own process)")
    login = bench.measure("session")
    chart_patients = list(login["chart_patients"])  # type: ignore[arg-type]
    bench.measure("queries", str(chart_patients[0]))
    bench.measure("sql", str(requests))
    serve_and_time(bench, str(login["cookie"]), chart_patients, requests)
    # The page's median over the SQL's median, both measured over the same number of runs; and
    # over the SQL's best run (how the figure was computed before issue 16).
    for name, sql_figure in (
        ("dashboard_vs_sql", "dashboard_sql_ms"),
        ("dashboard_vs_sql_best", "dashboard_sql_best_ms"),
    ):
        bench.results[name] = round(float(bench.results["dashboard_p50_ms"]) / float(bench.results[sql_figure]), 2)  # type: ignore[arg-type]


def verdicts(results: dict[str, object]) -> list[str]:
    lines = []
    for name, op, goal in GOALS:
        value = results.get(name)
        if not isinstance(value, int | float):
            lines.append(f"  {name:<24} {'n/a':>10}   goal {op} {goal}   -")
            continue
        met = {">=": value >= goal, "<=": value <= goal, "<": value < goal}[op]
        lines.append(f"  {name:<24} {value:>10}   goal {op} {goal}   {'met' if met else 'MISSED'}")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--patients", type=int, default=int(os.environ.get("BENCH_PATIENTS", "20000")))
    parser.add_argument("--requests", type=int, default=int(os.environ.get("BENCH_REQUESTS", "200")))
    parser.add_argument(
        "--database", default=os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/b12bench")
    )
    parser.add_argument("--output", help="default bench/results.json; with --only, bench/var/results-ONLY.json")
    parser.add_argument("--broker", default=os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/14"))
    parser.add_argument(
        "--import-patients",
        type=int,
        default=int(os.environ.get("BENCH_IMPORT_PATIENTS", "0")),
        help="patients whose files the import benchmark reads (default: all, --patients)",
    )
    parser.add_argument("--reuse", action="store_true", help="measure the database as it is (no regeneration)")
    parser.add_argument(
        "--only",
        choices=["emails", "pages"],
        help="measure only this part (emails: the scan and sending; pages: the pages and the SQL floor)",
    )
    args = parser.parse_args()
    if args.output is None:  # a partial run never overwrites the full figures
        name = f"var/results-{args.only}.json" if args.only else "results.json"
        args.output = str(ROOT / "bench" / name)
    if not args.database.startswith(("postgres://", "postgresql://")):
        raise SystemExit("the benchmark runs on PostgreSQL: set BENCH_DATABASE_URL=postgres://...")

    var = ROOT / "bench" / "var"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("EMAIL_", "CELERY_", "REDIS_"))},
        "DATABASE_URL": args.database,
        "DEBUG": "0",  # production settings: no query log, compressed static files
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
        "SITE_URL": "https://127.0.0.1",
        # The pages are timed, not the login: the session is made directly, with no second factor.
        "MFA_REQUIRED": "0",
        "VAR_DIR": str(var),
        "DJANGO_SETTINGS_MODULE": "b12clinic.settings",
    }
    bench = Bench(env)
    started = time.perf_counter()
    bench.results.update(
        {
            "patients": args.patients,
            "date": datetime.date.today().isoformat(),
            "machine": f"{os.cpu_count()} cores",
        }
    )

    if args.reuse:
        bench.step("the existing database, migrated")
        bench.manage("migrate", "--noinput", "-v", "0")
    else:
        bench.step(f"fresh database, {args.patients} generated patients")
        recreate_database(args.database)
        bench.manage("migrate", "--noinput", "-v", "0")
        t = time.perf_counter()
        print(bench.manage("generate_clinic", "--patients", str(args.patients)).strip())
        bench.results["generate_s"] = round(time.perf_counter() - t, 1)
    bench.manage("collectstatic", "--noinput", "-v", "0")
    bench.step("VACUUM (ANALYZE), as autovacuum would")
    t = time.perf_counter()
    vacuum(args.database)
    bench.results["vacuum_s"] = round(time.perf_counter() - t, 1)

    if args.only == "emails":
        bench.step("reminder scan and sending")
        bench.measure("scan")
        send_to_sink(bench, args.broker)
        return finish(bench, args, started)

    if args.only == "pages":
        measure_pages(bench, args.requests)
        return finish(bench, args, started)

    bench.step("engine alone (one core)")
    bench.measure("engine")
    bench.step("daily refresh of every active patient")
    bench.measure("refresh")
    bench.step("protocol change preview (the default profile's patients; nothing written)")
    bench.measure("preview")
    measure_pages(bench, args.requests)
    importing = args.import_patients or args.patients
    bench.step(f"register import ({importing} patients' files, every row checked, written through the actions)")
    bench.measure("import_rows", str(importing))
    bench.step("reminder scan and sending")
    bench.measure("scan")
    send_to_sink(bench, args.broker)
    return finish(bench, args, started)


def finish(bench: Bench, args: argparse.Namespace, started: float) -> int:
    bench.results["total_s"] = round(time.perf_counter() - started, 1)
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(bench.results, indent=2) + "\n")
    print(f"\nResults ({args.output}):")
    for key, value in bench.results.items():
        print(f"  {key:<32} {value}")
    print("\nGoals (issue 6, at 20,000 patients):")
    print("\n".join(verdicts(bench.results)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
