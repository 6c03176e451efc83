"""The code's guards as tests: ruff (style, no blind excepts), mypy --strict for the package,
and the import-linter layer contracts of setup.cfg, each shown to refuse the import it exists
for. A red here is a real defect to mend."""

from __future__ import annotations

import configparser
import re
import subprocess
import sys
from pathlib import Path

import grimp
import pytest
from importlinter.api import read_configuration
from importlinter.contracts.forbidden import ForbiddenContract
from importlinter.contracts.layers import LayersContract

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False
    )


def test_ruff_finds_nothing() -> None:
    result = run(str(BIN / "ruff"), "check", "registry_service", "jobs", "tests", "bench")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_passes_for_the_package() -> None:
    result = run(sys.executable, "-m", "mypy", "registry_service", "jobs")
    assert result.returncode == 0, result.stdout + result.stderr


def test_layer_contracts_hold() -> None:
    result = run(str(BIN / "lint-imports"))
    assert result.returncode == 0, result.stdout + result.stderr


# One import each contract of setup.cfg exists to refuse, added to the real import graph.
PROBES = [
    ("handlers-without-queries", "registry_service.api.tags", "registry_service.catalog.tags"),
    ("handlers-without-queries", "registry_service.oci.manifests", "registry_service.catalog.db"),
    (
        "handlers-without-queries",
        "registry_service.fixture.routes",
        "registry_service.catalog.fixture",
    ),
    ("handlers-without-queries", "registry_service.http.health", "registry_service.catalog.stats"),
    ("runners-from-cli", "registry_service.app", "jobs.runner"),
    ("runners-from-cli", "registry_service.http.middleware", "jobs.worker"),
    ("runners-from-cli", "registry_service.api.jobs", "jobs.arq_queue"),
    ("no-driver-above-catalog", "registry_service.services.tags", "aiosqlite"),
    ("no-driver-above-catalog", "registry_service.services.jobs", "sqlite3"),
    ("no-driver-above-catalog", "jobs.gc", "sqlite3"),
    ("job-layers", "registry_service.services.tags", "jobs.execute"),
    ("job-layers", "jobs.execute", "jobs.runner"),
    ("job-layers", "jobs.cleanup", "jobs.context"),
]


def contract_kept(contract_id: str, probe: tuple[str, str] | None = None) -> bool:
    """Check one contract of setup.cfg against the package's import graph, plus ``probe``
    (importer, imported) as if some module had that import."""
    config = read_configuration(str(ROOT / "setup.cfg"))
    options = next(c for c in config["contracts_options"] if c["id"] == contract_id)
    contract_class = {"forbidden": ForbiddenContract, "layers": LayersContract}[options["type"]]
    contract = contract_class(options["name"], config["session_options"], options)
    graph = grimp.build_graph("registry_service", "jobs", include_external_packages=True)
    if probe is not None:
        importer, imported = probe
        graph.add_import(importer=importer, imported=imported, line_number=1, line_contents="")
    return bool(contract.check(graph, verbose=False).kept)


@pytest.mark.parametrize(("contract_id", "importer", "imported"), PROBES)
def test_each_contract_refuses_the_import_it_exists_for(
    contract_id: str, importer: str, imported: str
) -> None:
    assert contract_kept(contract_id)
    assert not contract_kept(contract_id, (importer, imported))


def test_every_job_module_is_in_a_job_layer() -> None:
    """A job module missing from the job layers would be checked by no layer at all."""
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    layers = config["importlinter:contract:job-layers"]["layers"]
    layered = set(re.findall(r"\bjobs\.(\w+)", layers))
    modules = {path.stem for path in (ROOT / "jobs").glob("*.py")} - {"__init__"}
    assert modules - layered == set()
