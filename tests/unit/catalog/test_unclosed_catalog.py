"""A catalog nobody closed must not keep the process alive (a failing test, an error path)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = """
import asyncio, sys
from pathlib import Path
from registry_service.catalog.db import Catalog

LEFT_OPEN = []  # still referenced at exit, as a failed test's traceback keeps its locals


async def main() -> None:
    LEFT_OPEN.append(await Catalog.open(Path(sys.argv[1]) / "registry.sqlite3"))

asyncio.run(main())
print("done")
"""


def test_a_process_with_an_unclosed_catalog_still_exits(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path)],
        capture_output=True, text=True, timeout=20, check=False,
    )
    assert result.stdout.strip() == "done"
    assert result.returncode == 0
