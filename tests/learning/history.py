"""Learnable response histories for the model tests."""

from __future__ import annotations

import datetime

import numpy as np

from customers.models import Customer
from customers.pseudonyms import pseudonym_for
from decisioning.models import Response

NOW = datetime.datetime(2026, 11, 23, 12, 0, tzinfo=datetime.UTC)


def history(offer, size=800, seed=3, *, signal=1.0, prefix="T", dated=True, gender_bias=0.0):
    """Acceptance rises with salary and falls with age (``signal`` 0: pure noise); one
    response a customer, spread over 200 days when ``dated``. ``gender_bias`` makes
    women's salaries higher, so a model on salary approves them more often."""
    rng = np.random.default_rng(seed)
    gender = np.where(np.arange(size) % 2 == 1, "f", "m")
    salary = rng.uniform(600, 6000, size) + np.where(gender == "f", gender_bias, 0.0)
    age = rng.integers(18, 80, size)
    customers = Customer.objects.bulk_create(
        Customer(
            external_id=f"{prefix}{i:05d}",
            pseudonym=pseudonym_for(f"{prefix}{i:05d}"),
            birth_date=datetime.date(2026 - int(age[i]), 6, 1),
            attributes={"salary": float(salary[i]), "gender": str(gender[i])},
            income_band="high" if salary[i] > 3500 else "middle",
        )
        for i in range(size)
    )
    logit = -2.0 + signal * (0.0009 * (salary - 3000) - 0.04 * (age - 45))
    accepted = rng.random(size) < 1 / (1 + np.exp(-logit))
    Response.objects.bulk_create(
        Response(
            response_id=f"{prefix}R{i}",
            customer=customer,
            offer=offer,
            outcome="accept" if accepted[i] else "decline",
            occurred_at=NOW - datetime.timedelta(days=200 - (i * 200 // size) if dated else 30),
            channel="email",
            body_hash="x",
        )
        for i, customer in enumerate(customers)
    )
    return customers
