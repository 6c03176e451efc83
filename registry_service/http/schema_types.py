"""OpenAPI types for entity fields whose marshmallow class says nothing of the JSON they
produce (``Function``, ``Method``, ``Constant``): passed as ``metadata=``, which apispec copies
into the generated document (``api/openapi.py``)."""

from __future__ import annotations

from typing import Any

INT: dict[str, Any] = {"type": "integer"}
INT_OR_NULL: dict[str, Any] = {"type": "integer", "nullable": True}
STR: dict[str, Any] = {"type": "string"}
STR_OR_NULL: dict[str, Any] = {"type": "string", "nullable": True}
BOOL: dict[str, Any] = {"type": "boolean"}
TIME: dict[str, Any] = {"type": "string", "format": "date-time"}
TIME_OR_NULL: dict[str, Any] = {"type": "string", "format": "date-time", "nullable": True}
DATE_OR_NULL: dict[str, Any] = {"type": "string", "format": "date", "nullable": True}
STR_LIST: dict[str, Any] = {"type": "array", "items": {"type": "string"}}
NULL: dict[str, Any] = {"type": "string", "nullable": True, "enum": [None]}
OBJECT: dict[str, Any] = {"type": "object"}
OBJECT_LIST: dict[str, Any] = {"type": "array", "items": {"type": "object"}}
REPOSITORY_STATUS: dict[str, Any] = {
    "type": "string",
    "nullable": True,
    "enum": [None, "delete_scheduled", "delete_ongoing", "delete_failed"],
}
