"""The API's JSON parser, and what makes free JSON storable.

The parser is DRF's strict JSON (no ``NaN``/``Infinity``) that also answers 400 instead
of 500 when Python's decoder gives up on deep nesting (``RecursionError``).

``storable`` readies free JSON (event payloads, profile attributes) for every database
we run on: NUL characters and unpaired surrogates, which PostgreSQL refuses in text and
``jsonb``, are replaced with U+FFFD (as the audit ledger stores them); nesting deeper
than ``MAX_DEPTH`` and non-finite numbers are refused. Fields the API ignores are not
held to any of it.
"""

from __future__ import annotations

import codecs
import json
import math
import re
from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

MAX_DEPTH = 32
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def storable(value: Any, depth: int = 0) -> Any:
    """``value`` ready to store; raises ValueError for what cannot be stored at all."""
    if depth > MAX_DEPTH:
        raise ValueError(f"JSON is nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, str):
        return _clean_text(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("numbers must be finite")
        return value
    if isinstance(value, dict):
        return {_clean_text(key): storable(item, depth + 1) for key, item in value.items()}
    if isinstance(value, list):
        return [storable(item, depth + 1) for item in value]
    return value


def _clean_text(text: str) -> str:
    return _UNSTORABLE.sub("\ufffd", text) if _UNSTORABLE.search(text) else text


class SafeJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding") or "utf-8"
        try:
            decoded = codecs.getreader(encoding)(stream)
            return json.load(decoded, parse_constant=_reject_constant)
        except RecursionError:
            raise ParseError("JSON is nested too deeply.") from None
        except (ValueError, LookupError) as exc:
            # UnicodeDecodeError is a ValueError; LookupError is an unknown charset.
            raise ParseError(f"JSON parse error - {exc}") from None
