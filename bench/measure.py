"""One benchmark measurement in its own process (so its peak memory is its own); prints JSON.

    python bench/measure.py engine|refresh|queries|sql|scan|emails

Run by bench/run.py against the benchmark database; not part of the test suite.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "b12clinic.settings")

import django  # noqa: E402

django.setup()

from django.utils import timezone  # noqa: E402


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def engine() -> dict[str, object]:
    """Evaluations per second on one core, facts already in memory (the engine alone)."""
    from patients.models import Patient
    from protocols.engine.evaluate import evaluate
    from protocols.services import _Profiles, facts_by_patient

    ids = list(Patient.objects.filter(is_active=True).order_by("pk").values_list("pk", flat=True))
    today = timezone.localdate()
    facts = []
    for start in range(0, len(ids), 2000):
        facts.extend(facts_by_patient(ids[start : start + 2000], as_of=today).values())
    profiles = _Profiles()
    pairs = [(f, profiles.for_facts(f)[1]) for f in facts]
    rows = sum(len(f.injections) + len(f.labs) + len(f.symptoms) for f in facts)
    best = None
    for _ in range(3):
        started = time.perf_counter()
        for f, profile in pairs:
            evaluate(f, profile)
        elapsed = time.perf_counter() - started
        best = elapsed if best is None else min(best, elapsed)
    return {
        "engine_patients_per_s": round(len(pairs) / best),
        "engine_us_per_patient": round(best / len(pairs) * 1e6, 1),
        "engine_facts_rows_per_patient": round(rows / len(pairs), 1),
    }


def refresh() -> dict[str, object]:
    from protocols.services import care_status_refresh_all

    started = time.perf_counter()
    summary = care_status_refresh_all()
    return {
        "refresh_all_s": round(time.perf_counter() - started, 2),
        "refresh_patients": summary.patients,
        "refresh_peak_rss_mb": peak_rss_mb(),
    }


MEASURES = {"engine": engine, "refresh": refresh}

if __name__ == "__main__":
    print(json.dumps(MEASURES[sys.argv[1]](*sys.argv[2:])))
