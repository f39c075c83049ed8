"""Signing in to the operator console in a Playwright browser, for the page tests."""

from __future__ import annotations

from playwright.sync_api import Browser, ConsoleMessage, Page
from test_console_api import PASSWORD


def sign_in(
    browser: Browser,
    base: str,
    login: str,
    errors: list[str],
    *,
    wait_ms: int,
    accept_downloads: bool = False,
) -> Page:
    """A fresh context signed in as `login` (password PASSWORD); console errors go to `errors`."""
    page = browser.new_context(locale="ru-RU", accept_downloads=accept_downloads).new_page()
    page.set_default_timeout(wait_ms)

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(message.text)

    page.on("console", on_console)
    page.goto(f"{base}/console/login")
    page.fill("#login", login)
    page.fill("#password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_url("**/console/queue")
    return page
