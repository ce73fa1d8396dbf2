"""Change history for console pages, from django-simple-history."""

from __future__ import annotations

from typing import Any

IGNORED_FIELDS = frozenset({"updated_at"})


def history_rows(instance: Any, limit: int = 25) -> list[dict[str, Any]]:
    """The newest ``limit`` historical rows, each with what changed from the one before.

    One query (``limit + 1`` rows with their users); the diffs are computed in Python.
    """
    records = list(
        instance.history.select_related("history_user").order_by("-history_id")[: limit + 1]
    )
    rows = []
    for index, record in enumerate(records[:limit]):
        previous = records[index + 1] if index + 1 < len(records) else None
        changes = []
        if previous is not None:
            delta = record.diff_against(previous)
            changes = [
                {"field": change.field, "old": change.old, "new": change.new}
                for change in delta.changes
                if change.field not in IGNORED_FIELDS
            ]
        rows.append({"record": record, "changes": changes})
    return rows
