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
    "PASSED",
    "PRESENTED_ELSEWHERE",
    "QUIET_HOURS",
    "RELEASED",
    "STAGES",
    "STAGE_INDEX",
    "SUPPRESSED",
    "TRIGGER_CONDITION_NOT_MET",
    "TRIGGER_OUTCOMES",
    "VOLUME_LIMIT",
]
