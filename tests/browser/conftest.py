"""Browser tests: pytest-playwright driving Debian's Chromium against Django's live server.

Chromium is the Debian package (``apt-get install -y chromium``), found on the PATH or
named by ``CROSSSELL_CHROMIUM``; Playwright's own browser download is never used. With no
Chromium the tests fail under ``CI=true`` (``.ci/run`` installs it) and are skipped with
what to install elsewhere.

Playwright's sync API keeps an asyncio loop running on the main thread while it is
started, and Django refuses ORM calls from a thread with a running loop
(``SynchronousOnlyOperation``); ``DJANGO_ALLOW_ASYNC_UNSAFE`` lifts that — only while this
package runs: Playwright, the browser and the variable are scoped to the package (the
plugin's own fixtures are session-wide), so tests collected after it run as before.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.core.cache import cache
from playwright.sync_api import Browser, BrowserType, Page, Playwright, expect, sync_playwright

from tests.conftest import IN_CI
from tests.factories import persona

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-dev-shm-usage",
]
PASSWORD = "correct horse battery staple"  # tests.factories.UserFactory's
# How long an expectation waits for the page (htmx swaps, polling): generous on a loaded
# 2-core machine, and only ever reached when something is wrong.
expect.set_options(timeout=10_000)


def chromium_path() -> str | None:
    named = os.environ.get("CROSSSELL_CHROMIUM")
    if named:
        return named
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    path = chromium_path()
    if path is None:
        message = (
            "the browser tests need Chromium: apt-get install -y chromium (Debian), or set "
            "CROSSSELL_CHROMIUM to a Chromium binary; Playwright's own download is not used"
        )
        if IN_CI:
            pytest.fail(f"CI=true and {message}", pytrace=False)
        pytest.skip(message)
    headed = browser_type_launch_args.get("headless") is False
    args = [arg for arg in CHROMIUM_ARGS if not (headed and arg == "--headless")]
    return {**browser_type_launch_args, "executable_path": path, "args": args}


@pytest.fixture(scope="package")
def _async_unsafe_allowed() -> Iterator[None]:
    before = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    yield
    if before is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = before


@pytest.fixture(scope="package")
def playwright(_async_unsafe_allowed: None) -> Iterator[Playwright]:
    started = sync_playwright().start()
    yield started
    started.stop()


@pytest.fixture(scope="package")
def browser_type(playwright: Playwright, browser_name: str) -> BrowserType:
    return getattr(playwright, browser_name)


@pytest.fixture(scope="package")
def launch_browser(
    browser_type_launch_args: dict[str, Any], browser_type: BrowserType
) -> Callable[..., Browser]:
    def launch(**kwargs: Any) -> Browser:
        return browser_type.launch(**{**browser_type_launch_args, **kwargs})

    return launch


@pytest.fixture(scope="package")
def browser(launch_browser: Callable[..., Browser]) -> Iterator[Browser]:
    launched = launch_browser()
    yield launched
    launched.close()


@pytest.fixture(scope="package")
def browser_context_args(pytestconfig: pytest.Config, _pw_artifacts_folder) -> dict[str, Any]:
    """The plugin's, at package scope (it reads the package-scoped ``playwright`` only for
    ``--device``, which these tests do not take)."""
    if pytestconfig.getoption("--video") in ("on", "retain-on-failure"):
        return {"record_video_dir": _pw_artifacts_folder.name}
    return {}


@pytest.fixture(autouse=True)
def _live_database(ledger_allows_live_server_flush, transactional_db) -> Iterator[None]:
    """Every browser test shares the live server's database (flushed after the test) and
    starts with an empty cache (the dashboard caches its figures for seconds)."""
    cache.clear()
    yield
    cache.clear()


@dataclass
class Console:
    """The page under test, the live server's address, and the browser's console errors."""

    page: Page
    url: str
    errors: list[str]

    def open(self, path: str) -> Page:
        self.page.goto(self.url + path)
        return self.page

    def sign_in(self, username: str, next_path: str = "/") -> Page:
        """Through the real form, as a person would."""
        self.page.goto(f"{self.url}/login/?next={next_path}")
        self.page.get_by_label("Username").fill(username)
        self.page.get_by_label("Password").fill(PASSWORD)
        self.page.get_by_role("button", name="Sign in").click()
        self.page.wait_for_url(f"**{next_path}")
        return self.page

    def sign_out(self) -> None:
        self.page.get_by_role("button", name="Sign out").click()
        self.page.wait_for_url("**/login/**")


@pytest.fixture
def console(page: Page, live_server) -> Iterator[Console]:
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    yield Console(page=page, url=live_server.url, errors=errors)


@pytest.fixture
def people(transactional_db) -> dict[str, Any]:
    """maker (marketer), checker (compliance), analyst, admin, and both (marketer and
    compliance officer: the maker-checker rule is about the person, not the role)."""
    return {
        "marketer": persona("maker", "marketer"),
        "compliance": persona("checker", "compliance"),
        "analyst": persona("analyst", "analyst"),
        "admin": persona("admin", "admin"),
        "both": persona("both", "marketer", "compliance"),
    }


_AXE = Axe()
SERIOUS = {"serious", "critical"}


def serious_violations(page: Page) -> list[str]:
    """axe-core (shipped inside axe-playwright-python) over the page as it is now: the
    serious and critical violations, one line per rule with where it was found."""
    results = _AXE.run(page)
    found = []
    for violation in results.response["violations"]:
        if violation.get("impact") not in SERIOUS:
            continue
        targets = ", ".join(
            " ".join(map(str, node.get("target", []))) for node in violation["nodes"][:5]
        )
        found.append(f"{violation['id']} ({violation['impact']}): {violation['help']} — {targets}")
    return found
