"""Where log lines go and how they look: ``server.log_format`` ``text`` (one readable line) or
``json`` (one JSON object per line) for every logger of the process — ours, aiohttp's access
and server logs, arq's — and for Python warnings.

A JSON line always has ``time`` (UTC, ISO 8601), ``level``, ``logger`` and ``message``, then
whatever fields the call passed as ``extra`` (the access log passes ``method``, ``path``,
``status``, ``duration_s``… — see ``http/access_log.py``) and ``exception`` with a traceback.

No credential is written, whoever logged it: the one handler carries ``RedactingFilter``, which
rewrites each record (message with its arguments, exception text, stack, ``extra`` fields)
through ``redaction.Redactor`` (so handlers added after it see the clean record too). The
formatters redact on their own as well: the text formatter its whole line, the JSON formatter
each field of a record the filter has not rewritten.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TextIO

from registry_service.redaction import FILTERED, Redactor, is_secret_name
from registry_service.settings import Settings

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Attributes every LogRecord has; anything else on a record came in through ``extra``.
_RECORD_ATTRIBUTES = frozenset(
    vars(logging.LogRecord("", logging.INFO, "", 0, "", None, None))
) | {"message", "asctime", "taskName"}

Redact = Callable[[str], str]
# Set on a record once ``RedactingFilter`` has rewritten it, so the JSON formatter need not walk
# its fields again (a leading "_" keeps it out of the written fields).
_REDACTED = "_redacted"


def _extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    return {
        key: value
        for key, value in vars(record).items()
        if key not in _RECORD_ATTRIBUTES and not key.startswith("_")
    }


def _redacted(value: Any, redact: Redact) -> Any:
    """``value`` ready for JSON with every string in it redacted and every value under a secret
    key (``{"Private-Token": …}``) hidden; other objects become their (redacted) text here
    rather than at ``json.dumps``, where nothing would look at them."""
    if isinstance(value, str):
        return redact(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, dict):
        return {
            str(k): FILTERED if is_secret_name(str(k)) else _redacted(v, redact)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [_redacted(v, redact) for v in value]
    return redact(str(value))


class RedactingFilter(logging.Filter):
    """Rewrites every record it sees so that it holds no credential (and lets all through)."""

    def __init__(self, redact: Redact) -> None:
        super().__init__()
        self._redact = redact

    def filter(self, record: logging.LogRecord) -> bool:
        redact = self._redact
        try:
            message = record.getMessage()
        except (TypeError, ValueError, KeyError):
            # A call whose arguments do not fit its message: without this, logging's error
            # report would print the raw arguments.
            message = f"{record.msg!s} (log arguments did not fit the message)"
        if self._plainly_clean(record, message):
            # Most records (every access line) hold nothing to hide: one screening pass over
            # all their text instead of one redaction per field.
            record.msg, record.args = message, None
            setattr(record, _REDACTED, True)
            return True
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            # The formatters use exc_text when it is set, so the traceback is formatted once.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        for key, value in _extra_fields(record).items():
            setattr(record, key, _redacted(value, redact))
        setattr(record, _REDACTED, True)
        return True

    def _plainly_clean(self, record: logging.LogRecord, message: str) -> bool:
        """True when the record holds only plain values and the redactor is sure to leave
        every string of them as it is."""
        if not isinstance(self._redact, Redactor) or record.exc_info or record.exc_text:
            return False
        if record.stack_info:
            return False
        texts = [message]
        for value in _extra_fields(record).values():
            if isinstance(value, str):
                texts.append(value)
            elif not (value is None or isinstance(value, bool | int | float)):
                return False  # a mapping may hide a value under a secret key
        # NUL joins them: a marker or a literal cannot span two strings through it.
        return not self._redact.may_change("\0".join(texts))


class TextLogFormatter(logging.Formatter):
    def __init__(self, redact: Redact | None = None) -> None:
        super().__init__(TEXT_FORMAT)
        self._redact = redact or Redactor()

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        if getattr(record, _REDACTED, False):
            # ``RedactingFilter`` rewrote every part of the line already (message, exception,
            # stack); the rest is the time, the level and the logger's name.
            return line
        return self._redact(line)


class JsonLogFormatter(logging.Formatter):
    def __init__(self, redact: Redact | None = None) -> None:
        super().__init__()
        self._redact = redact or Redactor()

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in _extra_fields(record).items():
            entry.setdefault(key, value)
        if record.exc_text:
            entry["exception"] = record.exc_text
        elif record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        if not getattr(record, _REDACTED, False):
            # Field by field, before encoding: redacting the encoded line could cut an escape.
            entry = _redacted(entry, self._redact)
        return json.dumps(entry, default=str)


def configure_logging(settings: Settings, stream: TextIO | None = None) -> None:
    """Send every log record, at INFO and above, to ``stream`` (stderr) in the configured
    format, with credentials (and the configured admin token and catalog password) redacted."""
    redact = Redactor(literals=[settings.auth.admin_token, *settings.catalog.passwords])
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(RedactingFilter(redact))
    if settings.server.log_format == "json":
        handler.setFormatter(JsonLogFormatter(redact))
    else:
        handler.setFormatter(TextLogFormatter(redact))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    logging.captureWarnings(True)
