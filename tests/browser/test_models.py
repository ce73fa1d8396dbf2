"""The models page in a real browser: an analyst sees each product's versions with their
held-out figures, the champion and the challenger that did not beat it and why, and the
calibration curve drawn inline; the page passes the axe scan."""

from __future__ import annotations

from playwright.sync_api import expect

from decisioning.learning.registry import model_train
from tests.browser.conftest import serious_violations
from tests.decisioning.catalog import small_bank
from tests.learning.history import history


def test_an_analyst_reads_champion_challenger_and_the_calibration_curve(console, people):
    bank = small_bank()
    history(bank.savings)
    champion = model_train(actor="system:tests", product=bank.savings.product)
    challenger = model_train(actor="system:tests", product=bank.savings.product, features=("age",))
    assert champion.status == "active" and challenger.status == "candidate"

    page = console.sign_in("analyst", "/models/")
    row = page.get_by_role("row", name="SAVINGS_PLUS")
    expect(row).to_contain_text(f"{champion.auc:.3f}")
    assert serious_violations(page) == []

    row.get_by_role("link", name="SAVINGS_PLUS").click()
    expect(page.locator("h1")).to_contain_text("SAVINGS_PLUS")
    expect(page.get_by_text("Calibration", exact=False).first).to_be_visible()
    expect(page.locator("svg polyline").first).to_be_attached()
    expect(page.get_by_text("does not beat", exact=False).first).to_be_visible()
    assert serious_violations(page) == []
    assert console.errors == []
