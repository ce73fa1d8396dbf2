"""What a propensity model may read, declared in one place.

A product's model reads, by engine feature name (``decisioning.engine.features``):

- **profile**: ``age``, ``tenure_months``, ``has_email``, ``has_phone``, the one-hot bands
  (``income_band=…``, ``risk_band=…``, ``segment=…``), every numeric attribute most
  customers have (``attributes.salary``) and every low-cardinality string attribute as
  one-hot (``attributes.job=technician``);
- **holdings**: ``holds:<code>`` of every other product and ``holds_family:<family>`` of
  every other family — never the product itself or its family, which accepting the offer
  makes the customer hold (the label would leak);
- **engagement history**: what a customer did with earlier campaigns. Imported columns
  such as ``previous``, ``campaign``, ``pdays`` or ``poutcome`` become attributes and are
  read like any other; the engine's own contact history gives, per product family,
  ``engagement.offers_7d:<family>``, ``engagement.accepts_7d:<family>``,
  ``engagement.declines_7d:<family>`` and ``engagement.days_since_response:<family>``
  (``decisioning.engine.features``: the same values for one customer and for a batch).
  A training row reads them as of its own decision, from what came strictly before it
  (``dataset.training_set``). They are in the defaults and may be asked for because the
  engine scores them (``ENGINE_SCORES_ENGAGEMENT``): ``engine.scoring.ModelEvaluator``
  passes the decision's clock to the feature builders (``decide``, ``decide_batch``, the
  rule language's ``likelihood("P")``, the builder's audience count, ``file_score``).

A credit product's model never reads a protected attribute (``engine.fields``:
gender, marital status, ethnicity, religion, nationality) nor a declared proxy of one
(``CROSSSELL_PROTECTED_PROXIES``): defaults leave them out, and asking for one is refused.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
from django.conf import settings

from core.exceptions import ValidationFailed
from decisioning.engine.batch import CustomerBatch
from decisioning.engine.features import (
    engagement_names,
    feature_inputs,
    needs_clock,
    parse_feature,
)
from decisioning.engine.fields import (
    PRODUCT_FAMILIES,
    PROTECTED_ATTRIBUTES,
    attribute_key,
    is_attribute,
)

PROFILE_NUMBERS = ("age", "tenure_months")
PROFILE_FLAGS = ("has_email", "has_phone")
PROFILE_BANDS = ("income_band", "risk_band", "segment")
# an attribute is a feature when at least this share of the customers have it
MIN_PRESENT = 0.5
# a string attribute is one-hot with at most this many values, each held by >= MIN_SHARE
# of the customers or by >= MIN_HOLDERS of them (a rare value of a large history, such as
# bank-full.csv's month=dec: 214 of 45,211 contacts, 47 % of them accepted)
MAX_CATEGORIES = 40
MIN_SHARE = 0.005
MIN_HOLDERS = 100
# ``engine.scoring.ModelEvaluator`` passes the decision's clock to the feature builders
# (``compile_feature(...)(customer, families, now_us)``, ``feature_column(source, feature,
# now_us)``), so a model reading the engagement history is scored: the defaults include
# those features. False would leave them out and refuse a model asking for one
ENGINE_SCORES_ENGAGEMENT = True


def protected_names() -> frozenset[str]:
    """Protected attributes and the proxies the bank declared for them."""
    proxies = getattr(settings, "CROSSSELL_PROTECTED_PROXIES", ())
    return PROTECTED_ATTRIBUTES | frozenset(proxies)


def protected_inputs(names: Iterable[str]) -> tuple[str, ...]:
    """The features among ``names`` (a forest looked into) that read a protected
    attribute or a declared proxy."""
    banned = protected_names()
    found: dict[str, None] = {}
    for name in names:
        for plain in feature_inputs(name):
            field = plain.split("=", 1)[0]
            if is_attribute(field) and attribute_key(field) in banned:
                found[plain] = None
    return tuple(found)


def refuse_protected(product_code: str, is_credit: bool, names: Sequence[str]) -> None:
    """Raise ``ValidationFailed`` when a credit product's model would read a protected
    attribute or proxy."""
    if not is_credit:
        return
    protected = protected_inputs(names)
    if protected:
        raise ValidationFailed(
            f"Protected attributes are never features of a credit product's model: "
            f"{product_code} may not read {', '.join(protected)} (fair lending).",
            fields={"features": [f"protected: {', '.join(protected)}"]},
        )


def validate_features(names: Sequence[str]) -> tuple[str, ...]:
    """Feature names checked by the engine's parser; a bad one is a clear error."""
    for name in names:
        try:
            parse_feature(name)
        except ValueError as exc:
            raise ValidationFailed(str(exc), fields={"features": [str(exc)]}) from None
    if len(set(names)) != len(names):
        raise ValidationFailed("A feature is named twice.", fields={"features": ["duplicate"]})
    return tuple(names)


def refuse_unscored(names: Sequence[str]) -> None:
    """Raise ``ValidationFailed`` for a model the engine could not score: one reading the
    engagement history while the engine does not pass it the decision's clock."""
    if not ENGINE_SCORES_ENGAGEMENT and needs_clock(names):
        raise ValidationFailed(
            "Engagement-history features are not scored by the engine yet (it does not pass "
            "the decision's clock to the feature builders).",
            fields={"features": ["engagement features are not scored yet"]},
        )


def default_features(
    *, product_code: str, family: str, is_credit: bool, batch: CustomerBatch
) -> tuple[str, ...]:
    """The declared features for one product over the customers of ``batch``."""
    banned = protected_names() if is_credit else frozenset()
    names: list[str] = [*PROFILE_NUMBERS, *PROFILE_FLAGS]
    for field in PROFILE_BANDS:
        column = batch.columns.get(field)
        categories = getattr(column, "categories", ()) if column is not None else ()
        names += [f"{field}={value}" for value in sorted(c for c in categories if c)]
    size = max(batch.size, 1)
    for key, column in sorted(batch.attributes.items()):
        if key in banned or key == "segment":
            continue
        if column.number.present.mean() > MIN_PRESENT:
            names.append(f"attributes.{key}")
            continue
        strings = column.string
        if (strings.codes >= 0).mean() <= MIN_PRESENT or len(strings.categories) > MAX_CATEGORIES:
            continue
        counts = np.bincount(strings.codes[strings.codes >= 0], minlength=len(strings.categories))
        names += [
            f"attributes.{key}={value}"
            for code, value in sorted(enumerate(strings.categories), key=lambda item: item[1])
            if (counts[code] / size >= MIN_SHARE or counts[code] >= MIN_HOLDERS)
            and "=" not in value
        ]
    names += [f"holds:{code}" for code in batch.product_codes if code != product_code]
    names += [f"holds_family:{f}" for f in PRODUCT_FAMILIES if f != family]
    if ENGINE_SCORES_ENGAGEMENT:
        names += engagement_names()
    return tuple(names)
