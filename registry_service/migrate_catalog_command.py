"""``registry-service migrate-catalog --from sqlite:///… --to postgresql://…``: its arguments
and what it prints. The copy and its check are ``catalog.copying``'s.

Every line printed passes through the log redactor with the target's password as a literal,
so neither the URL's password nor an error quoting it reaches the terminal.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any
from urllib.parse import unquote, urlsplit

from registry_service.redaction import Redactor
from registry_service.settings import is_postgresql_url

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


def add_migrate_catalog_parser(sub: Any) -> None:
    """The ``migrate-catalog`` subcommand on the CLI's subparsers."""
    command = sub.add_parser(
        "migrate-catalog",
        help="copy a SQLite catalog into an empty PostgreSQL database and verify the copy",
        description="Copy every table of a SQLite catalog into an empty PostgreSQL database"
        " (migrated to this version's schema first), then compare each table's row count and"
        " checksum on both sides. Stop the registry first: writes made during the copy are"
        " not copied. Exits 1 if the target has rows or any table differs.",
    )
    command.add_argument(
        "--from",
        dest="source",
        required=True,
        metavar="sqlite:///PATH",
        help="the SQLite catalog file, spelled as catalog.url: sqlite:////abs/registry.sqlite3"
        " (absolute), sqlite:///data/registry.sqlite3 (relative to the working directory)",
    )
    command.add_argument(
        "--to",
        dest="target",
        required=True,
        metavar="postgresql://USER:PASSWORD@HOST/DB",
        help="the PostgreSQL database (empty, or with the catalog's schema and no rows)",
    )


async def migrate_catalog(args: argparse.Namespace) -> int:
    # Imported here: the copy needs the PostgreSQL driver, which every other command
    # (``serve`` on its embedded default above all) must start without loading.
    from registry_service.catalog.copying import (
        CopyFailed,
        CopyRefused,
        copy_catalog,
        sqlite_path,
    )

    # As written and percent-decoded: an error message may quote either.
    password = urlsplit(args.target).password or ""
    redact = Redactor(literals={password, unquote(password)} - {""})

    def say(text: str, *, error: bool = False) -> None:
        print(redact(text), file=sys.stderr if error else sys.stdout, flush=True)

    if not is_postgresql_url(args.target):
        say(f"registry-service: --to is not a postgresql:// URL: {args.target}", error=True)
        return EXIT_USAGE
    try:
        source = sqlite_path(args.source)
    except CopyRefused as exc:
        say(f"registry-service: --from: {exc}", error=True)
        return EXIT_USAGE
    say(f"copying {source} to {args.target}")
    try:
        tables = await copy_catalog(
            source, args.target, copied=lambda name, rows: say(f"  copied {name}: {rows:,} rows")
        )
    except (CopyRefused, CopyFailed) as exc:
        say(f"registry-service: {exc}", error=True)
        return EXIT_FAILED
    # A connection or COPY failure names the server, never the password (redacted anyway).
    except (OSError, ConnectionError) as exc:
        say(f"registry-service: cannot reach {args.target}: {exc}", error=True)
        return EXIT_FAILED
    width = max(len(t.table) for t in tables)
    say(f"{'table':{width}}  {'sqlite rows':>12}  {'postgresql rows':>15}  checksum")
    for t in tables:
        verdict = (
            t.source_checksum[:16]
            if t.matches
            else (f"MISMATCH sqlite {t.source_checksum[:16]} postgresql {t.target_checksum[:16]}")
        )
        say(f"{t.table:{width}}  {t.source_rows:>12,}  {t.target_rows:>15,}  {verdict}")
    bad = [t.table for t in tables if not t.matches]
    if bad:
        say(f"registry-service: the copy differs in {', '.join(bad)}", error=True)
        return EXIT_FAILED
    total = sum(t.source_rows for t in tables)
    say(f"verified: {len(tables)} tables, {total:,} rows, counts and checksums equal")
    return EXIT_OK
