"""Field-by-field differences between two versions of a subject (the approval screens and
the offer page's version history show the same rows)."""

from __future__ import annotations

import difflib
import json
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder


def _flatten(value: Any, prefix: str = "") -> dict[str, str]:
    """A snapshot as ``{dotted.path: text}`` so two versions compare field by field."""
    if isinstance(value, dict):
        out: dict[str, str] = {}
        for key in sorted(value):
            out.update(_flatten(value[key], f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
        out = {}
        for index, item in enumerate(value):
            out.update(_flatten(item, f"{prefix}[{index}]"))
        return out
    if isinstance(value, str):
        return {prefix: value}
    return {prefix: json.dumps(value, sort_keys=True, cls=DjangoJSONEncoder)}


def snapshot_diff(old: dict[str, Any] | None, new: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows of (field, old, new, changed, lines) where ``lines`` is a line diff of texts."""
    before = _flatten(old or {})
    after = _flatten(new or {})
    rows = []
    for key in sorted(before.keys() | after.keys()):
        a, b = before.get(key), after.get(key)
        lines = []
        if (
            a != b
            and a is not None
            and b is not None
            and ("\n" in a or "\n" in b or len(a) + len(b) > 80)
        ):
            for line in difflib.ndiff(a.splitlines(), b.splitlines()):
                if line.startswith("? "):
                    continue
                lines.append({"op": {"- ": "del", "+ ": "add"}.get(line[:2], ""), "text": line[2:]})
        rows.append({"field": key, "old": a, "new": b, "changed": a != b, "lines": lines})
    return rows
