"""The Content-Security-Policy in headless Chromium: the console (htmx included) and the
API docs (Swagger UI) work under it with no violation reported.

Skipped with the reason when no Chromium is installed (Debian: ``apt-get install -y
chromium``), like the console's browser test whose driver it uses.
"""

from __future__ import annotations

import json

import pytest

from tests.console.browser import Browser, find_chromium
from tests.factories import UserFactory

CHROMIUM = find_chromium()
pytestmark = [
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="headless CSP test: no Chromium found (apt-get install -y chromium)",
    ),
    pytest.mark.usefixtures("ledger_allows_live_server_flush"),
]
PASSWORD = "correct horse battery staple"
# Installed by DevTools before any page script runs, so it sees every violation.
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => {
    window.__cspViolations.push(
        `${e.effectiveDirective} blocked ${e.blockedURI || 'inline'} at ${e.sourceFile}:${e.lineNumber}`
    );
});
"""


@pytest.fixture
def browser():
    chromium = Browser(CHROMIUM)
    chromium.call("Page.addScriptToEvaluateOnNewDocument", source=RECORD_VIOLATIONS)
    yield chromium
    chromium.close()


def violations(browser: Browser) -> list[str]:
    return browser.evaluate("window.__cspViolations || []")


def test_the_console_and_the_api_docs_run_under_the_policy(live_server, browser, transactional_db):
    UserFactory(username="analyst", groups=["analyst"])
    browser.goto(f"{live_server.url}/login/?next=/decisions/")
    assert violations(browser) == []
    browser.evaluate(
        f"""(() => {{
            document.querySelector('[name=username]').value = 'analyst';
            document.querySelector('[name=password]').value = {json.dumps(PASSWORD)};
            document.querySelector('form').submit();
        }})()"""
    )
    browser.wait_for(
        "window.location.pathname === '/decisions/' && document.readyState === 'complete'"
        " && typeof htmx === 'object'"
    )
    # htmx read its configuration and injected no <style> of its own.
    assert browser.evaluate("htmx.config.includeIndicatorStyles") is False
    assert browser.evaluate("document.querySelectorAll('style').length") == 0
    # An htmx filter round trip.
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
    browser.goto(f"{live_server.url}/")
    assert violations(browser) == []

    # Swagger UI renders the schema with its start-up script loaded from the server.
    browser.goto(f"{live_server.url}/api/docs/")
    browser.wait_for("!!document.querySelector('.swagger-ui .opblock')", 20)
    assert "crosssell channel API" in browser.text(".swagger-ui .info")
    assert violations(browser) == []
    assert browser.console_errors == []
