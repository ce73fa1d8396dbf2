"""Automated pre-checks run when content or targeting is submitted for approval.

Each check is a small pure function over text or field names that returns a list of
``Finding``; the reviewer sees them on the approval request and a ``blocking`` one
prevents approval. Nothing here touches the database or imports a higher layer: the
callers (offers, campaigns) gather the inputs and pass them in.

Rules (offer eligibility, campaign audience) are read through ``rule_fields``. The rule
language belongs to ``decisioning.engine.rules``, which this layer may not import, so
the engine's parser is plugged in at start-up with ``register_rule_parser`` (dependency
injection; see ``decisioning`` app config). Until one is registered a small tokenizer
of the same lexical grammar extracts the field names and catches unbalanced
parentheses and unterminated strings.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from django.conf import settings

BLOCKING = "blocking"
WARNING = "warning"

DEFAULT_BANNED_PHRASES: tuple[str, ...] = (
    "guaranteed approval",
    "guaranteed acceptance",
    "risk-free",
    "no credit check",
    "no credit checks",
    "100% approval",
    "free money",
    "cannot be refused",
)

# The protected attributes of DESIGN.md, plus common spellings of the same thing.
PROTECTED_ATTRIBUTES: frozenset[str] = frozenset(
    {"gender", "marital_status", "ethnicity", "religion", "nationality"}
)
PROTECTED_ALIASES: frozenset[str] = frozenset(
    {"sex", "marital", "civil_status", "race", "ethnic_origin", "religious_belief", "citizenship"}
)
ATTRIBUTE_PREFIX = "attributes."

SMS_GSM7_LIMIT = 160
SMS_UCS2_LIMIT = 70
# A longer SMS goes as concatenated parts of 153 septets or 67 units (each part carries a
# header); each part is billed as a message, and past this many parts it is refused.
SMS_GSM7_PART = 153
SMS_UCS2_PART = 67
SMS_MAX_SEGMENTS = 3

# GSM 03.38 default alphabet (one septet each) and its extension table (two septets).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")


@dataclass(frozen=True, slots=True)
class Finding:
    code: str
    severity: str
    message: str
    field: str = ""

    @property
    def blocking(self) -> bool:
        return self.severity == BLOCKING

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def has_blocking(findings: Iterable[Finding | Mapping[str, Any]]) -> bool:
    return any(_severity(f) == BLOCKING for f in findings)


def _severity(finding: Finding | Mapping[str, Any]) -> str:
    return finding.severity if isinstance(finding, Finding) else str(finding.get("severity"))


def banned_phrases() -> tuple[str, ...]:
    """The configured list (setting ``CROSSSELL_BANNED_PHRASES``) or the defaults."""
    configured = getattr(settings, "CROSSSELL_BANNED_PHRASES", None)
    if configured is None:
        return DEFAULT_BANNED_PHRASES
    return tuple(str(p) for p in configured if str(p).strip())


# --- content checks ---------------------------------------------------------------------

_APR = re.compile(r"\bAPR\b", re.IGNORECASE)
_PERCENT = re.compile(r"\d+(?:[.,]\d+)?\s*%")


def check_credit_disclosure(*, is_credit: bool, disclosure: str) -> list[Finding]:
    """A credit product's content needs a disclosure stating a representative APR."""
    if not is_credit:
        return []
    text = disclosure or ""
    if not text.strip():
        return [
            Finding(
                "credit_disclosure_missing",
                BLOCKING,
                "Credit product content needs a disclosure with a representative APR "
                "(e.g. 'Representative 19.9% APR (variable)').",
                "disclosure",
            )
        ]
    if not (_APR.search(text) and _PERCENT.search(text)):
        return [
            Finding(
                "credit_disclosure_without_apr",
                BLOCKING,
                "The disclosure of a credit product must state a representative APR as a "
                "percentage (e.g. 'Representative 19.9% APR').",
                "disclosure",
            )
        ]
    return []


def _normalise_words(text: str) -> str:
    lowered = text.lower().replace("\u2011", "-").replace("\u2013", "-").replace("\u2014", "-")
    lowered = re.sub(r"\s*-\s*", " ", lowered)
    return re.sub(r"\s+", " ", lowered).strip()


def check_banned_phrases(*, texts: Mapping[str, str], phrases: Iterable[str]) -> list[Finding]:
    """Each banned phrase found (case, hyphens and spacing ignored) in any text field."""
    findings: list[Finding] = []
    normalised = {name: f" {_normalise_words(value or '')} " for name, value in texts.items()}
    for phrase in phrases:
        needle = _normalise_words(phrase)
        if not needle:
            continue
        pattern = re.compile(r"(?<![a-z0-9])" + re.escape(needle) + r"(?![a-z0-9])")
        for name, text in normalised.items():
            if pattern.search(text):
                findings.append(
                    Finding(
                        "banned_phrase",
                        BLOCKING,
                        f"'{phrase}' is a banned phrase.",
                        name,
                    )
                )
    return findings


def sms_text(*, body: str, call_to_action: str = "", disclosure: str = "") -> str:
    """What an SMS gateway sends: body, call to action and disclosure (no headline)."""
    return " ".join(part.strip() for part in (body, call_to_action, disclosure) if part.strip())


def sms_length(text: str) -> tuple[str, int, int]:
    """(encoding, length in that encoding's units, single-message limit)."""
    if all(char in GSM7_BASIC or char in GSM7_EXTENSION for char in text):
        septets = sum(2 if char in GSM7_EXTENSION else 1 for char in text)
        return "gsm7", septets, SMS_GSM7_LIMIT
    units = len(text.encode("utf-16-le")) // 2
    return "ucs2", units, SMS_UCS2_LIMIT


def sms_unit_cost(char: str, encoding: str) -> int:
    if encoding == "gsm7":
        return 2 if char in GSM7_EXTENSION else 1
    return len(char.encode("utf-16-le")) // 2


def sms_segments(text: str, encoding: str) -> tuple[int, int, int]:
    """(segments, the capacity of each, units left in the last) of ``text`` sent in
    ``encoding``: one message up to 160/70 units, else parts of 153/67 — an escape pair or
    a surrogate pair (an emoji) never straddles two parts."""
    single, part = (
        (SMS_GSM7_LIMIT, SMS_GSM7_PART) if encoding == "gsm7" else (SMS_UCS2_LIMIT, SMS_UCS2_PART)
    )
    costs = [sms_unit_cost(char, encoding) for char in text]
    units = sum(costs)
    if units <= single:
        return (1 if units else 0), single, single - units
    segments, used = 1, 0
    for cost in costs:
        if used + cost > part:
            segments += 1
            used = 0
        used += cost
    return segments, part, part - used


def check_sms_length(*, channel: str, text: str) -> list[Finding]:
    """An SMS longer than one message goes in parts (a warning naming how many, each
    billed); past SMS_MAX_SEGMENTS parts it is refused. Characters outside GSM-7 cut a
    message to 70 units (a warning of its own)."""
    if channel != "sms":
        return []
    encoding, length, _limit = sms_length(text)
    segments, per_part, _left = sms_segments(text, encoding)
    name = "GSM-7 characters" if encoding == "gsm7" else "UCS-2 units (characters outside GSM-7)"
    findings = []
    if segments > SMS_MAX_SEGMENTS:
        findings.append(
            Finding(
                "sms_too_long",
                BLOCKING,
                f"The SMS is {length} {name}: {segments} parts of {per_part}; at most "
                f"{SMS_MAX_SEGMENTS} parts are sent.",
                "body",
            )
        )
    elif segments > 1:
        findings.append(
            Finding(
                "sms_multipart",
                WARNING,
                f"The SMS is {length} {name}, so it is sent as {segments} parts of "
                f"{per_part}, each billed as a message.",
                "body",
            )
        )
    if encoding == "ucs2":
        findings.append(
            Finding(
                "sms_not_gsm7",
                WARNING,
                "The SMS contains characters outside GSM-7 (e.g. curly quotes or emoji), "
                f"which cuts one message to {SMS_UCS2_LIMIT} characters.",
                "body",
            )
        )
    return findings


_QUOTES = "\"'\u201c\u2018"
_OPT_OUT = re.compile(r"\b(?:reply|text|txt|send|sms)\s+[" + _QUOTES + r"]?stop\b", re.IGNORECASE)


def check_sms_opt_out(*, channel: str, text: str) -> list[Finding]:
    """A marketing SMS must tell the customer how to opt out ("Reply STOP")."""
    if channel != "sms" or _OPT_OUT.search(text):
        return []
    return [
        Finding(
            "sms_without_opt_out",
            BLOCKING,
            "A marketing SMS must include opt-out wording such as 'Reply STOP to opt out'.",
            "body",
        )
    ]


_PLACEHOLDERS = (
    re.compile(r"\{\{.*?\}\}", re.DOTALL),
    re.compile(r"\{%.*?%\}", re.DOTALL),
    re.compile(r"\$?\{\s*[A-Za-z_][A-Za-z0-9_.]*\s*\}"),
    re.compile(r"\[(?:[A-Z0-9_ ]{2,40}|[a-z0-9]+(?:_[a-z0-9]+)+|[A-Za-z ]*[Nn]ame[A-Za-z ]*)\]"),
    re.compile(r"<<[^<>]{1,40}>>"),
    re.compile(r"%[A-Z][A-Z0-9_]{1,40}%"),
    re.compile(r"\b(?:TODO|TBD|lorem ipsum)\b", re.IGNORECASE),
)


def check_placeholders(*, texts: Mapping[str, str]) -> list[Finding]:
    """Unfilled template placeholders ({{first_name}}, [NAME], %NAME%, ...) or unfinished text."""
    findings: list[Finding] = []
    for name, text in texts.items():
        for pattern in _PLACEHOLDERS:
            match = pattern.search(text or "")
            if match:
                findings.append(
                    Finding(
                        "unfilled_placeholder",
                        BLOCKING,
                        f"'{match.group(0)}' looks like an unfilled placeholder.",
                        name,
                    )
                )
                break
    return findings


# --- protected attributes ---------------------------------------------------------------


def protected_name(name: str) -> str | None:
    """The protected attribute a field or feature name reads, if any.

    Accepts declared names (``gender``), free attributes (``attributes.gender``) and
    one-hot feature names (``attributes.gender=F``, ``gender=F``).
    """
    key = name.strip().lower()
    if key.startswith(ATTRIBUTE_PREFIX):
        key = key[len(ATTRIBUTE_PREFIX) :]
    key = key.split("=", 1)[0].strip().replace(" ", "_").replace("-", "_")
    if key in PROTECTED_ATTRIBUTES or key in PROTECTED_ALIASES:
        return key
    return None


def check_protected_attributes(
    *, is_credit: bool, fields: Iterable[str], source: str, subject: str = ""
) -> list[Finding]:
    """Protected attributes may never drive targeting or features of a credit product.

    ``source`` names what the fields come from (``audience_rule``, ``eligibility_rule``,
    ``model_features``); ``subject`` says whose rule it is in the message. For a
    non-credit product the use is reported as a warning for the reviewer.
    """
    used = sorted({protected for name in fields if (protected := protected_name(name))})
    if not used:
        return []
    where = f"{subject} {source.replace('_', ' ')}".strip()
    names = ", ".join(used)
    if is_credit:
        return [
            Finding(
                "protected_attribute_credit",
                BLOCKING,
                f"The {where} uses protected attribute(s) {names} for a credit product.",
                source,
            )
        ]
    return [
        Finding(
            "protected_attribute_used",
            WARNING,
            f"The {where} uses protected attribute(s) {names}; check it is justified.",
            source,
        )
    ]


def check_model_features(*, is_credit: bool, feature_names: Iterable[str]) -> list[Finding]:
    """The trainer's guard: a credit product's model may not use protected attributes."""
    return check_protected_attributes(
        is_credit=is_credit, fields=feature_names, source="model_features"
    )


# --- rules ----------------------------------------------------------------------------


class RuleSyntaxError(ValueError):
    def __init__(self, message: str, position: int) -> None:
        super().__init__(message)
        self.message = message
        self.position = position


RuleParser = Callable[[str], Any]
_rule_parser: RuleParser | None = None


def register_rule_parser(parser: RuleParser | None) -> RuleParser | None:
    """Plug in the engine's ``parse_rule`` (returns an object with ``fields()``; raises an
    error carrying ``position``). Returns the previous parser so tests can restore it."""
    global _rule_parser
    previous, _rule_parser = _rule_parser, parser
    return previous


def rule_parser() -> RuleParser | None:
    return _rule_parser


def rule_fields(text: str) -> frozenset[str]:
    """Field names a rule reads, e.g. ``{"age", "attributes.gender"}``.

    Raises ``RuleSyntaxError`` with the 0-based position of the problem.
    """
    if not (text or "").strip():
        return frozenset()
    if _rule_parser is not None:
        try:
            rule = _rule_parser(text)
        except ValueError as exc:
            message = getattr(exc, "message", None) or str(exc)
            raise RuleSyntaxError(message, int(getattr(exc, "position", 0))) from exc
        return frozenset(rule.fields())
    return _scan_rule_fields(text)


_KEYWORDS = frozenset({"and", "or", "not", "in", "true", "false"})
_FUNCTIONS = frozenset({"holds", "holds_family"})
_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<number>\d+(?:\.\d+)?)
  | (?P<string>"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*')
  | (?P<op>==|!=|<=|>=|<|>|=)
  | (?P<punct>[(),-])
    """,
    re.VERBOSE | re.DOTALL,
)


def _scan_rule_fields(text: str) -> frozenset[str]:
    """The lexical fallback: field names, balanced parentheses, closed strings."""
    fields: set[str] = set()
    depth_stack: list[int] = []
    position = 0
    tokens: list[tuple[str, str, int]] = []
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            char = text[position]
            if char in "\"'":
                raise RuleSyntaxError(
                    f"expected closing {char} for the string opened at position {position}, "
                    "found end of input",
                    len(text),
                )
            raise RuleSyntaxError(
                f"expected a field, value, operator or parenthesis at position {position}, "
                f"found {char!r}",
                position,
            )
        kind = match.lastgroup or ""
        if kind != "space":
            tokens.append((kind, match.group(0), position))
        position = match.end()
    for index, (kind, value, start) in enumerate(tokens):
        if kind == "punct" and value == "(":
            depth_stack.append(start)
        elif kind == "punct" and value == ")":
            if not depth_stack:
                raise RuleSyntaxError(f"unexpected ')' at position {start}", start)
            depth_stack.pop()
        elif kind == "name" and value.lower() not in _KEYWORDS:
            following = tokens[index + 1] if index + 1 < len(tokens) else None
            if value in _FUNCTIONS and following and following[1] == "(":
                continue
            fields.add(value)
    if depth_stack:
        opened = depth_stack[-1]
        raise RuleSyntaxError(
            f"expected ')' for the parenthesis opened at position {opened}, found end of input",
            len(text),
        )
    return frozenset(fields)


# --- bundles the services run -----------------------------------------------------------


def content_prechecks(
    *,
    channel: str,
    is_credit: bool,
    headline: str,
    body: str,
    call_to_action: str,
    disclosure: str,
    eligibility_fields: Iterable[str] = (),
    phrases: Iterable[str] | None = None,
    offer_code: str = "",
) -> list[Finding]:
    """Every content check for one offer content version on one channel."""
    texts = {
        "headline": headline,
        "body": body,
        "call_to_action": call_to_action,
        "disclosure": disclosure,
    }
    sms = sms_text(body=body, call_to_action=call_to_action, disclosure=disclosure)
    findings = [
        *check_credit_disclosure(is_credit=is_credit, disclosure=disclosure),
        *check_banned_phrases(
            texts=texts, phrases=banned_phrases() if phrases is None else phrases
        ),
        *check_sms_length(channel=channel, text=sms),
        *check_sms_opt_out(channel=channel, text=sms),
        *check_placeholders(texts=texts),
        *check_protected_attributes(
            is_credit=is_credit,
            fields=eligibility_fields,
            source="eligibility_rule",
            subject=f"offer {offer_code}".strip(),
        ),
    ]
    return findings


@dataclass(frozen=True, slots=True)
class TargetedOffer:
    code: str
    is_credit: bool
    eligibility_fields: frozenset[str] = frozenset()
    has_approved_content: bool = True


def targeting_prechecks(
    *, audience_fields: Iterable[str], offers: Iterable[TargetedOffer], channels: Iterable[str]
) -> list[Finding]:
    """Checks on a campaign's targeting: protected attributes in rules, empty targeting."""
    offers = list(offers)
    audience_fields = frozenset(audience_fields)
    findings: list[Finding] = []
    any_credit = any(offer.is_credit for offer in offers)
    findings += check_protected_attributes(
        is_credit=any_credit, fields=audience_fields, source="audience_rule", subject="campaign"
    )
    for offer in offers:
        findings += check_protected_attributes(
            is_credit=offer.is_credit,
            fields=offer.eligibility_fields,
            source="eligibility_rule",
            subject=f"offer {offer.code}",
        )
        if not offer.has_approved_content:
            findings.append(
                Finding(
                    "offer_without_approved_content",
                    WARNING,
                    f"Offer {offer.code} has no approved content on the campaign's channels "
                    "yet; the campaign cannot launch until it has.",
                    "offers",
                )
            )
    if not offers:
        findings.append(
            Finding("campaign_without_offers", BLOCKING, "The campaign has no offers.", "offers")
        )
    if not list(channels):
        findings.append(
            Finding(
                "campaign_without_channels", BLOCKING, "The campaign has no channels.", "channels"
            )
        )
    return findings
