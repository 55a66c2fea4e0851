"""JSON decoded so that every value can be kept in bronze as the text it arrived as.

Python's :mod:`json` turns numbers into ``int``/``float``, so ``19.90`` would come back as
``19.9``, ``1e5`` as ``100000.0`` and ``1e400`` as ``inf``. :func:`loads` keeps each number as a
:class:`JsonNumber` — its literal text — and :func:`as_text` gives a value's text for bronze:
strings as they are, numbers as written, ``true``/``false``, objects and lists as JSON whose
numbers are again the literal text (``{"a": 1e5}`` stays ``{"a": 1e5}``, never ``{"a": "1e5"}``).
Used by the JSON-lines reader and the REST reader alike.
"""

from __future__ import annotations

import json
from typing import Any


class JsonNumber(str):
    """A JSON number as its literal text (``1e5``, ``19.90``, ``-0``, a 5,000-digit integer …)."""

    __slots__ = ()


def loads(text: str) -> Any:
    """``json.loads`` with every number (and the non-standard ``NaN``/``Infinity``) a :class:`JsonNumber`."""
    return json.loads(text, parse_int=JsonNumber, parse_float=JsonNumber, parse_constant=JsonNumber)


def as_text(value: Any) -> str | None:
    """A decoded JSON value as bronze text; ``None`` (JSON null) stays a null."""
    if value is None or isinstance(value, str):  # a JsonNumber is its literal text
        return None if value is None else str(value)
    if isinstance(value, (dict, list, bool)):
        try:
            return dumps(value)
        except RecursionError:
            raise ValueError("a JSON value nested too deeply to keep as text") from None
    raise TypeError(f"not a value json_text.loads returns: {type(value).__name__}")


def dumps(value: Any) -> str:
    """JSON text of a decoded value, numbers written exactly as they were received."""
    if isinstance(value, JsonNumber):
        return str(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k, ensure_ascii=False)}: {dumps(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(dumps(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)  # str, bool, None


def kind(value: Any) -> str:
    """The JSON type of a decoded value, for error messages: ``an object``, ``an array``, ``a number`` …"""
    if isinstance(value, JsonNumber):
        return "a number"
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), type(value).__name__)
