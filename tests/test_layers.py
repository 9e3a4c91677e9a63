"""The house has floors: each app imports only the floors below it (lazy imports inside functions
included), so a change has one obvious room and nothing calls upward or in a circle.

The floors, bottom to top (README "Layout"):
  protocols.engine  the pure rules of GUIDANCE.md (no Django at all; tests/protocols/test_engine_purity.py)
  toolkit           non-clinical helpers that import nothing from the project (a command's progress)
                    (protocols.engine and toolkit share the bottom floor: neither imports the other)
  accounts          users and roles
  protocols         protocol profiles: the settings a clinic admin edits, versioned
  patients          the clinical record: models, validation, the services that write it, its own reads
  audit             who read which record
  care              the care status: loading facts, evaluating, storing, explaining, counting
  outreach          bringing patients back: appointments, contact attempts, the clinic's capacity
  reminders         the reminder outbox, its rules, emails and the staff digest
  clinic            the application layer: actions (every write), pages, the admin
  exchange          the register import and the CSV exports, through the actions
  labs_in           lab results received from the laboratory (HL7 v2 over MLLP, files), their queue
                    (exchange and labs_in share a floor: neither imports the other)
  fhir_api          the FHIR R4 API: records out (read, $everything, bulk $export), lab results in
  demo              demo and benchmark data, made through the actions
  b12clinic         the project: settings, URLs, the Celery app
"""

from __future__ import annotations

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
FLOORS: tuple[tuple[str, ...], ...] = (
    ("protocols.engine", "toolkit"),
    ("accounts",),
    ("protocols",),
    ("patients",),
    ("audit",),
    ("care",),
    ("outreach",),
    ("reminders",),
    ("clinic",),
    ("exchange", "labs_in"),
    ("fhir_api",),
    ("demo",),
    ("b12clinic",),
)
NOT_PROJECT_CODE = {"migrations", "tests", "bench", "scripts", "docs", "static", "templates", "var", ".venv"}


def floor_of(module: str) -> int | None:
    """The floor of a dotted module name (the longest matching prefix wins), None outside the project."""
    best: tuple[int, int] | None = None
    for level, prefixes in enumerate(FLOORS):
        for prefix in prefixes:
            if module == prefix or module.startswith(prefix + "."):
                if best is None or len(prefix) > best[1]:
                    best = (level, len(prefix))
    return None if best is None else best[0]


def project_modules() -> dict[str, pathlib.Path]:
    modules = {}
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if set(parts) & NOT_PROJECT_CODE or floor_of(parts[0]) is None:
            continue
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


def imports_of(module: str, path: pathlib.Path) -> list[tuple[str, int]]:
    """Every module `path` imports, at the top or inside a function, relative imports resolved."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            found.append((base, node.lineno))
            # `from care import selectors` imports the module care.selectors
            found += [(f"{base}.{alias.name}", node.lineno) for alias in node.names]
    return found


def upward_imports(modules: dict[str, pathlib.Path]) -> list[str]:
    problems = []
    for module, path in sorted(modules.items()):
        here = floor_of(module)
        for imported, line in imports_of(module, path):
            there = floor_of(imported)
            if there is None or imported not in modules and imported.rpartition(".")[0] not in modules:
                continue
            same_app = imported.split(".")[0] == module.split(".")[0] and there == here
            if there > here or (there == here and not same_app):
                where = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path.name
                problems.append(f"{where}:{line} {module} (floor {here}) imports {imported} (floor {there})")
    return problems


def test_it_finds_the_project_code() -> None:
    modules = project_modules()
    assert {
        "clinic.actions",
        "care.services",
        "patients.services",
        "reminders.outbox",
        "protocols.engine.evaluate",
        "toolkit.progress",
    } <= set(modules)


def test_it_imports_only_downward() -> None:
    assert upward_imports(project_modules()) == []


def test_every_app_has_a_floor() -> None:
    apps = {p.parent.name for p in ROOT.glob("*/apps.py")}
    assert apps and all(floor_of(app) is not None for app in apps), apps


@pytest.mark.parametrize(
    ("source", "importer", "imported", "upward"),
    [
        ("from clinic import actions\n", "patients.services", "clinic.actions", True),
        ("def f():\n    from care.services import care_status_refresh\n", "patients.services", "care.services", True),
        ("import reminders.outbox\n", "care.selectors", "reminders.outbox", True),
        ("from patients.models import Patient\n", "care.services", "patients.models", False),
        ("from .models import CareStatus\n", "care.services", "care.models", False),
        ("from django.db import models\n", "protocols.engine.rules", "django.db", False),
        ("from protocols.models import ProtocolProfile\n", "protocols.engine.evaluate", "protocols.models", True),
        ("from audit.models import ChartView\n", "care.services", "audit.models", False),
        ("from care.models import CareStatus\n", "audit.services", "care.models", True),
        ("from patients.models import Patient\n", "toolkit.progress", "patients.models", True),
        ("from protocols.engine import units\n", "toolkit.progress", "protocols.engine.units", True),
        ("from toolkit.progress import Progress\n", "care.services", "toolkit.progress", False),
    ],
)
def test_it_catches_an_upward_import(
    tmp_path: pathlib.Path, source: str, importer: str, imported: str, upward: bool
) -> None:
    path = tmp_path / "module.py"
    path.write_text(source)
    other = tmp_path / "other.py"
    other.write_text("")
    modules = {importer: path, imported: other}
    assert bool(upward_imports(modules)) is upward
