"""Marshmallow fields and the base schema for GitLab-style request parameters.

GitLab (Grape) answers bad parameters with ``400 {"error": "<name> is invalid"}`` (or
``is missing``), several joined by ", ". ``GitLabParams`` carries those messages, and
``parse_params`` merges the query string, a form or JSON body and the path parameters in
Rack's order (query < body < path) before loading them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, TypeVar

from aiohttp import web
from marshmallow import EXCLUDE, Schema, ValidationError, fields
from multidict import MultiDictProxy

from registry_service.errors import ParamsInvalid

TRUE_WORDS = frozenset({"1", "on", "t", "true", "y", "yes"})
FALSE_WORDS = frozenset({"0", "off", "f", "false", "n", "no"})

INVALID = "is invalid"
MISSING = "is missing"


class GitLabBool(fields.Field[bool]):
    """Grape's boolean coercion: true/True/TRUE/t/1/yes/on… and their false forms."""

    default_error_messages = {"invalid": INVALID}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, str):
            word = value.strip().lower()
            if word in TRUE_WORDS:
                return True
            if word in FALSE_WORDS:
                return False
        raise self.make_error("invalid")


# Values beyond SQLite's 64-bit INTEGER cannot be stored or compared in a query.
INT_RANGE = range(-(2**63), 2**63)


class GitLabInt(fields.Field[int]):
    """A decimal string or JSON integer, within 64 bits."""

    default_error_messages = {"invalid": INVALID}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if isinstance(value, bool):
            raise self.make_error("invalid")
        if isinstance(value, int) and value in INT_RANGE:
            return value
        if isinstance(value, str):
            text = value.strip()
            digits = text.lstrip("+-")
            if digits.isascii() and digits.isdigit() and int(text) in INT_RANGE:
                return int(text)
        raise self.make_error("invalid")


class GitLabStr(fields.Field[str]):
    default_error_messages = {"invalid": INVALID}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if isinstance(value, str):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        raise self.make_error("invalid")


class GitLabStrList(fields.Field[list[str]]):
    """An array of strings: a JSON list, repeated ``key[]=`` params, or a comma list."""

    default_error_messages = {"invalid": INVALID}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> list[str]:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return list(value)
        raise self.make_error("invalid")


class GitLabDate(fields.Field[dt.date]):
    default_error_messages = {"invalid": INVALID}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dt.date:
        if isinstance(value, str):
            try:
                return dt.date.fromisoformat(value.strip()[:10])
            except ValueError:
                pass
        raise self.make_error("invalid")


class GitLabParams(Schema):
    """Base of every ``*Params`` schema: unknown keys dropped, GitLab's messages."""

    class Meta:
        unknown = EXCLUDE

    def handle_error(self, error: ValidationError, data: Any, **kwargs: Any) -> None:
        raise ParamsInvalid(format_errors(error.messages))


def format_errors(messages: Any) -> str:
    """Grape's wording: ``keep_n is invalid, tags is invalid``."""
    parts: list[str] = []
    if isinstance(messages, Mapping):
        for name, value in messages.items():
            if isinstance(value, Mapping):
                # A Hash parameter's own fields, as Grape names them: ``parent[child]``.
                inner = {name if k == "_schema" else f"{name}[{k}]": v for k, v in value.items()}
                parts.append(format_errors(inner))
                continue
            texts = value if isinstance(value, list) else [value]
            for text in texts:
                if name == "_schema":
                    parts.append(str(text))
                elif isinstance(text, str) and text.startswith(("is ", "are ", "does ")):
                    parts.append(f"{name} {text}")
                elif isinstance(text, str) and text.startswith("Missing data"):
                    parts.append(f"{name} {MISSING}")
                else:
                    parts.append(f"{name} {INVALID}")
    else:
        parts.append(str(messages))
    return ", ".join(parts)


SchemaT = TypeVar("SchemaT", bound=Schema)


FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})


async def read_form(request: web.Request) -> MultiDictProxy[Any]:
    """The form body; a malformed one (a multipart body without its boundary…) is 400."""
    try:
        return await request.post()
    except ValueError:
        raise ParamsInvalid("body is invalid") from None


async def request_data(request: web.Request) -> dict[str, Any]:
    """Query string, then form or JSON body, then path parameters, later ones winning."""
    data: dict[str, Any] = {}
    for key in request.query:
        values = request.query.getall(key)
        if key.endswith("[]"):
            data[key[:-2]] = list(values)
        else:
            data[key] = values[-1]
    # body_exists, not can_read_body: the identity middleware may already have read the body
    # (a private_token there), and aiohttp keeps what it read for post() and json().
    if request.body_exists:
        if request.content_type in FORM_TYPES:
            form = await read_form(request)
            for key in form:
                values = [v for v in form.getall(key) if isinstance(v, str)]
                if key.endswith("[]"):
                    data[key[:-2]] = values
                elif values:
                    data[key] = values[-1]
        elif request.content_type == "application/json":
            try:
                body = await request.json()
            except ValueError:
                raise ParamsInvalid("body is invalid") from None
            if isinstance(body, dict):
                data.update(body)
    data.update(request.match_info)
    return data


async def parse_params(request: web.Request, schema: type[SchemaT]) -> dict[str, Any]:
    loaded: dict[str, Any] = schema().load(await request_data(request))
    return loaded
