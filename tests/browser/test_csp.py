"""The Content-Security-Policy in Chromium: the console (htmx included) and the API docs
(Swagger UI) work under it with no violation reported. (Moved from
tests/security/test_csp_browser.py when the hand-written DevTools driver gave way to
Playwright.)"""

from __future__ import annotations

from playwright.sync_api import expect

# Installed before any page script runs, so it sees every violation.
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => {
    window.__cspViolations.push(
        `${e.effectiveDirective} blocked ${e.blockedURI || 'inline'} at ${e.sourceFile}:${e.lineNumber}`
    );
});
"""


def violations(page) -> list[str]:
    return page.evaluate("window.__cspViolations || []")


def test_the_console_and_the_api_docs_run_under_the_policy(console, people):
    page = console.page
    page.add_init_script(RECORD_VIOLATIONS)
    console.open("/login/?next=/decisions/")
    assert violations(page) == []
    console.sign_in("analyst", "/decisions/")
    # htmx read its configuration and injected no <style> of its own.
    assert page.evaluate("htmx.config.includeIndicatorStyles") is False
    assert page.evaluate("document.querySelectorAll('style').length") == 0
    # An htmx filter round trip.
    page.locator("#id_channel").select_option("web")
    page.wait_for_url("**channel=web**")
    expect(page.locator("#decisions")).to_contain_text("No decisions match")
    assert violations(page) == []
    console.open("/")
    assert violations(page) == []

    # Swagger UI renders the schema with its start-up script loaded from the server.
    console.open("/api/docs/")
    expect(page.locator(".swagger-ui .opblock").first).to_be_visible(timeout=20_000)
    expect(page.locator(".swagger-ui .info")).to_contain_text("crosssell channel API")
    assert violations(page) == []
    assert console.errors == []
