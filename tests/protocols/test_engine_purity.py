"""The engine is plain Python: no Django import anywhere under protocols/engine/, and its rule
catalogue lists exactly the rule ids of GUIDANCE.md."""

from __future__ import annotations

import ast
import os
import pathlib
import re
import subprocess
import sys

import pytest

from protocols.engine.rules import ALERT_SEVERITY, RULES

ENGINE = pathlib.Path(__file__).resolve().parents[2] / "protocols" / "engine"
GUIDANCE = pathlib.Path(__file__).resolve().parents[3] / "shared" / "protocol" / "GUIDANCE.md"


@pytest.mark.parametrize("path", sorted(ENGINE.glob("*.py")), ids=lambda p: p.name)
def test_it_imports_nothing_from_django(path: pathlib.Path) -> None:
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""] if node.level == 0 else []
        else:
            continue
        for name in names:
            assert name.split(".")[0] not in ("django", "patients", "accounts", "audit", "reminders"), (path.name, name)


def test_it_runs_without_django_loaded() -> None:
    code = (
        "import sys, json; from protocols.engine.cases import evaluate_cases;"
        "from protocols.engine.profiles import BUILTIN_PROFILES;"
        "r = evaluate_cases({'as_of': '2026-01-08'}, BUILTIN_PROFILES);"
        "assert 'django' not in sys.modules, 'django was imported'; print(r['phase'])"
    )
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ENGINE.parents[1], env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "not_started"


def test_it_knows_every_rule_of_the_guidance() -> None:
    if not GUIDANCE.is_file():
        if os.environ.get("CI"):
            pytest.fail(f"{GUIDANCE} is missing; CI must have ../shared beside the project")
        pytest.skip("../shared/protocol/GUIDANCE.md is not beside this checkout")
    ids = set(re.findall(r"\b((?:SCHED|MON|STOP|ALERT)-[A-Z0-9-]*[A-Z0-9])\b", GUIDANCE.read_text()))
    assert ids == set(RULES)
    assert {i for i in ids if i.startswith("ALERT-")} == set(ALERT_SEVERITY)


def test_it_gives_every_rule_a_text_and_a_source() -> None:
    for rule in RULES.values():
        assert rule.text.endswith(".") and rule.source
