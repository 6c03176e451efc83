"""Every ``registry-service admin`` command, byte for byte: a recorded transcript replayed.

``data/admin_transcript.txt`` holds each command line, its exit status and its exact stdout
and stderr — successes, tables, ``--json``, and every refusal an operator can meet (unknown
user, group or project; taken paths; bad scopes or access levels) — run in order on one empty
data directory. The transcript pins what the command prints, so a change to how the commands
are built cannot change what an operator (or a script reading ``--json``) sees.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.server import run_cli

pytestmark = pytest.mark.e2e

TRANSCRIPT = Path(__file__).parent / "data" / "admin_transcript.txt"


@dataclass(frozen=True)
class Step:
    args: list[str]
    exit_code: int
    stdout: str
    stderr: str


def _text(lines: list[str]) -> str:
    return "".join(f"{line}\n" for line in lines)


def read_transcript(path: Path) -> list[Step]:
    steps: list[Step] = []
    lines = [line for line in path.read_text().splitlines() if not line.startswith("#")]
    blocks: list[list[str]] = []
    for line in lines:
        if line.startswith("=== "):
            blocks.append([])
        blocks[-1].append(line)
    for block in blocks:
        head, status, out_marker, *rest = block
        assert status.startswith("exit ") and out_marker == "--- stdout", block
        split = rest.index("--- stderr")
        steps.append(
            Step(
                args=head.removeprefix("=== ").split(" "),
                exit_code=int(status.removeprefix("exit ")),
                stdout=_text(rest[:split]),
                stderr=_text(rest[split + 1 :]),
            )
        )
    return steps


def test_the_transcript_covers_every_admin_command() -> None:
    steps = read_transcript(TRANSCRIPT)
    commands = {tuple(s.args[:2]) for s in steps}
    assert commands == {
        ("users", "create"), ("users", "list"),
        ("tokens", "create"), ("tokens", "list"), ("tokens", "revoke"),
        ("groups", "create"), ("groups", "list"),
        ("projects", "create"), ("projects", "list"),
        ("members", "add"),
        ("deploy-tokens", "create"), ("deploy-tokens", "list"), ("deploy-tokens", "revoke"),
    }
    assert {s.exit_code for s in steps} == {0, 1}


def test_admin_commands_print_what_the_transcript_says(tmp_path: Path) -> None:
    env = {"REGISTRY_SERVICE_DATA_DIR": str(tmp_path / "data")}
    for step in read_transcript(TRANSCRIPT):
        done = run_cli(["admin", *step.args], env, cwd=tmp_path)
        assert (done.returncode, done.stdout, done.stderr) == (
            step.exit_code, step.stdout, step.stderr,
        ), " ".join(step.args)
