"""``server.log_format``: ``json`` makes every record one JSON object per line (fields given as
``extra`` included, tracebacks as a field); ``text`` stays one readable line."""

from __future__ import annotations

import io
import json
import logging
import warnings
from collections.abc import Callable, Iterator

import pytest

from registry_service.logs import configure_logging
from registry_service.settings import Settings

Configure = Callable[[str], io.StringIO]


@pytest.fixture
def log_to_string() -> Iterator[Configure]:
    """``configure_logging`` into a string; the root logger is restored afterwards."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)

    def configure(log_format: str) -> io.StringIO:
        stream = io.StringIO()
        configure_logging(Settings().replace("server", log_format=log_format), stream)
        return stream

    yield configure
    root.handlers[:], level = saved
    root.setLevel(level)
    logging.captureWarnings(False)


def json_lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_json_format_writes_one_object_per_record(log_to_string: Configure) -> None:
    stream = log_to_string("json")
    logging.getLogger("registry_service.jobs").info("job %d done", 7, extra={"job_id": 7})
    try:
        raise ValueError("multi\nline")
    except ValueError:
        logging.getLogger("aiohttp.server").exception("Error handling request")

    first, second = json_lines(stream)
    assert set(first) == {"time", "level", "logger", "message", "job_id"}
    assert first["level"] == "info"
    assert first["logger"] == "registry_service.jobs"
    assert first["message"] == "job 7 done"
    assert first["job_id"] == 7
    assert isinstance(first["time"], str) and first["time"].endswith("Z")
    assert second["level"] == "error"
    assert second["message"] == "Error handling request"
    assert "ValueError: multi\nline" in str(second["exception"])


def test_json_format_takes_in_python_warnings(log_to_string: Configure) -> None:
    stream = log_to_string("json")
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.warn("old API", DeprecationWarning, stacklevel=1)

    (line,) = json_lines(stream)
    assert line["logger"] == "py.warnings"
    assert "DeprecationWarning: old API" in str(line["message"])


def test_text_format_writes_readable_lines(log_to_string: Configure) -> None:
    stream = log_to_string("text")
    logging.getLogger("registry_service").warning("disk %s", "full", extra={"free_bytes": 0})

    (line,) = stream.getvalue().splitlines()
    assert line.endswith(" WARNING registry_service: disk full")
    with pytest.raises(json.JSONDecodeError):
        json.loads(line)
