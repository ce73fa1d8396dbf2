"""Labelled responses as a feature matrix, in time order.

One row per labelled response of an offer of the product (accepted = 1; declined,
dismissed or only seen = 0), ordered by when it happened, so the held-out part can be the
most recent one. Features are read with the engine's own builders over the batch loader's
columns (``decisioning.runs.loader``), so training and scoring see the same numbers.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
from django.utils import timezone

from core.exceptions import ValidationFailed
from decisioning.choices import Outcome
from decisioning.decisions.snapshots import active_policy_spec
from decisioning.engine.batch import BatchSource, CustomerBatch
from decisioning.engine.features import build_feature_matrix
from decisioning.models import Response
from decisioning.runs.loader import load_batch
from offers.models import Product

from .features import default_features, protected_names, refuse_protected, validate_features

LABELLED = (Outcome.ACCEPT, Outcome.DECLINE, Outcome.DISMISS, Outcome.IMPRESSION)
MIN_ROWS = 200
MIN_POSITIVES = 20
CHUNK = 50_000


@dataclass(frozen=True, slots=True)
class TrainingSet:
    product_code: str
    features: tuple[str, ...]
    X: np.ndarray  # responses x features, in time order
    y: np.ndarray  # 1.0 accepted
    occurred_at: np.ndarray  # datetime64[us] per row
    customer_ids: np.ndarray
    # other feature lists (an active model's), built over the same rows
    extra: Mapping[tuple[str, ...], np.ndarray] = field(default_factory=dict)
    # protected attribute -> value per row ("" when the customer has none)
    groups: Mapping[str, np.ndarray] = field(default_factory=dict)

    @property
    def has_dates(self) -> bool:
        return len(self.occurred_at) > 1 and self.occurred_at.min() < self.occurred_at.max()

    def window(self) -> tuple[datetime | None, datetime | None]:
        if not len(self.occurred_at):
            return None, None
        return _aware(self.occurred_at.min()), _aware(self.occurred_at.max())


def _aware(value: np.datetime64) -> datetime:
    return datetime.fromisoformat(str(value.astype("datetime64[us]"))).replace(tzinfo=UTC)


def families() -> dict[str, str]:
    return dict(Product.objects.values_list("code", "family"))


def feature_chunks(
    customer_ids: np.ndarray, *, now: datetime | None = None
) -> Iterator[tuple[np.ndarray, CustomerBatch, BatchSource]]:
    """The customers (sorted unique ids) as loader batches: (each asked customer's row in
    the batch, the batch, its column source). A batch covers an id range, so it may hold
    customers not asked for; callers take the rows they need."""
    now = now or timezone.now()
    policy = active_policy_spec()
    family = families()
    for start in range(0, len(customer_ids), CHUNK):
        ids = customer_ids[start : start + CHUNK]
        batch = load_batch(int(ids[0]), int(ids[-1]), now=now, policy=policy)
        yield np.searchsorted(batch.customer_ids, ids), batch, batch.source(family)


def labelled_responses(product: Product) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(customer ids, labels, times) of the product's labelled responses, oldest first."""
    rows = list(
        Response.objects.filter(offer__product=product, outcome__in=LABELLED)
        .order_by("occurred_at", "id")
        .values_list("customer_id", "outcome", "occurred_at")
    )
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    labels = np.fromiter((r[1] == Outcome.ACCEPT for r in rows), dtype=np.float64, count=len(rows))
    times = np.array([r[2].replace(tzinfo=None) for r in rows], dtype="datetime64[us]")
    return ids, labels, times


def training_set(
    product: Product,
    features: Sequence[str] | None = None,
    *,
    extra: Sequence[Sequence[str]] = (),
    now: datetime | None = None,
) -> TrainingSet:
    """The product's labelled history as a matrix over ``features`` (the declared
    defaults when None) and over each list in ``extra``."""
    if features is not None:
        features = validate_features(tuple(features))
        refuse_protected(product.code, product.is_credit, features)
    ids, labels, times = labelled_responses(product)
    if len(ids) < MIN_ROWS:
        raise ValidationFailed(
            f"{product.code} has {len(ids)} labelled responses; a model needs at least {MIN_ROWS}.",
            fields={"product": ["not enough response history"]},
        )
    if labels.sum() < MIN_POSITIVES:
        raise ValidationFailed(
            f"{product.code} has {int(labels.sum())} acceptances; a model needs at least "
            f"{MIN_POSITIVES}.",
            fields={"product": ["not enough acceptances"]},
        )
    unique, inverse = np.unique(ids, return_inverse=True)
    chosen = tuple(features) if features is not None else None
    lists: list[tuple[str, ...]] = []
    blocks: list[list[np.ndarray]] = []
    group_names = sorted(protected_names())
    group_parts: dict[str, list[np.ndarray]] = {name: [] for name in group_names}
    for rows, batch, source in feature_chunks(unique, now=now):
        if chosen is None:
            chosen = default_features(
                product_code=product.code,
                family=product.family,
                is_credit=product.is_credit,
                batch=batch,
            )
            lists = [chosen, *(tuple(e) for e in extra if tuple(e) != chosen)]
            blocks = [[] for _ in lists]
        elif not lists:
            lists = [chosen, *(tuple(e) for e in extra if tuple(e) != chosen)]
            blocks = [[] for _ in lists]
        for i, names in enumerate(lists):
            blocks[i].append(build_feature_matrix(source, names)[rows])
        for name in group_names:
            column = batch.attributes.get(name)
            if column is None:
                group_parts[name].append(np.full(len(rows), "", dtype=object))
            else:
                strings = column.string
                labels_ = np.asarray([*strings.categories, ""], dtype=object)
                group_parts[name].append(labels_[strings.codes[rows]])
    assert chosen is not None
    per_customer = [np.vstack(block) for block in blocks]
    groups = {
        name: np.concatenate(parts)[inverse]
        for name, parts in group_parts.items()
        if parts and any((p != "").any() for p in parts)
    }
    return TrainingSet(
        product_code=product.code,
        features=chosen,
        X=per_customer[0][inverse],
        y=labels,
        occurred_at=times,
        customer_ids=ids,
        extra={names: m[inverse] for names, m in zip(lists[1:], per_customer[1:], strict=True)},
        groups=groups,
    )
