"""The code's guards as tests: ruff (style, no blind excepts), mypy --strict for the package,
and the import-linter layer contracts of setup.cfg. A red here is a real defect to mend."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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
