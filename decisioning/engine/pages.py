"""Page patterns: which pages a trigger fires on, and which pages weigh an offer.

A pattern is a shell-style glob over a page's path (``fnmatch``, case-sensitive): ``*``
matches any run of characters, ``/`` included, ``?`` one character, ``[...]`` a set.
``/loans/*`` matches ``/loans/personal`` and ``/loans/car/rates``; a pattern ending in
``/*`` also matches its bare section, so ``/loans/*`` matches ``/loans`` and ``/loans/``.

A page is compared by its path: ``https://bank.example/loans/car?amount=5000#top`` is
``/loans/car`` (a query string or fragment never takes part, and is never recorded).
Patterns start with ``/``; that is also how an offer's trigger weights tell a page
pattern (``/loans/*: 2.0``) from an event type (``loan_calculator_used: 2.5``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from fnmatch import translate
from functools import lru_cache
from urllib.parse import urlsplit

MAX_PAGE_LENGTH = 2_000
PAGE_PREFIX = "/"


def is_page_pattern(key: str) -> bool:
    """True for a page pattern (``/loans/*``), false for an event type."""
    return key.startswith(PAGE_PREFIX)


def page_path(page: object) -> str | None:
    """The path of a page or URL, without query or fragment; None when it is no page."""
    if not isinstance(page, str):
        return None
    text = page.strip()
    if not text or len(text) > MAX_PAGE_LENGTH:
        return None
    if "://" in text or text.startswith("//"):
        try:
            text = urlsplit(text).path or "/"
        except ValueError:
            return None
    else:
        text = text.split("#", 1)[0].split("?", 1)[0]
    return text or None


@lru_cache(maxsize=4_096)
def _compiled(pattern: str) -> re.Pattern[str]:
    regex = translate(pattern)
    if pattern.endswith("/*"):
        # "/loans/*" also matches the section itself: "/loans" and "/loans/".
        regex = f"(?:{regex}|{translate(pattern[:-2])}|{translate(pattern[:-1])})"
    return re.compile(regex)


def page_matches(pattern: str, path: str) -> bool:
    """Does ``path`` (see ``page_path``) match ``pattern``?"""
    return _compiled(pattern).match(path) is not None


def first_match(patterns: Iterable[str], path: str | None) -> str | None:
    """The first pattern ``path`` matches, or None (also when there is no path)."""
    if path is None:
        return None
    for pattern in patterns:
        if page_matches(pattern, path):
            return pattern
    return None


__all__ = ["first_match", "is_page_pattern", "page_matches", "page_path"]
