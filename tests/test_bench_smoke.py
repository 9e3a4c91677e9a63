"""A tiny `make bench`: every step runs end to end and writes every figure (the real one is not part
of the test suite). Needs PostgreSQL and Redis, like the benchmark; fails in CI without them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
FIGURES = [
    "generate_s",
    "engine_patients_per_s",
    "refresh_all_s",
    "refresh_peak_rss_mb",
    "preview_patients_per_s",
    "preview_evaluate_patients_per_s",
    "dashboard_p50_ms",
    "dashboard_p95_ms",
    "dashboard_queries",
    "worklist_p50_ms",
    "worklist_p95_ms",
    "worklist_queries",
    "chart_p50_ms",
    "chart_p95_ms",
    "chart_queries",
    "dashboard_sql_ms",
    "dashboard_vs_sql",
    "dashboard_sql_best_ms",
    "dashboard_vs_sql_best",
    "scan_s",
    "emails_per_s",
    "import_rows_per_s",
    "emails_per_s_one_process",
    "web_worker_peak_rss_mb",
]


def test_the_benchmark_runs_end_to_end(postgres_database: str, redis_url: str, tmp_path: Path) -> None:
    database = urlunsplit(urlsplit(postgres_database)._replace(path="/b12bench_smoke"))
    broker = urlunsplit(urlsplit(redis_url)._replace(path="/15"))
    output = tmp_path / "results.json"
    proc = subprocess.run(
        [
            sys.executable,
            "bench/run.py",
            "--patients",
            "120",
            "--requests",
            "5",
            "--import-patients",
            "30",
            "--database",
            database,
            "--broker",
            broker,
            "--output",
            str(output),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    results = json.loads(output.read_text())
    for figure in FIGURES:
        assert isinstance(results.get(figure), int | float) and results[figure] >= 0, figure
    assert results["patients"] == 120 and results["emails_sent_by_workers"] == results["emails_queued"]
    assert "Goals (issue 6" in proc.stdout
