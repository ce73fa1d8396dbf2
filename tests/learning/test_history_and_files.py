"""History import, training and file scoring from the command line."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from customers.models import Customer
from decisioning.engine import CustomerBatch
from decisioning.engine.timeutil import to_us
from decisioning.learning.specs import evaluator
from decisioning.models import PropensityModel, Response
from ledger.models import AuditRecord
from offers.models import Offer, Product

pytestmark = pytest.mark.django_db


def _contacts(path, rows=600, seed=5, bad=()):
    rng = np.random.default_rng(seed)
    lines = ["age,job,balance,duration,y"]
    for i in range(rows):
        age = int(rng.integers(18, 90))
        job = ("admin", "retired", "student")[i % 3]
        balance = float(rng.uniform(-500, 9000))
        logit = -2.2 + 0.0004 * balance + (1.2 if job == "retired" else 0.0)
        took = "yes" if rng.random() < 1 / (1 + np.exp(-logit)) else "no"
        lines.append(f"{age},{job},{balance:.2f},{int(rng.integers(5, 900))},{took}")
    for line_no, text in bad:
        lines.insert(line_no - 1, text)
    path.write_text("\n".join(lines) + "\n")
    return path


def test_import_creates_customers_and_responses_and_reports_bad_lines(tmp_path):
    source = _contacts(
        tmp_path / "history.csv", rows=300, bad=[(3, "41,admin"), (7, "33,admin,12,4,")]
    )
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError, match=r"2 rows refused \(lines 3, 7\)"):
        call_command(
            "import_responses",
            str(source),
            "--product=TERM_DEPOSIT",
            "--family=deposits",
            "--outcome-column=y",
            "--positive=yes",
            "--drop-column=duration",
            "--no-progress",
            stdout=out,
            stderr=err,
        )
    assert "line 3: 2 fields, the header has 5" in err.getvalue()
    assert "line 7: no value in y" in err.getvalue()
    assert "300 responses imported for TERM_DEPOSIT (product created)" in out.getvalue()
    assert Response.objects.filter(offer__code="TERM_DEPOSIT_HISTORY").count() == 300
    assert Offer.objects.get(code="TERM_DEPOSIT_HISTORY").status == "retired"
    person = Customer.objects.get(external_id__endswith="-2")
    assert set(person.attributes) == {"age", "job", "balance"}
    assert isinstance(person.attributes["balance"], float)
    assert AuditRecord.objects.filter(action="responses_imported").count() == 1


def test_the_same_file_is_not_imported_twice(tmp_path):
    source = _contacts(tmp_path / "history.csv", rows=50)
    args = (str(source), "--product=TERM_DEPOSIT", "--family=deposits", "--outcome-column=y")
    call_command("import_responses", *args, "--positive=yes", "--no-progress", stdout=io.StringIO())
    with pytest.raises(CommandError, match="already imported"):
        call_command("import_responses", *args, "--positive=yes", "--no-progress")


def test_a_missing_product_needs_its_family_and_a_missing_column_is_named(tmp_path):
    source = _contacts(tmp_path / "history.csv", rows=10)
    with pytest.raises(CommandError, match="give its family"):
        call_command(
            "import_responses",
            str(source),
            "--product=NEW",
            "--outcome-column=y",
            "--positive=yes",
            "--no-progress",
        )
    with pytest.raises(CommandError, match="no column 'outcome'"):
        call_command(
            "import_responses",
            str(source),
            "--product=NEW",
            "--family=deposits",
            "--outcome-column=outcome",
            "--positive=yes",
            "--no-progress",
        )
    assert not Product.objects.filter(code="NEW").exists()


def test_train_then_score_a_file_in_order_with_the_engines_probabilities(tmp_path):
    source = _contacts(tmp_path / "history.csv")
    call_command(
        "import_responses",
        str(source),
        "--product=TERM_DEPOSIT",
        "--family=deposits",
        "--outcome-column=y",
        "--positive=yes",
        "--drop-column=duration",
        "--no-progress",
        stdout=io.StringIO(),
    )
    out = io.StringIO()
    call_command("train_models", "--product=TERM_DEPOSIT", stdout=out)
    printed = out.getvalue()
    assert "TERM_DEPOSIT: v1 active" in printed
    assert "logistic_regression" in printed and "hist_gradient_boosting" in printed
    model = PropensityModel.objects.get(product__code="TERM_DEPOSIT")
    assert "attributes.duration" not in model.inputs

    people = tmp_path / "people.csv"
    people.write_text("age,job,balance\n30,student,100\n70,retired,8000\n45,admin,\n")
    scored = tmp_path / "scored.csv"
    call_command(
        "score", str(people), "--product=TERM_DEPOSIT", f"--out={scored}", stdout=io.StringIO()
    )
    rows = list(csv.DictReader(scored.open()))
    assert [r["job"] for r in rows] == ["student", "retired", "admin"]
    batch = CustomerBatch.from_columns(
        [0, 1, 2],
        attributes={
            "age": [30, 70, 45],
            "job": ["student", "retired", "admin"],
            "balance": [100, 8000, None],
        },
    )
    # the defaults read the engagement history: a file has none, so any clock reads the same
    assert any(name.startswith("engagement.") for name in model.inputs)
    expected = evaluator(model).propensity_array(batch.source({}), to_us(timezone.now()))
    assert [float(r["propensity"]) for r in rows] == pytest.approx(list(expected), abs=1e-6)
    assert float(rows[1]["propensity"]) > float(rows[0]["propensity"])


def test_scoring_without_an_active_model_says_why(tmp_path):
    Product.objects.create(code="EMPTY", name="Empty", family="deposits", annual_value=0)
    people = tmp_path / "people.csv"
    people.write_text("age\n30\n")
    with pytest.raises(CommandError, match="EMPTY has no active model"):
        call_command("score", str(people), "--product=EMPTY", f"--out={tmp_path / 'o.csv'}")
    assert not (tmp_path / "o.csv").exists()
