"""Labelled responses as a feature matrix, in time order.

One row per labelled response of an offer of the product (accepted = 1; declined,
dismissed or only seen = 0), ordered by when it happened, so the held-out part can be the
most recent one. Features are read with the engine's own builders over the batch loader's
columns (``decisioning.runs.loader``), so training and scoring see the same numbers;
engagement features (``engine.features.engagement_matrix``, the batch engine's own code)
over each customer's whole contact history, as of each response's clock.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from core.exceptions import ValidationFailed
from decisioning.choices import Outcome
from decisioning.decisions.snapshots import active_policy_spec
from decisioning.engine.batch import NO_TIME, BatchSource, ContactLog, CustomerBatch
from decisioning.engine.columns import StringColumn
from decisioning.engine.features import (
    FOREST_PREFIX,
    build_feature_matrix,
    engagement_matrix,
    feature_inputs,
    is_engagement,
    needs_clock,
    parse_forest,
)
from decisioning.engine.timeutil import to_us
from decisioning.models import Contact, Response
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
    # per row, the clock its engagement features were computed as of (epoch
    # microseconds; empty when no feature reads the engagement history)
    clocks: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    # per row, the response's primary key: the stable identity a random hold-out hashes
    response_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

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


def labelled_responses(
    product: Product, *, clock: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(customer ids, labels, times, clocks, response pks) of the product's labelled
    responses, oldest first (then by pk). A response's clock (epoch microseconds, with ``clock``; else empty) is when the
    engine decided the offer it answers — its contact's release — or, with no contact,
    when it happened: engagement features are computed as of that moment, from what came
    strictly before it."""
    responses = Response.objects.filter(offer__product=product, outcome__in=LABELLED).order_by(
        "occurred_at", "id"
    )
    fields = ["customer_id", "outcome", "occurred_at", "id"]
    if clock:
        own = Contact.objects.filter(
            decision=OuterRef("decision"), offer=OuterRef("offer"), cancelled=False
        ).order_by("released_at")
        responses = responses.annotate(released=Subquery(own.values("released_at")[:1]))
        fields.append("released")
    rows = list(responses.values_list(*fields))
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    labels = np.fromiter((r[1] == Outcome.ACCEPT for r in rows), dtype=np.float64, count=len(rows))
    times = np.array([r[2].replace(tzinfo=None) for r in rows], dtype="datetime64[us]")
    clocks = np.fromiter(
        (to_us(r[2] if r[4] is None else min(r[2], r[4])) for r in rows) if clock else (),
        dtype=np.int64,
    )
    pks = np.fromiter((r[3] for r in rows), dtype=np.int64, count=len(rows))
    return ids, labels, times, clocks, pks


def contact_log(customer_ids: np.ndarray, before_us: int) -> ContactLog:
    """The releases to the customers (sorted unique ids) made before ``before_us``, as
    the batch engine's contact log indexed by the customer's position in
    ``customer_ids``: the whole history, for engagement features as of each response."""
    if not len(customer_ids):
        return ContactLog.from_records(())
    rows = list(
        Contact.objects.filter(
            customer_id__gte=int(customer_ids[0]),
            customer_id__lte=int(customer_ids[-1]),
            cancelled=False,
            released_at__lt=_aware_us(before_us),
        )
        .order_by("customer_id", "released_at", "id")
        .values_list("customer_id", "product_code", "kind", "released_at", "outcome", "outcome_at")
    )
    owners = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    position = np.searchsorted(customer_ids, owners)
    keep = (position < len(customer_ids)) & (
        customer_ids[np.minimum(position, len(customer_ids) - 1)] == owners
    )
    rows = [row for row, kept in zip(rows, keep, strict=True) if kept]
    size = len(rows)
    return ContactLog(
        customer_index=position[keep].astype(np.int64),
        offer=StringColumn.missing(size),
        product=StringColumn.from_values(r[1] for r in rows),
        channel=StringColumn.missing(size),
        is_sales=np.fromiter((r[2] == "sales" for r in rows), dtype=bool, count=size),
        campaign_id=np.full(size, -1, dtype=np.int64),
        released_us=np.fromiter((to_us(r[3]) for r in rows), dtype=np.int64, count=size),
        outcome=StringColumn.from_values((r[4] or None) for r in rows),
        outcome_us=np.fromiter(
            (NO_TIME if r[5] is None else to_us(r[5]) for r in rows), dtype=np.int64, count=size
        ),
    )


def _aware_us(value: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=int(value))


def _matrix(names: Sequence[str], plain: Mapping[str, int], rows: np.ndarray) -> np.ndarray:
    """``names`` over per-response plain feature columns (``rows``: responses x the
    plain features, ``plain`` their columns); a forest is evaluated over its inputs."""
    matrix = np.zeros((rows.shape[0], len(names)), dtype=np.float64)
    for column, name in enumerate(names):
        if name.startswith(FOREST_PREFIX):
            forest = parse_forest(name)
            matrix[:, column] = forest.margins(rows[:, [plain[i] for i in forest.inputs]])
        else:
            matrix[:, column] = rows[:, plain[name]]
    return matrix


def training_set(
    product: Product,
    features: Sequence[str] | None = None,
    *,
    extra: Sequence[Sequence[str]] = (),
    now: datetime | None = None,
) -> TrainingSet:
    """The product's labelled history as a matrix over ``features`` (the declared
    defaults when None) and over each list in ``extra``.

    Profile and holdings are read once per customer, with the batch loader; engagement
    features once per response, as of that response's clock (``labelled_responses``),
    from the releases made strictly before it — never the answer being learned."""
    if features is not None:
        features = validate_features(tuple(features))
        refuse_protected(product.code, product.is_credit, features)
    chosen = tuple(features) if features is not None else None
    # the defaults are known with the first batch; reading them, the clocks come later
    clock = any(needs_clock(names) for names in (chosen or (), *extra))
    ids, labels, times, clocks, pks = labelled_responses(product, clock=clock)
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
    lists: list[tuple[str, ...]] = []
    profile: tuple[str, ...] = ()  # the plain features read once per customer
    engagement: tuple[str, ...] = ()  # ... and once per response
    blocks: list[np.ndarray] = []
    group_names = sorted(protected_names())
    group_parts: dict[str, list[np.ndarray]] = {name: [] for name in group_names}
    for rows, batch, source in feature_chunks(unique, now=now):
        if not lists:
            if chosen is None:
                chosen = default_features(
                    product_code=product.code,
                    family=product.family,
                    is_credit=product.is_credit,
                    batch=batch,
                )
            lists = [chosen, *(tuple(e) for e in extra if tuple(e) != chosen)]
            plain = tuple(
                dict.fromkeys(i for names in lists for name in names for i in feature_inputs(name))
            )
            profile = tuple(name for name in plain if not is_engagement(name))
            engagement = tuple(name for name in plain if is_engagement(name))
        blocks.append(build_feature_matrix(source, profile)[rows])
        for name in group_names:
            column = batch.attributes.get(name)
            if column is None:
                group_parts[name].append(np.full(len(rows), "", dtype=object))
            else:
                strings = column.string
                labels_ = np.asarray([*strings.categories, ""], dtype=object)
                group_parts[name].append(labels_[strings.codes[rows]])
    assert chosen is not None
    columns = np.zeros((len(ids), len(profile) + len(engagement)), dtype=np.float64)
    columns[:, : len(profile)] = np.vstack(blocks)[inverse]
    if engagement:
        if len(clocks) != len(ids):
            ids, labels, times, clocks, pks = labelled_responses(product, clock=True)
        log = contact_log(unique, int(clocks.max()))
        columns[:, len(profile) :] = engagement_matrix(log, families(), inverse, clocks, engagement)
    plain_at = {name: j for j, name in enumerate((*profile, *engagement))}
    groups = {
        name: np.concatenate(parts)[inverse]
        for name, parts in group_parts.items()
        if parts and any((p != "").any() for p in parts)
    }
    return TrainingSet(
        product_code=product.code,
        features=chosen,
        X=_matrix(chosen, plain_at, columns),
        y=labels,
        occurred_at=times,
        customer_ids=ids,
        extra={names: _matrix(names, plain_at, columns) for names in lists[1:]},
        groups=groups,
        clocks=clocks,
        response_ids=pks,
    )
