"""Stable snake_case reason codes shared by the engine, the API and the console.

The first thirteen are the API contract (API.md) and never change; the rest are
additions the engine needs to explain itself.

``STAGES`` is the fixed order in which the engine applies its checks to a candidate
(campaign x offer). The first check that fails is the candidate's reason. When a
customer ends with nothing, the decision's outcome is the reason of the candidate that
got furthest through this order ("the rule that removed the last candidate"), so scalar
and batch evaluation report the same outcome and funnels read stage by stage.

Every stage of ``CANDIDATE_STAGES`` and ``CHANNEL_STAGES`` has one scalar check
registered in ``policy`` (``policy.CHECKS``) and one vectorised stage registered in
``batch`` (``batch.BATCH_STAGES``); both engines apply them in the order listed here,
and refuse to import when a stage lacks either (``tests/engine/test_registry.py``).
"""

from __future__ import annotations

# --- the API contract -------------------------------------------------------------
NO_CONSENT = "no_consent"
DO_NOT_CONTACT = "do_not_contact"
ERASED = "erased"
HOLDS_PRODUCT = "holds_product"
INELIGIBLE = "ineligible"
COOLDOWN_AFTER_DECLINE = "cooldown_after_decline"
FATIGUE_BACKOFF = "fatigue_backoff"
FREQUENCY_CAP = "frequency_cap"
QUIET_HOURS = "quiet_hours"
PRESENTED_ELSEWHERE = "presented_elsewhere"
CONTROL_GROUP = "control_group"
VOLUME_LIMIT = "volume_limit"
CONTENT_NOT_APPROVED = "content_not_approved"

# --- additions --------------------------------------------------------------------
OFFER_NOT_ACTIVE = "offer_not_active"
NOT_IN_AUDIENCE = "not_in_audience"
HARDSHIP_PROTECTION = "hardship_protection"
GLOBAL_OPT_OUT = "global_opt_out"
SUPPRESSED = "suppressed"
CAMPAIGN_CAP = "campaign_cap"
NO_CHANNEL = "no_channel"
CHANNEL_SUPPRESSED = "channel_suppressed"
OFFER_COOLDOWN = "offer_cooldown"
FAMILY_ALREADY_OFFERED = "family_already_offered"
MAX_OFFERS_REACHED = "max_offers_reached"
NO_CONTACT = "no_contact"  # no address the channel can deliver to

# --- decision outcomes that are not suppressions -----------------------------------
RELEASED = "released"
NO_CANDIDATES = "no_candidates"

# --- a campaign's trigger refused the event (``triggers.py``): nothing was decided ----
EVENT_TOO_OLD = "event_too_old"
EVENT_IN_FUTURE = "event_in_future"
TRIGGER_CONDITION_NOT_MET = "trigger_condition_not_met"
TRIGGER_OUTCOMES: tuple[str, ...] = (EVENT_IN_FUTURE, EVENT_TOO_OLD, TRIGGER_CONDITION_NOT_MET)

# Candidate-level checks, in the order they are applied.
CANDIDATE_STAGES: tuple[str, ...] = (
    ERASED,
    OFFER_NOT_ACTIVE,
    NOT_IN_AUDIENCE,
    INELIGIBLE,
    HOLDS_PRODUCT,
    HARDSHIP_PROTECTION,
    DO_NOT_CONTACT,
    GLOBAL_OPT_OUT,
    SUPPRESSED,
    COOLDOWN_AFTER_DECLINE,
    FATIGUE_BACKOFF,
    CAMPAIGN_CAP,
    FREQUENCY_CAP,
)
# Channel-level checks, applied to each of the candidate's channels; a candidate
# survives when one channel passes, otherwise its reason is the furthest one reached.
CHANNEL_STAGES: tuple[str, ...] = (
    NO_CHANNEL,
    NO_CONSENT,
    NO_CONTACT,
    CHANNEL_SUPPRESSED,
    CONTENT_NOT_APPROVED,
    OFFER_COOLDOWN,
    PRESENTED_ELSEWHERE,
)
# Campaign-level check on candidates that would otherwise be released.
FINAL_STAGES: tuple[str, ...] = (VOLUME_LIMIT,)

STAGES: tuple[str, ...] = CANDIDATE_STAGES + CHANNEL_STAGES + FINAL_STAGES
STAGE_INDEX: dict[str, int] = {reason: index for index, reason in enumerate(STAGES)}
PASSED = len(STAGES)


# Every per-customer outcome a decision (or a batch row) can end with.
OUTCOMES: tuple[str, ...] = (RELEASED, CONTROL_GROUP, NO_CANDIDATES, *STAGES)
OUTCOME_INDEX: dict[str, int] = {outcome: index for index, outcome in enumerate(OUTCOMES)}

ALL_REASONS: frozenset[str] = frozenset(STAGES) | {
    QUIET_HOURS,
    CONTROL_GROUP,
    FAMILY_ALREADY_OFFERED,
    MAX_OFFERS_REACHED,
}

# --- plain-language labels (the console and the API's explanations) -------------------
# Each rule: what it checks (shown when it passed) and what it found (when it stopped the
# offer). Outcomes that are not rules have their failing wording only.
RULE_LABELS: dict[str, tuple[str, str]] = {
    ERASED: ("Customer not erased", "The customer was erased at their request"),
    OFFER_NOT_ACTIVE: ("Offer active and in its dates", "Offer not active or outside its dates"),
    NOT_IN_AUDIENCE: ("In the campaign's audience", "Not in the campaign's audience"),
    INELIGIBLE: (
        "Meets the offer's eligibility rule",
        "Does not meet the offer's eligibility rule",
    ),
    HOLDS_PRODUCT: (
        "Holds no product of this family",
        "Already holds a product of this family",
    ),
    HARDSHIP_PROTECTION: (
        "No hardship protection applies",
        "Recent hardship: credit sales are held back",
    ),
    DO_NOT_CONTACT: ("Not on the do-not-contact list", "On the do-not-contact list"),
    GLOBAL_OPT_OUT: ("Has not opted out of marketing", "Opted out of all marketing"),
    SUPPRESSED: ("Not on a suppression list", "On a suppression list"),
    COOLDOWN_AFTER_DECLINE: (
        "No recent decline of this product",
        "Declined this product recently (cooldown)",
    ),
    FATIGUE_BACKOFF: (
        "Not ignoring offers in a row",
        "Ignored several offers in a row (back-off)",
    ),
    CAMPAIGN_CAP: ("Within the campaign's per-customer cap", "Campaign's per-customer cap reached"),
    FREQUENCY_CAP: (
        "Within the daily and weekly contact caps",
        "Daily or weekly contact cap reached",
    ),
    NO_CHANNEL: ("A channel can carry the offer", "No channel of the campaign can carry it"),
    NO_CONSENT: ("Consent for this channel", "No consent for this channel"),
    NO_CONTACT: ("An address the channel can deliver to", "No address the channel can deliver to"),
    CHANNEL_SUPPRESSED: ("Channel not suppressed", "The channel is suppressed for the customer"),
    CONTENT_NOT_APPROVED: (
        "Approved content for this channel",
        "No approved content for this channel",
    ),
    OFFER_COOLDOWN: ("Outside the offer's own cooldown", "Within the offer's own cooldown"),
    PRESENTED_ELSEWHERE: (
        "Not presented on another channel recently",
        "Presented on another channel recently",
    ),
    VOLUME_LIMIT: ("Within the campaign's daily volume", "Campaign's daily volume reached"),
    QUIET_HOURS: ("Outside quiet hours", "Quiet hours: delivery deferred"),
    CONTROL_GROUP: (
        "Not in the campaign's control group",
        "In the campaign's control group: held out to measure lift",
    ),
    FAMILY_ALREADY_OFFERED: (
        "First offer of its family",
        "An offer of the same family ranked higher",
    ),
    MAX_OFFERS_REACHED: (
        "Within the offers per channel",
        "Enough offers ranked higher on this channel",
    ),
}
OUTCOME_LABELS: dict[str, str] = {
    RELEASED: "Released",
    NO_CANDIDATES: "No candidate: no running campaign matched",
    EVENT_TOO_OLD: "The event was too old for the trigger",
    EVENT_IN_FUTURE: "The event is dated ahead of the clock",
    TRIGGER_CONDITION_NOT_MET: "The trigger's condition was not met",
}


def _words(code: str) -> str:
    text = code.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def rule_label(code: str, *, passed: bool, exempt: bool = False) -> str:
    """A rule's verdict in plain words: what it checks when it passed, what it found when
    it stopped the offer (an exempt service action: what would have applied)."""
    checks, found = RULE_LABELS.get(code, (_words(code), _words(code)))
    if exempt:
        return f"{found}: service action, exempt"
    return checks if passed else found


def outcome_label(code: str | None) -> str:
    """A candidate's or a decision's outcome (or a suppression's reason) in plain words."""
    if not code:
        return ""
    if code in OUTCOME_LABELS:
        return OUTCOME_LABELS[code]
    if code in RULE_LABELS:
        return RULE_LABELS[code][1]
    return _words(code)


__all__ = [
    "ALL_REASONS",
    "CAMPAIGN_CAP",
    "CANDIDATE_STAGES",
    "CHANNEL_STAGES",
    "CHANNEL_SUPPRESSED",
    "CONTENT_NOT_APPROVED",
    "CONTROL_GROUP",
    "COOLDOWN_AFTER_DECLINE",
    "DO_NOT_CONTACT",
    "ERASED",
    "EVENT_IN_FUTURE",
    "EVENT_TOO_OLD",
    "FAMILY_ALREADY_OFFERED",
    "FATIGUE_BACKOFF",
    "FINAL_STAGES",
    "FREQUENCY_CAP",
    "GLOBAL_OPT_OUT",
    "HARDSHIP_PROTECTION",
    "HOLDS_PRODUCT",
    "INELIGIBLE",
    "MAX_OFFERS_REACHED",
    "NOT_IN_AUDIENCE",
    "NO_CANDIDATES",
    "NO_CHANNEL",
    "NO_CONSENT",
    "NO_CONTACT",
    "OFFER_COOLDOWN",
    "OFFER_NOT_ACTIVE",
    "OUTCOMES",
    "OUTCOME_INDEX",
    "OUTCOME_LABELS",
    "PASSED",
    "PRESENTED_ELSEWHERE",
    "QUIET_HOURS",
    "RELEASED",
    "RULE_LABELS",
    "STAGES",
    "STAGE_INDEX",
    "SUPPRESSED",
    "TRIGGER_CONDITION_NOT_MET",
    "TRIGGER_OUTCOMES",
    "VOLUME_LIMIT",
    "outcome_label",
    "rule_label",
]
