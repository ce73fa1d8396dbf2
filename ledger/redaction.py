"""What the ledger keeps of free text: a classification and a keyed hash, never the text.

The ledger is append-only: nothing written to it can be erased. So text a caller
supplies — a consent ``source`` a channel sent ("STOP from +351912345678"), an ack's
``provider_ref`` or ``error`` (a bounce quoting the e-mail address), an agent's override
``reason`` ("Mr Silva asked us not to"), a do-not-contact or suppression reason typed in
the console — is never stored in a record's ``data`` or ``object_repr``. Every call site
routes such a value through :func:`free_text`, which keeps

    {"class": "<kind>", "length": 27, "hmac": "<hex>", "contains": ["phone"]}

- ``class``: the classification the caller knows (the kind of source — ``channel``,
  ``api``, ``console``, ``system`` — see :func:`origin_of`; an error's category; ...);
- ``length``: the text's length in characters;
- ``hmac``: HMAC-SHA256 of the normalised text (NFKC, whitespace collapsed, stripped)
  under the pseudonym key (``settings.PSEUDONYM_KEY``, the key customer pseudonyms use),
  domain-separated, so whoever holds the key can match equal texts
  (:func:`free_text_hmac`), and nobody else can read or guess them cheaply;
- ``contains``: which kinds of personal data the text looked like it carried (``email``,
  ``phone``, ``digits`` — a long digit run such as an account or card number), so an
  officer sees that an erasure mattered without seeing the data.

A value the *code* defines — a reason code such as ``cooldown_after_decline``, a source
such as ``erasure`` — is not free text: pass the vocabulary as ``codes`` and a value in
it is kept as ``{"class": kind, "code": value}``. An empty value is
``{"class": kind, "length": 0}``.

The text itself lives only on the operational row (``Consent.source``,
``Message.provider_ref`` / ``Message.error``, ``Override.reason``, ``DoNotContact.reason``,
``SuppressionEntry.reason``), which erasure blanks.

Staff notes about catalog subjects — approval comments, marketer notes on offers,
campaigns and contact policies — are not about a customer and are the evidence a
regulator reads (why was this rejected?): :func:`staff_note` keeps them verbatim (bounded).
They must never be used for text that names or comes from a customer.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from collections.abc import Container
from typing import Any

from django.conf import settings

from core.actors import actor_name

# Classes of origin (the kind of source a text came from), see ``origin_of``.
ORIGIN_CHANNEL = "channel"
ORIGIN_API = "api"
ORIGIN_CONSOLE = "console"
ORIGIN_SYSTEM = "system"

STAFF_NOTE_MAX = 2000
_SCAN_MAX = 4000  # characters looked at for ``contains``: bounded work per call

_EMAIL = re.compile(r"[^\s@<>()\[\],;:\"']+@[^\s@<>()\[\],;:\"']+\.[^\s@<>()\[\],;:\"']+")
_PHONE = re.compile(r"(?<![\w+])\+?\d[\d\s().\-]{6,}\d(?!\w)")
_DIGITS = re.compile(r"\d{6,}")
_SPACE = re.compile(r"\s+")


def normalised_text(value: str) -> str:
    """The form the hash is taken over: NFKC, runs of whitespace as one space, stripped."""
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", value)).strip()


def free_text_hmac(value: str) -> str:
    """The keyed hash :func:`free_text` keeps of ``value`` (to match a text you hold)."""
    message = f"ledger-free-text\x00{normalised_text(value)}"
    return hmac.new(
        settings.PSEUDONYM_KEY.encode(), message.encode("utf-8", "surrogatepass"), hashlib.sha256
    ).hexdigest()


def _contains(value: str) -> list[str]:
    head = value[:_SCAN_MAX]
    found = []
    if _EMAIL.search(head):
        found.append("email")
    if _PHONE.search(head):
        found.append("phone")
    if _DIGITS.search(head):
        found.append("digits")
    return found


def free_text(value: Any, *, kind: str, codes: Container[str] = ()) -> dict[str, Any]:
    """What an audit record keeps of caller-supplied text ``value``: never the text.

    ``kind`` classifies it (the caller knows what it is); a value in ``codes`` (a
    vocabulary the code itself defines) is kept as a code.
    """
    text = "" if value is None else str(value)
    if not text.strip():
        return {"class": kind, "length": 0}
    if text in codes:
        return {"class": kind, "code": text}
    return {
        "class": kind,
        "length": len(text),
        "hmac": free_text_hmac(text),
        "contains": _contains(text),
    }


def origin_of(actor: Any) -> str:
    """The kind of source behind an actor: a channel system (an API client with the
    ``channel`` role), another API client, a console user, or the system itself."""
    if isinstance(actor, str) and not actor:
        return ORIGIN_SYSTEM
    name = actor_name(actor)
    if name.startswith("api:"):
        return ORIGIN_CHANNEL if getattr(actor, "role", None) == "channel" else ORIGIN_API
    if name.startswith("user:"):
        return ORIGIN_CONSOLE
    return ORIGIN_SYSTEM


def staff_note(value: Any, *, max_length: int = STAFF_NOTE_MAX) -> str:
    """A staff note about a catalog subject, kept verbatim (bounded); see the module
    docstring for why, and never for text that names or comes from a customer."""
    return ("" if value is None else str(value))[:max_length]
