"""A bank's past campaigns as history, and a file of customers scored.

``responses_import`` reads a CSV of past contacts: each row becomes a customer whose other
columns are profile attributes (numbers where the text is a number), with an accepted or
declined response to an offer of the product (the product and a retired ``<CODE>_HISTORY``
offer are created when missing, so the history never releases anything). A row that
cannot be read — a wrong number of fields, no outcome, an unreadable date — is refused and
reported with its line number; the rest are imported. Importing the same file twice is
refused (the rows' response ids are the file's hash and line).

``file_score`` writes, for each row of a CSV of customer attributes and in the same order,
the active model's calibrated probability in a column ``propensity``, with the same
column-to-attribute reading as the import, so a model trained on imported history scores
a file of the same shape exactly as the engine would score those customers.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

import numpy as np
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from core.exceptions import ValidationFailed
from customers.models import Customer
from customers.pseudonyms import pseudonym_for
from decisioning.choices import ModelStatus, Outcome
from decisioning.engine.batch import CustomerBatch
from decisioning.engine.fields import ATTRIBUTE_NAME
from decisioning.engine.timeutil import to_us
from decisioning.models import PropensityModel, Response
from ledger.choices import AuditKind
from ledger.services import audit
from offers.choices import OfferStatus, ProductFamily
from offers.models import Offer, Product

from .specs import evaluator

BATCH = 2_000


@dataclass
class ImportReport:
    product: str
    offer: str
    imported: int = 0
    accepted: int = 0
    refused: list[tuple[int, str]] = field(default_factory=list)  # (line, why)
    created_product: bool = False


def attribute_value(text: str) -> Any:
    """What a CSV cell is worth as an attribute: an int, a float, or the text; None
    when blank."""
    text = text.strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        return text
    return number if np.isfinite(number) else text


def _check_header(header: list[str], needed: Iterable[str]) -> None:
    for name in needed:
        if name not in header:
            raise ValidationFailed(
                f"The file has no column {name!r} (columns: {', '.join(header)}).",
                fields={"file": [f"missing column {name}"]},
            )
    bad = [name for name in header if not ATTRIBUTE_NAME.match(name)]
    if bad:
        raise ValidationFailed(
            f"Column names must be letters, digits and underscores (attribute names): "
            f"{', '.join(repr(b) for b in bad)}.",
            fields={"file": ["bad column names"]},
        )
    if len(set(header)) != len(header):
        raise ValidationFailed("A column is named twice.", fields={"file": ["duplicate column"]})


def _product(code: str, family: str | None, name: str | None) -> tuple[Product, bool]:
    product = Product.objects.filter(code=code).first()
    if product is not None:
        return product, False
    if family is None:
        raise ValidationFailed(
            f"Product {code} does not exist; give its family to create it "
            f"({', '.join(ProductFamily.values)}).",
            fields={"family": ["required to create the product"]},
        )
    if family not in ProductFamily.values:
        raise ValidationFailed(
            f"Unknown family {family!r} ({', '.join(ProductFamily.values)}).",
            fields={"family": ["unknown"]},
        )
    product = Product(
        code=code, name=name or code.replace("_", " ").title(), family=family, annual_value=0
    )
    product.full_clean()
    product.save()
    return product, True


def _history_offer(product: Product) -> Offer:
    offer = Offer.objects.filter(product=product, code=f"{product.code}_HISTORY").first()
    if offer is None:
        offer = Offer(
            product=product,
            code=f"{product.code}_HISTORY",
            name=f"{product.name}: imported campaign history",
            status=OfferStatus.RETIRED,
            value=Decimal("0"),
        )
        offer.full_clean()
        offer.save()
    return offer


def _read_rows(handle: IO[str], header: list[str]) -> Iterator[tuple[int, list[str] | None, str]]:
    reader = csv.reader(handle)
    for row in reader:
        line = reader.line_num
        if not row:
            continue
        if len(row) != len(header):
            yield line, None, f"{len(row)} fields, the header has {len(header)}"
            continue
        yield line, row, ""


def _when(text: str) -> datetime | None:
    text = text.strip()
    moment = parse_datetime(text)
    if moment is None:
        day = parse_date(text)
        if day is None:
            return None
        moment = datetime(day.year, day.month, day.day)
    return moment if timezone.is_aware(moment) else moment.replace(tzinfo=UTC)


def responses_import(
    *,
    actor: Any,
    path: Path,
    product_code: str,
    outcome_column: str,
    positive: str,
    date_column: str | None = None,
    id_column: str | None = None,
    drop_columns: Iterable[str] = (),
    channel: str = "contact_center",
    family: str | None = None,
    product_name: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import a CSV of past contacts as customers and responses (see the module)."""
    raw = path.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    text = raw.decode("utf-8-sig")
    lines = text.splitlines(keepends=True)
    header = [name.strip() for name in next(csv.reader(lines[:1]), [])]
    if not header:
        raise ValidationFailed(f"{path.name} is empty.", fields={"file": ["empty"]})
    dropped = set(drop_columns)
    _check_header(header, [outcome_column, *(c for c in (date_column, id_column) if c), *dropped])
    skip = {outcome_column, *dropped, *(c for c in (date_column, id_column) if c)}
    kept = [(i, name) for i, name in enumerate(header) if name not in skip]
    outcome_at = header.index(outcome_column)
    date_at = header.index(date_column) if date_column else None
    id_at = header.index(id_column) if id_column else None
    prefix = f"import:{digest[:16]}:"
    if Response.objects.filter(response_id__startswith=prefix).exists():
        raise ValidationFailed(
            f"{path.name} was already imported (file hash {digest[:16]}).",
            fields={"file": ["already imported"]},
        )
    now = timezone.now()
    with transaction.atomic():
        product, created = _product(product_code, family, product_name)
        offer = _history_offer(product)
        report = ImportReport(product=product.code, offer=offer.code, created_product=created)
        pending: list[tuple[int, Customer, str, datetime, str]] = []

        def flush() -> None:
            if not pending:
                return
            customers = Customer.objects.bulk_create([p[1] for p in pending], batch_size=BATCH)
            Response.objects.bulk_create(
                [
                    Response(
                        response_id=f"{prefix}{line}",
                        customer=customer,
                        offer=offer,
                        outcome=outcome,
                        occurred_at=when,
                        channel=channel,
                        body_hash=body,
                        source=f"import {path.name} line {line}",
                    )
                    for (line, _, outcome, when, body), customer in zip(
                        pending, customers, strict=True
                    )
                ],
                batch_size=BATCH,
            )
            if progress is not None:
                progress(len(pending))
            pending.clear()

        for line, row, why in _read_rows(iter(lines[1:]), header):
            line += 1  # the header is line 1
            if row is None:
                report.refused.append((line, why))
                continue
            answer = row[outcome_at].strip()
            if not answer:
                report.refused.append((line, f"no value in {outcome_column}"))
                continue
            when = now
            if date_at is not None:
                parsed = _when(row[date_at])
                if parsed is None:
                    report.refused.append(
                        (line, f"{date_column} {row[date_at]!r} is not a date or date-time")
                    )
                    continue
                when = parsed
            external_id = (
                row[id_at].strip() if id_at is not None else f"{product.code}-{digest[:8]}-{line}"
            )
            if not external_id or len(external_id) > 64:
                report.refused.append((line, "the customer id is blank or over 64 characters"))
                continue
            attributes = {
                name: value for i, name in kept if (value := attribute_value(row[i])) is not None
            }
            accepted = answer == positive
            customer = Customer(
                external_id=external_id,
                pseudonym=pseudonym_for(external_id),
                attributes=attributes,
            )
            body = hashlib.sha256(",".join(row).encode()).hexdigest()
            pending.append(
                (line, customer, Outcome.ACCEPT if accepted else Outcome.DECLINE, when, body)
            )
            report.imported += 1
            report.accepted += accepted
            if len(pending) >= BATCH:
                flush()
        flush()
        audit(
            kind=AuditKind.RESPONSE,
            action="responses_imported",
            actor=actor,
            object_type="product",
            object_id=product.pk,
            object_repr=product.code,
            data={
                "file": path.name,
                "sha256": digest,
                "imported": report.imported,
                "accepted": report.accepted,
                "refused_lines": [line for line, _ in report.refused],
                "product_created": created,
            },
        )
    return report


def active_model(product_code: str) -> PropensityModel:
    product = Product.objects.filter(code=product_code).first()
    if product is None:
        raise ValidationFailed(f"Unknown product {product_code}.", fields={"product": ["unknown"]})
    model = (
        PropensityModel.objects.filter(product=product, status=ModelStatus.ACTIVE)
        .select_related("product")
        .first()
    )
    if model is None:
        newest = PropensityModel.objects.filter(product=product).order_by("-version").first()
        why = (
            f" (newest v{newest.version} is {newest.status}: {newest.status_reason})"
            if newest is not None
            else " (none trained: manage.py train_models --product CODE)"
        )
        raise ValidationFailed(
            f"{product_code} has no active model{why}.", fields={"product": ["no active model"]}
        )
    return model


def file_score(
    *,
    source: IO[str],
    out: IO[str],
    product_code: str,
    chunk: int = 20_000,
    now: datetime | None = None,
) -> tuple[PropensityModel, int]:
    """Score a CSV of customer attributes in order (see the module); the row count.
    Every row is scored as of one clock, the call's (``now``): a file carries no contact
    history, so its engagement features read none."""
    model = active_model(product_code)
    scorer = evaluator(model)
    now_us = to_us(now or timezone.now())
    reader = csv.reader(source)
    header = [name.strip() for name in next(reader, [])]
    if not header:
        raise ValidationFailed("The file is empty.", fields={"file": ["empty"]})
    _check_header(header, ())
    if "propensity" in header:
        raise ValidationFailed(
            "The file already has a column 'propensity'.", fields={"file": ["propensity column"]}
        )
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*header, "propensity"])
    rows = 0
    block: list[list[str]] = []

    def score(block: list[list[str]]) -> None:
        values = {
            name: [attribute_value(r[i]) if i < len(r) else None for r in block]
            for i, name in enumerate(header)
        }
        # every column is an attribute, as the import stores it
        batch = CustomerBatch.from_columns(np.arange(len(block)), attributes=values)
        probability = scorer.propensity_array(batch.source({}), now_us)
        for row, p in zip(block, probability, strict=True):
            writer.writerow([*row, f"{p:.6f}"])

    for row in reader:
        if len(row) != len(header):
            raise ValidationFailed(
                f"Line {reader.line_num}: {len(row)} fields, the header has {len(header)}.",
                fields={"file": [f"line {reader.line_num}"]},
            )
        block.append(row)
        rows += 1
        if len(block) >= chunk:
            score(block)
            block = []
    if block:
        score(block)
    return model, rows
