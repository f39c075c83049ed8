"""The knowledge-base editor in a real headless Chromium (Playwright): a supervisor creates an
entry, finds it with the search box, sees a field's problem, tries a phrase, publishes after
the preview and deletes the entry; an operator gets the 403 page. No CSP violations."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from console_browser import sign_in as sign_in_console
from playwright.sync_api import Browser, Page, expect
from test_kb_editor_api import KbServer, kb_server

WAIT_MS = 8000


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KbServer]:
    with kb_server(tmp_path_factory.mktemp("kb_ui")) as server:
        yield server


def sign_in(browser: Browser, srv: KbServer, role: str, errors: list[str]) -> Page:
    """A fresh context signed in as a new user of `role`; console errors go to `errors`."""
    return sign_in_console(browser, srv.base, srv.console.user(role), errors, wait_ms=WAIT_MS)


def test_an_editor_creates_an_entry_and_publishes(browser: Browser, srv: KbServer) -> None:
    errors: list[str] = []
    page = sign_in(browser, srv, "supervisor", errors)
    page.click("header.top a[href='/console/kb']")
    expect(page.locator("#kb")).to_have_attribute("data-version", "1")
    expect(page.locator(".kb-item")).to_have_count(3)
    expect(page.locator(".kb-topic").first).to_have_text("Оплата (2)")

    page.click("#kb-new")
    page.fill("#f-id", "refund")
    page.fill("#f-title", "возврат денег")
    page.select_option("#f-topic", "billing")
    page.fill("#f-questions", "как оформить возврат денег\nвернуть деньги за услугу")
    page.click("#kb-save")  # no answer yet: the problem is shown next to the field
    expect(page.locator("ul.problems[data-field='answer'] li")).to_contain_text("пустой ответ")
    page.fill("#f-answer", "Заявление на возврат подаётся в личном кабинете.")
    page.click("#kb-save")
    expect(page.locator("#kb")).to_have_attribute("data-version", "2")
    expect(page.locator(".kb-item")).to_have_count(4)
    expect(page.locator("#kb-form-title")).to_have_text("Запись «refund»")

    page.fill("#kb-search", "возврат")
    expect(page.locator(".kb-item")).to_have_count(1)
    expect(page.locator(".kb-item[data-id='refund']")).to_be_visible()
    page.fill("#kb-search", "")
    expect(page.locator(".kb-item")).to_have_count(4)

    page.fill("#try-text", "вернуть деньги за услугу")
    page.click("#try-run")
    expect(page.locator(".try-verdict")).to_contain_text("«refund»")
    expect(page.locator("#try-candidates tbody tr")).to_have_count(3)

    page.click("#publish-preview")
    expect(page.locator("#publish-accuracy")).to_contain_text("Точность на примерах (3)")
    expect(page.locator("#publish-changed")).to_contain_text("как оформить возврат денег")
    page.click("#publish-confirm")
    expect(page.locator("#publish-done")).to_contain_text("Версия №2 опубликована")
    published = srv.versions.published()
    assert published is not None and published.id == 2
    head = srv.versions.head()
    assert head is not None and "refund" in head.files["faq/billing.yaml"]

    # delete, after the browser's confirm
    page.click(".kb-item[data-id='refund']")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#kb-delete")
    expect(page.locator("#kb")).to_have_attribute("data-version", "3")
    expect(page.locator(".kb-item")).to_have_count(3)
    expect(page.locator("#kb-form")).to_be_hidden()
    page.close()
    assert not [e for e in errors if "Content Security Policy" in e], errors


def test_an_operator_gets_the_403_page(browser: Browser, srv: KbServer) -> None:
    errors: list[str] = []
    page = sign_in(browser, srv, "operator", errors)
    expect(page.locator("header.top a[href='/console/kb']")).to_have_count(0)
    reply = page.goto(f"{srv.base}/console/kb")
    assert reply is not None and reply.status == 403
    expect(page.locator("#forbidden-message")).to_contain_text("Доступ запрещён")
    page.close()
