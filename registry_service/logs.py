"""Where log lines go and how they look: ``server.log_format`` ``text`` (one readable line) or
``json`` (one JSON object per line) for every logger of the process — ours, aiohttp's access
and server logs, arq's — and for Python warnings.

A JSON line always has ``time`` (UTC, ISO 8601), ``level``, ``logger`` and ``message``, then
whatever fields the call passed as ``extra`` (the access log passes ``method``, ``path``,
``status``, ``duration_s``… — see ``http/access_log.py``) and ``exception`` with a traceback.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

from registry_service.settings import Settings

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Attributes every LogRecord has; anything else on a record came in through ``extra``.
_RECORD_ATTRIBUTES = frozenset(
    vars(logging.LogRecord("", logging.INFO, "", 0, "", None, None))
) | {"message", "asctime", "taskName"}


class JsonLogFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _RECORD_ATTRIBUTES and not key.startswith("_"):
                entry.setdefault(key, value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str)


def configure_logging(settings: Settings, stream: TextIO | None = None) -> None:
    """Send every log record, at INFO and above, to ``stream`` (stderr) in the configured
    format."""
    handler = logging.StreamHandler(stream or sys.stderr)
    if settings.server.log_format == "json":
        handler.setFormatter(JsonLogFormatter())
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    logging.captureWarnings(True)
