"""The decisioning engine: pure functions over an in-memory snapshot (no Django, no ORM).

Pipeline of one decision (``decide``)::

    candidates      offers of running (or shadow) campaigns matching the signal:
                    event -> real-time campaigns triggered by its type,
                    inbound -> inbound campaigns on the channel, batch -> the given campaign;
                    one A/B arm per (campaign, customer), by a deterministic hash
    eligibility     offer active and valid, campaign audience rule, offer eligibility rule,
                    held product family, hardship protection (credit sales)
    contact policy  erasure, do-not-contact, global opt-out, suppressions, decline
                    cooldown, fatigue back-off, campaign cap, frequency caps (one attention
                    budget across every channel), then per channel: consent, channel
                    suppression, approved content, offer cooldown, presented elsewhere
    scoring         propensity x value x lever x context weight, every factor recorded
    arbitration     hardship-promoted service actions first, then score; top N per
                    channel, one offer per product family, sales within the cap budget;
                    outbound channel = first allowed one not in quiet hours, else deferred
    control group   deterministic hash of (campaign, customer): held out, still recorded
    Decision        offers, suppressions, candidates with every verdict, exemptions,
                    policy / snapshot / model versions; ``to_dict()`` for the ledger

``decide_batch`` runs the same rules over a columnar ``CustomerBatch`` with NumPy for one
campaign, and agrees with ``decide`` customer by customer. ``replay.compare`` explains
what changed between a stored decision and a new one; ``simulate.summarize`` turns a batch
result into a funnel and expected conversions.
"""

from core.channels import ALL_CHANNELS, INBOUND_CHANNELS, OUTBOUND_CHANNELS

from . import reasons
from .batch import (
    BatchResult,
    ContactLog,
    CustomerBatch,
    EventLog,
    SuppressionLog,
    decide_batch,
)
from .columns import AttributeColumn, BoolColumn, NumberColumn, StringColumn
from .decide import decide
from .decision import (
    COMPACT_FORMAT,
    CandidateTrace,
    ChannelTrace,
    Decision,
    Exemption,
    ExplainCatalog,
    ReleasedOffer,
    Suppressed,
    expand_compact,
    factor_fields,
    factors_to_dict,
)
from .features import build_feature_matrix, build_feature_vector
from .fields import FIELDS, PROTECTED_ATTRIBUTES
from .policy import Verdict
from .reasons import *  # noqa: F403  (the reason code constants)
from .replay import ReplayDiff, compare
from .rules import (
    PayloadRule,
    Rule,
    RuleError,
    parse_payload_rule,
    parse_rule,
    protected_fields_used,
)
from .scoring import ScoreFactors, likelihood_band
from .simulate import SimulationReport, summarize
from .snapshot import Snapshot, build_snapshot
from .types import (
    CampaignOffer,
    CampaignSpec,
    ContactRecord,
    ContentSpec,
    CustomerContext,
    DecisionRequest,
    EventRecord,
    ModelSpec,
    OfferSpec,
    PolicySpec,
    ProductSpec,
    SuppressionSpec,
    TriggerEvent,
    TriggerSpec,
)

__all__ = [
    # entry points
    "decide",
    "decide_batch",
    "build_snapshot",
    "parse_rule",
    "parse_payload_rule",
    "protected_fields_used",
    "compare",
    "expand_compact",
    "factor_fields",
    "factors_to_dict",
    "summarize",
    "build_feature_vector",
    "build_feature_matrix",
    "likelihood_band",
    # inputs
    "Snapshot",
    "ProductSpec",
    "ContentSpec",
    "OfferSpec",
    "CampaignOffer",
    "CampaignSpec",
    "PolicySpec",
    "ModelSpec",
    "SuppressionSpec",
    "TriggerSpec",
    "TriggerEvent",
    "ContactRecord",
    "EventRecord",
    "CustomerContext",
    "DecisionRequest",
    "CustomerBatch",
    "ContactLog",
    "EventLog",
    "SuppressionLog",
    "NumberColumn",
    "StringColumn",
    "BoolColumn",
    "AttributeColumn",
    # outputs
    "Decision",
    "ReleasedOffer",
    "Suppressed",
    "Exemption",
    "CandidateTrace",
    "ChannelTrace",
    "Verdict",
    "ScoreFactors",
    "BatchResult",
    "ReplayDiff",
    "SimulationReport",
    "ExplainCatalog",
    "COMPACT_FORMAT",
    # rules and constants
    "Rule",
    "PayloadRule",
    "RuleError",
    "FIELDS",
    "PROTECTED_ATTRIBUTES",
    "ALL_CHANNELS",
    "INBOUND_CHANNELS",
    "OUTBOUND_CHANNELS",
    "reasons",
    *reasons.__all__,
]
