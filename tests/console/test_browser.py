"""Smoke test in headless Chromium: sign in, and the htmx behaviours work in a real browser
(live rule validation, filtered lists, lazy explanations, progress polling).

Skipped with the reason when no Chromium is installed (Debian: ``apt-get install -y
chromium``; Playwright's own browser download is not used).
"""

from __future__ import annotations

import json

import pytest

from tests.console.browser import Browser, find_chromium
from tests.console.conftest import build_bank
from tests.factories import UserFactory

CHROMIUM = find_chromium()
pytestmark = [
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="headless smoke test: no Chromium found (apt-get install -y chromium)",
    ),
    pytest.mark.usefixtures("ledger_allows_live_server_flush"),
]
PASSWORD = "correct horse battery staple"


@pytest.fixture
def browser():
    chromium = Browser(CHROMIUM)
    yield chromium
    chromium.close()


def sign_in(browser: Browser, live_server, username: str, next_path: str = "/") -> None:
    browser.goto(f"{live_server.url}/login/?next={next_path}")
    browser.evaluate(
        f"""(() => {{
            document.querySelector('[name=username]').value = {json.dumps(username)};
            document.querySelector('[name=password]').value = {json.dumps(PASSWORD)};
            document.querySelector('form').submit();
        }})()"""
    )
    browser.wait_for(
        f"window.location.pathname === {json.dumps(next_path)}"
        " && document.readyState === 'complete' && typeof htmx === 'object'"
    )


def test_sign_in_and_the_console_in_a_real_browser(live_server, browser, transactional_db):
    people = {
        "marketer": UserFactory(username="maker", groups=["marketer"]),
        "compliance": UserFactory(username="checker", groups=["compliance"]),
        "analyst": UserFactory(username="analyst", groups=["analyst"]),
    }
    bank = build_bank(people)

    # Sign in with the real form; the dashboard renders with its stylesheet and htmx.
    sign_in(browser, live_server, "maker", "/campaigns/new/")
    assert browser.evaluate("typeof htmx") == "object"
    assert browser.evaluate("getComputedStyle(document.querySelector('.topbar')).display") == "flex"

    # Live rule validation in the campaign builder: the engine's position, then valid.
    browser.evaluate(
        """(() => {
            const area = document.querySelector('#id_audience_rule');
            area.value = 'age >= and x';
            area.dispatchEvent(new Event('input', {bubbles: true}));
        })()"""
    )
    browser.wait_for("document.querySelector('#audience-status').innerText.includes('position 7')")
    assert browser.evaluate("!!document.querySelector('#audience-status mark')")
    browser.evaluate(
        """(() => {
            const area = document.querySelector('#id_audience_rule');
            area.value = 'age >= 18';
            area.dispatchEvent(new Event('input', {bubbles: true}));
        })()"""
    )
    browser.wait_for("document.querySelector('#audience-status').innerText.startsWith('Valid')")

    # A running batch run's progress bar polls every second until the run is done.
    browser.goto(f"{live_server.url}/campaigns/runs/{bank.run.pk}/")
    assert "40.0%" in browser.text("#run-progress")
    bank.run.processed_customers = 1000
    bank.run.status = "completed"
    bank.run.save()
    browser.wait_for("document.querySelector('#run-progress').innerText.includes('100.0%')", 5)

    # Sign out (a POST from the top bar), then the decision ledger filters through htmx
    # and keeps the URL in step.
    browser.evaluate("document.querySelector('form[action=\"/logout/\"]').submit()")
    browser.wait_for("window.location.pathname === '/login/'")
    sign_in(browser, live_server, "analyst", "/decisions/")
    browser.evaluate(
        """(() => {
            const select = document.querySelector('#id_channel');
            select.value = 'web';
            select.dispatchEvent(new Event('change', {bubbles: true}));
        })()"""
    )
    browser.wait_for("window.location.search.includes('channel=web')")
    browser.wait_for(
        "document.querySelector('#decisions').innerText.includes('No decisions match')"
    )

    # Customer 360 loads a decision's explanation when it is opened.
    browser.goto(f"{live_server.url}/customers/{bank.customer.external_id}/")
    browser.evaluate("document.querySelector('details.explain').open = true")
    browser.wait_for(
        "document.querySelector('details.explain').innerText.includes('Candidates considered')"
    )

    assert browser.console_errors == []
