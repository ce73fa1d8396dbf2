"""The API's JSON parser, and what makes free JSON storable.

The parser is DRF's strict JSON (no ``NaN``/``Infinity``) that also answers 400 instead
of 500 when Python's decoder gives up on deep nesting (``RecursionError``), and that
refuses text which is not Unicode: JSON's ``\\uXXXX`` escapes can spell an unpaired
surrogate (``"\\ud83d"``), which no UTF-8 text, database or response can hold. Such a
string or key anywhere in the body is a 400 ``validation_error`` naming where it is, so
no serializer, choice field or service ever sees one (and no error message echoes it).

``storable`` readies free JSON (event payloads, profile attributes) for every database
we run on: NUL characters, which PostgreSQL refuses in text and ``jsonb``, are replaced
with U+FFFD (as the audit ledger stores them; so would an unpaired surrogate be, for
callers other than the API); nesting deeper than ``MAX_DEPTH`` and non-finite numbers are
refused. Fields the API ignores are not held to any of it.
"""

from __future__ import annotations

import codecs
import json
import math
import re
from typing import Any

from rest_framework.exceptions import ParseError, UnsupportedMediaType, ValidationError
from rest_framework.parsers import JSONParser

MAX_DEPTH = 32
# How many places with text that is not Unicode one error names (the rest are not listed).
MAX_REPORTED = 20
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_SURROGATE = re.compile("[\ud800-\udfff]")
# In UTF-8 a surrogate can only come from a \uD800-\uDFFF escape (strict decoding refuses
# encoded ones): a body without one needs no walk. A correct pair is decoded into one
# character, so only unpaired ones are found by the walk.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


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


def printable(text: str) -> str:
    """``text`` as UTF-8 can carry it: each unpaired surrogate becomes the six characters
    of its escape (``\\ud83d``), so a message may say what was wrong without holding it."""
    if _SURROGATE.search(text) is None:
        return text
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _codepoints(text: str) -> str:
    return ", ".join(f"U+{ord(c):04X}" for c in dict.fromkeys(_SURROGATE.findall(text)))


def not_unicode(value: Any, path: str = "") -> dict[str, list[str]]:
    """Where ``value`` (parsed JSON) holds a string or key with an unpaired surrogate:
    the field's name as the error shape spells it (dotted, ``[i]`` for list items)
    -> messages. Empty when it is all Unicode."""
    found: dict[str, list[str]] = {}
    stack: list[tuple[str, Any]] = [(path, value)]
    while stack and len(found) < MAX_REPORTED:
        where, item = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                found[where or "non_field_errors"] = [
                    f"Is not valid Unicode: an unpaired surrogate ({_codepoints(item)}) "
                    "cannot be encoded as UTF-8."
                ]
        elif isinstance(item, dict):
            children = []
            for key, child in item.items():
                name = f"{where}.{printable(key)}" if where else printable(key)
                if _SURROGATE.search(key):
                    found[name] = [
                        f"The key is not valid Unicode: an unpaired surrogate "
                        f"({_codepoints(key)}) cannot be encoded as UTF-8."
                    ]
                children.append((name, child))
            stack.extend(reversed(children))
        elif isinstance(item, list):
            stack.extend(reversed([(f"{where}[{i}]", child) for i, child in enumerate(item)]))
    return found


def _text_codec(encoding: str) -> codecs.CodecInfo:
    """The codec of a declared charset, if it is one that turns bytes into text (not
    ``zlib``, ``base64`` or ``rot13``, which Python's codec registry also knows)."""
    try:
        info = codecs.lookup(encoding)
    except LookupError:
        raise ParseError(f"Unknown charset {encoding!r}.") from None
    if not getattr(info, "_is_text_encoding", True):
        raise UnsupportedMediaType(
            f"application/json; charset={encoding}",
            detail=f"The charset {encoding!r} is not a text encoding; send UTF-8.",
        )
    return info


class SafeJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        codec = _text_codec((parser_context or {}).get("encoding") or "utf-8")
        try:
            text = codec.streamreader(stream).read()
            data = json.loads(text, parse_constant=_reject_constant)
        except RecursionError:
            raise ParseError("JSON is nested too deeply.") from None
        except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError among them
            raise ParseError(f"JSON parse error - {exc}") from None
        # Surrogates come from JSON escapes, or straight from an escaping charset
        # (unicode_escape, utf-7); only then is the parsed body walked.
        if _SURROGATE_ESCAPE.search(text) or _SURROGATE.search(text):
            found = not_unicode(data)
            if found:
                raise ValidationError(found)
        return data
