"""``server.log_format``: ``json`` makes every record one JSON object per line (fields given as
``extra`` included, tracebacks as a field); ``text`` stays one readable line."""

from __future__ import annotations

import io
import json
import logging
import sys
import warnings
from collections.abc import Callable, Iterator

import pytest

from registry_service.logs import JsonLogFormatter, TextLogFormatter, configure_logging
from registry_service.settings import Settings

Configure = Callable[[str], io.StringIO]
# The configured admin token may have any shape: it is hidden by value.
ADMIN_TOKEN = "configured-admin-secret-0123456789"


@pytest.fixture
def log_to_string() -> Iterator[Configure]:
    """``configure_logging`` into a string; the root logger is restored afterwards."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)

    def configure(log_format: str) -> io.StringIO:
        stream = io.StringIO()
        settings = Settings().replace("server", log_format=log_format)
        configure_logging(settings.replace("auth", admin_token=ADMIN_TOKEN), stream)
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


class Opaque:
    """An ``extra`` value that JSON cannot encode: written as its text."""

    def __str__(self) -> str:
        return "Opaque(PRIVATE-TOKEN: from-str)"


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_no_credential_reaches_the_log_from_any_part_of_a_record(
    log_to_string: Configure, log_format: str
) -> None:
    stream = log_to_string(log_format)
    log = logging.getLogger("registry_service.http")
    log.info("url %s and %r", "/u?Private_Token=from-args", {"Authorization": "Bearer from-a-dict"})
    log.warning("admin token %s seen", ADMIN_TOKEN, extra={"query": "job-token=from-extra",
                "headers": {"Deploy-Token": "from-nested"}, "thing": Opaque()})
    try:
        raise ValueError("b'PRIVATE-TOKEN: from-exception\\x01'")
    except ValueError:
        log.exception("refused %s", "glpat-fromAShapedToken")
    log.info("where", stack_info=True, extra={"note": "access_token=from-stack-extra"})
    log.info("%s %s", "too few args")  # the arguments do not fit: still no raw argument

    text = stream.getvalue()
    for secret in ("from-args", "from-a-dict", ADMIN_TOKEN, "from-extra", "from-nested",
                   "from-str", "from-exception", "fromAShapedToken", "from-stack-extra",
                   "too few args"):
        assert secret not in text, secret
    assert "ValueError" in text
    assert "Bearer [FILTERED]" in text
    if log_format == "json":
        lines = json_lines(stream)
        assert [line["level"] for line in lines] == ["info", "warning", "error", "info", "info"]
        assert lines[1]["query"] == "job-token=[FILTERED]"
        assert lines[1]["headers"] == {"Deploy-Token": "[FILTERED]"}
        assert "PRIVATE-TOKEN: [FILTERED]" in str(lines[2]["exception"])
        assert "test_logs.py" in str(lines[3]["stack"])


def test_a_record_is_redacted_for_every_handler_after_ours(log_to_string: Configure) -> None:
    log_to_string("text")
    seen: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record)

    logging.getLogger().addHandler(Keep())
    logging.getLogger("aiohttp.server").info("line %s", "PRIVATE-TOKEN: abc")
    (record,) = seen
    assert record.getMessage() == "line PRIVATE-TOKEN: [FILTERED]"


@pytest.mark.parametrize(
    "formatter", [JsonLogFormatter(), TextLogFormatter()], ids=["json", "text"]
)
def test_the_formatters_redact_on_their_own(formatter: logging.Formatter) -> None:
    """A handler given only one of our formatters (no filter) writes no credential either."""
    try:
        raise ValueError("Authorization: Basic YWxpY2U6cGFzc3dvcmQtMTIzNDU2")
    except ValueError:
        record = logging.LogRecord(
            "x", logging.ERROR, __file__, 1, "via %s", ("?access_token=from-args",),
            sys.exc_info(),
        )
    record.query = "PRIVATE_TOKEN=from-extra"
    text = formatter.format(record)
    for secret in ("from-args", "YWxpY2U6cGFzc3dvcmQtMTIzNDU2"):
        assert secret not in text
    assert "Authorization: Basic [FILTERED]" in text
    if isinstance(formatter, JsonLogFormatter):
        assert json.loads(text)["query"] == "PRIVATE_TOKEN=[FILTERED]"


def test_the_catalog_password_is_hidden_even_without_its_url() -> None:
    # A driver's message may quote the password alone (a failed connection's repr, a DSN
    # parsed into parts): the configured one is hidden by value, percent-encoded or not.
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    stream = io.StringIO()
    url = "postgresql://registry:pg%2Fsecret-42@db.internal:5432/registry"
    try:
        configure_logging(Settings().replace("catalog", url=url), stream)
        log = logging.getLogger("registry_service.catalog")
        log.warning("catalog at %s refused", url)
        log.warning("connect(user='registry', password='x') with %s", "pg/secret-42")
        log.warning("quoted %s", "pg%2Fsecret-42")
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
        logging.captureWarnings(False)
    text = stream.getvalue()
    assert "secret-42" not in text
    assert "postgresql://registry:[FILTERED]@db.internal:5432/registry" in text


SECRETS_IN_A_FIELD = [
    "Authorization: Basic dXNlcjpwYXNzd29yZDEyMzQ1Njc4",
    "private_token=glpat-abcdefghijklmnopqrst",
    ADMIN_TOKEN,
    "redis://:hunter2hunter2@redis:6379",
]


@pytest.mark.parametrize("log_format", ["text", "json"])
@pytest.mark.parametrize("secret", SECRETS_IN_A_FIELD)
@pytest.mark.parametrize("field", range(6))
def test_a_secret_in_any_one_field_of_an_access_record_is_hidden(
    log_to_string: Configure, log_format: str, secret: str, field: int
) -> None:
    # Access records carry many clean fields, which the filter screens together in one pass;
    # one secret anywhere among them must still send the record through full redaction.
    values = ["GET", "/v2/group/app/manifests/latest", "", "127.0.0.1", "curl/8.0", "0123abcd"]
    values[field] = f"x {secret} y"
    names = ["method", "path", "query", "remote", "user_agent", "request_id"]
    stream = log_to_string(log_format)
    logging.getLogger("aiohttp.access").info(
        '%s "%s %s"', values[3], values[0], values[1],
        extra={**dict(zip(names, values, strict=True)), "status": 200, "size_bytes": None},
    )
    written = stream.getvalue()
    for part in ("dXNlcjpwYXNzd29yZDEyMzQ1Njc4", "glpat-abcdefghijklmnopqrst", ADMIN_TOKEN,
                 "hunter2hunter2"):
        assert part not in written
    if log_format == "json" or field in (0, 1, 3):  # a text line shows only its message
        assert "[FILTERED]" in written
