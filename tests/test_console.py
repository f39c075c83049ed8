"""The operator console in a real headless Chromium (Debian's /usr/bin/chromium, driven by
Playwright): login, the live queue, taking a call (and losing a race for one), the transcript,
closing with a result, callbacks, roles and session expiry.

The console runs in uvicorn on loopback with real stores on a temp SQLite file (the harness of
tests/test_console_api.py); calls enter the queue through QueueStore while the page is open, as
the call session of any bridge process would put them there.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from playwright.sync_api import Browser, Page, expect
from test_console_api import PASSWORD, ConsoleServer, console_server

WAIT_MS = 5000


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleServer]:
    with console_server(tmp_path_factory.mktemp("console_ui")) as server:
        yield server


def sign_in(browser: Browser, console: ConsoleServer, login: str) -> Page:
    """A fresh browser context signed in as `login`, on the queue page."""
    page = browser.new_context(locale="ru-RU").new_page()
    page.set_default_timeout(WAIT_MS)
    page.goto(f"{console.base}/console/login")
    page.fill("#login", login)
    page.fill("#password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_url("**/console/queue")
    expect(page.locator("#link")).to_have_class(re.compile(r"\bup\b"))  # live socket open
    return page


def entry_locator(page: Page, entry_id: int) -> str:
    return f'article.entry[data-entry-id="{entry_id}"]'


def test_operator_sees_a_call_arrive_takes_it_reads_the_transcript_and_closes_it(
    browser: Browser, console: ConsoleServer
) -> None:
    login = console.user(name="Анна Иванова", extension="201")
    earlier = f"earlier-{time.monotonic_ns()}"
    console.calls.start_call(
        earlier,
        caller="+79161112233",
        called="88001234567",
        codec="pcm16",
        sample_rate=8000,
        started_at=console.clock() - timedelta(days=2),
    )
    console.calls.end_call(
        earlier,
        ended_at=console.clock() - timedelta(days=2),
        outcome="resolved_by_bot",
        end_reason="caller_hung_up",
    )
    page = sign_in(browser, console, login)
    expect(page.locator("#me-name")).to_have_text("Анна Иванова")
    expect(page.locator("#presence")).to_have_value("available")
    expect(page.locator("#waiting .empty")).to_have_text("Очередь пуста.")

    entry = console.enqueue(
        caller="+79161112233",
        priority=2,
        reasons=("vip", "repeat_caller"),
        card={  # the shape of voicebot.handoff.build_card, version 1
            "version": 1,
            "caller": "+79161112233",
            "vip": True,
            "topic": {"id": "billing", "title": "Оплата"},
            "reason": {"code": "caller_request", "text": "клиент попросил соединить"},
            "words": ['<img src="x" onerror="document.title=1">второй раз звоню'],
            "answered": [{"id": "payment-methods", "title": "способы оплаты"}],
            "entities": {"phones": [], "accounts": ["12345678"], "amounts": ["1500 руб."]},
            "complaint": {"detected": True, "evidence": ["второй раз звоню"]},
            "history": {
                "window_days": 7,
                "calls": 1,
                "topics": ["Оплата"],
                "last_unresolved": True,
                "recent": [
                    {
                        "started_at": "2026-11-20T10:00:00+00:00",
                        "outcome": "escalated",
                        "outcome_text": "передан оператору: не решено",
                        "resolved": False,
                        "topic": "billing",
                        "topic_title": "Оплата",
                        "summary_line": "не проходит оплата",
                    }
                ],
            },
            "priority": {"value": 2, "reasons": ["vip", "repeat_caller"], "titles": []},
            "masking": "none",
            "summary": "Клиент жалуется: второй раз не проходит оплата.",
        },
        turns=(
            ("bot", "Здравствуйте! Чем могу помочь?"),
            ("caller", "Второй раз звоню, не проходит оплата по договору 12345678"),
            ("bot", "Соединяю с оператором."),
        ),
    )
    item = page.locator(entry_locator(page, entry.id))
    expect(item).to_be_visible()  # pushed over the WebSocket: no reload
    expect(page.locator("#waiting-count")).to_have_text("1")
    expect(item.locator(".caller")).to_have_text("+79161112233")
    expect(item.locator(".topic")).to_have_text("Оплата")
    expect(item.locator(".priority")).to_have_text("приоритет 2")
    expect(item.locator(".badge.reason")).to_have_text(
        ["VIP-клиент", "повторный звонок по нерешённому вопросу"]
    )
    waited = item.locator(".waited")
    expect(waited).to_have_text(re.compile(r"^\d\d:\d\d$"))
    before = waited.inner_text()
    expect(waited).not_to_have_text(before, timeout=2500)  # the waiting time ticks
    item.locator("details.card summary").click()
    expect(item.locator(".card-summary")).to_have_text(
        "Клиент жалуется: второй раз не проходит оплата."
    )
    expect(item.locator(".card-entities")).to_contain_text("Договоры и счета12345678")
    expect(item.locator(".card-answered")).to_have_text("способы оплаты")
    expect(item.locator(".card-history")).to_contain_text(
        "За 7 дн.: звонков 1 (Оплата), последний не решён"
    )
    expect(item.locator(".card-history li")).to_contain_text("передан оператору: не решено")
    # What callers said is shown as text, never as markup.
    expect(item.locator(".card-words")).to_contain_text('<img src="x"')
    expect(item.locator("img")).to_have_count(0)

    item.locator("button.take").click()
    page.wait_for_url(f"**/console/calls/{entry.id}")
    expect(page.locator("#call-caller")).to_have_text("+79161112233")
    expect(page.locator("#call-state")).to_have_text("принят")
    lines = page.locator("#transcript li")
    expect(lines).to_have_count(3)
    expect(lines.nth(1).locator(".who")).to_have_text("Клиент")
    expect(lines.nth(1).locator(".text")).to_have_text(
        "Второй раз звоню, не проходит оплата по договору 12345678"
    )
    expect(page.locator("#card .card-complaint")).to_contain_text("второй раз звоню")
    expect(page.locator("#history li")).to_have_count(1)  # the earlier call of this number
    expect(page.locator("#history li")).to_contain_text("бот ответил сам")
    taken = console.queue.entry(entry.id)
    assert taken is not None and (taken.operator, taken.extension) == (login, "201")
    expect(page.locator("#presence")).to_have_value("busy")  # the queue made them busy

    page.select_option("#result", label="нужен выезд мастера")
    page.fill("#comment", "Мастер приедет завтра")
    page.click("#close-call")
    expect(page.locator("#closed")).to_have_text(
        "Звонок закрыт: нужен выезд мастера: Мастер приедет завтра"
    )
    expect(page.locator("#close-form")).to_be_hidden()
    closed = console.queue.entry(entry.id)
    assert closed is not None and closed.state == "closed"
    assert closed.result == "technician: Мастер приедет завтра"
    page.context.close()


def test_two_operators_race_for_one_call_and_exactly_one_wins(
    browser: Browser, console: ConsoleServer
) -> None:
    names = {console.user(name="Борис Петров"): "Борис Петров"}
    names[console.user(name="Вера Смирнова")] = "Вера Смирнова"
    pages = {login: sign_in(browser, console, login) for login in names}
    entry = console.enqueue(caller="+79037778899")
    button = f"{entry_locator(next(iter(pages.values())), entry.id)} button.take"
    for page in pages.values():
        expect(page.locator(button)).to_be_visible()
    # Both clicks fire before either answer comes back: two takes in flight at once.
    for page in pages.values():
        page.evaluate("(selector) => document.querySelector(selector).click()", button)
    deadline = time.monotonic() + 5
    taken = console.queue.entry(entry.id)
    while (taken is None or taken.operator is None) and time.monotonic() < deadline:
        time.sleep(0.05)
        taken = console.queue.entry(entry.id)
    assert taken is not None and taken.state == "taken" and taken.operator in names
    winner = taken.operator
    loser = next(login for login in names if login != winner)
    pages[winner].wait_for_url(f"**/console/calls/{entry.id}")
    expect(pages[loser].locator("#notice")).to_have_text(
        f"Этот звонок уже принял другой оператор: {names[winner]}."
    )
    assert "/console/queue" in pages[loser].url
    # The loser's queue no longer offers the call.
    expect(pages[loser].locator(entry_locator(pages[loser], entry.id))).to_have_count(0)
    for page in pages.values():
        page.context.close()


def test_take_next_serves_the_highest_priority_of_ones_topics(
    browser: Browser, console: ConsoleServer
) -> None:
    page = sign_in(browser, console, console.user(topics=("tech",)))
    other_topic = console.enqueue(topic="billing", priority=5)
    normal = console.enqueue(topic="tech", priority=0)
    urgent = console.enqueue(topic="tech", priority=1, reasons=("urgent_topic",))
    expect(page.locator("#waiting article.entry")).to_have_count(2)  # tech only
    ids = page.locator("#waiting article.entry").evaluate_all(
        "items => items.map(i => Number(i.dataset.entryId))"
    )
    assert ids == [urgent.id, normal.id]  # serving order: priority, then arrival
    page.click("#take-next")
    page.wait_for_url(f"**/console/calls/{urgent.id}")
    page.goto(f"{console.base}/console/queue")
    page.click("#take-next")
    page.wait_for_url(f"**/console/calls/{normal.id}")
    page.goto(f"{console.base}/console/queue")
    page.click("#take-next")
    expect(page.locator("#notice")).to_have_text("В очереди нет ожидающих звонков по вашим темам.")
    console.queue.abandon(other_topic.id, console.clock())
    page.context.close()


def test_callbacks_are_taken_and_closed_and_overdue_ones_highlighted(
    browser: Browser, console: ConsoleServer
) -> None:
    page = sign_in(browser, console, console.user(name="Галина Орлова"))
    page.click("nav >> text=Обратные звонки")
    page.wait_for_url("**/console/callbacks")
    expect(page.locator("#callbacks-empty")).to_be_visible()
    now = console.clock()
    overdue = console.queue.request_callback(
        call_id=f"cb-late-{time.monotonic_ns()}",
        caller="+79990000001",
        topic="billing",
        summary="Перезвонить по счёту",
        deadline=now - timedelta(minutes=10),
        now=now,
    )
    soon = console.queue.request_callback(
        call_id=f"cb-soon-{time.monotonic_ns()}",
        caller="+79990000002",
        topic="tech",
        summary="Уточнить адрес",
        deadline=now + timedelta(seconds=2),
        now=now,
    )
    later = console.queue.request_callback(
        call_id=f"cb-later-{time.monotonic_ns()}",
        caller="+79990000003",
        topic="tech",
        summary="Проверить роутер",
        deadline=now + timedelta(hours=2),
        now=now,
    )
    row = {cb.id: page.locator(f'tr[data-callback-id="{cb.id}"]') for cb in (overdue, soon, later)}
    expect(page.locator("#callbacks tr")).to_have_count(3)  # pushed live
    # Earliest deadline first; the overdue one is highlighted with «просрочен».
    ids = page.locator("#callbacks tr").evaluate_all("rows => rows.map(r => r.dataset.callbackId)")
    assert ids == [str(overdue.id), str(soon.id), str(later.id)]
    expect(row[overdue.id]).to_have_class(re.compile(r"\boverdue\b"))
    expect(row[overdue.id].locator(".overdue-badge")).to_have_text("просрочен")
    expect(row[overdue.id].locator(".overdue-badge")).to_be_visible()
    expect(row[soon.id]).not_to_have_class(re.compile(r"\boverdue\b"), timeout=1000)
    expect(row[later.id]).not_to_have_class(re.compile(r"\boverdue\b"))
    expect(row[later.id].locator(".overdue-badge")).to_be_hidden()
    # A deadline passing while the page is open turns the row red without a reload.
    expect(row[soon.id]).to_have_class(re.compile(r"\boverdue\b"), timeout=4000)
    expect(row[soon.id].locator(".overdue-badge")).to_be_visible()

    row[later.id].locator("button.take-callback").click()
    expect(page.locator("#notice")).to_have_text("Задача ваша: позвоните по номеру +79990000003.")
    expect(row[later.id].locator(".state")).to_have_text("в работе")
    row[later.id].locator("input.comment").fill("не берёт трубку")
    row[later.id].locator("button.failed").click()
    expect(page.locator("#notice")).to_have_text(
        "Неудачная попытка №1 записана, задача снова в списке."
    )
    expect(row[later.id].locator(".state")).to_have_text("ожидает")
    row[later.id].locator("button.take-callback").click()
    expect(row[later.id].locator("button.done")).to_be_visible()
    row[later.id].locator("input.comment").fill("роутер заменили")
    row[later.id].locator("button.done").click()
    expect(page.locator("#notice")).to_have_text("Обратный звонок выполнен.")
    expect(row[later.id]).to_have_count(0)
    done = console.queue.callbacks(("done",))
    assert [(c.id, c.attempts, c.result) for c in done if c.id == later.id] == [
        (later.id, 2, "роутер заменили")
    ]
    page.context.close()


def test_wrong_password_shows_a_russian_error(browser: Browser, console: ConsoleServer) -> None:
    login = console.user()
    page = browser.new_context().new_page()
    page.set_default_timeout(WAIT_MS)
    page.goto(f"{console.base}/console/login")
    page.fill("#login", login)
    page.fill("#password", "совсем-не-тот-пароль")
    page.click("#login-submit")
    expect(page.locator("#login-error")).to_have_text("Неверный логин или пароль.")
    assert page.url.endswith("/console/login")
    expect(page.locator("#login")).to_have_value(login)
    page.context.close()


def test_roles_operator_is_refused_the_admin_page_admin_manages_users(
    browser: Browser, console: ConsoleServer
) -> None:
    page = sign_in(browser, console, console.user())
    expect(page.locator("nav a")).to_have_text(["Очередь", "Обратные звонки"])
    response = page.goto(f"{console.base}/console/users")
    assert response is not None and response.status == 403
    expect(page.locator("h1")).to_have_text("Доступ запрещён")
    expect(page.locator("#forbidden-message")).to_have_text(
        "Доступ запрещён: раздел «управление пользователями» открыт только для ролей "
        "«администратор». Ваша роль — «оператор»."
    )
    page.click("#logout")  # a same-origin form POST: the browser's Origin header passes
    page.wait_for_url("**/console/login")
    page.goto(f"{console.base}/console/queue")
    assert page.url.endswith("/console/login")
    page.context.close()

    admin = sign_in(browser, console, console.user("admin", name="Дмитрий Админов"))
    expect(admin.locator("nav a")).to_have_text(
        ["Очередь", "Обратные звонки", "Смена", "Отчёты", "База знаний", "Пользователи"]
    )
    admin.click("nav >> text=Пользователи")
    admin.wait_for_url("**/console/users")
    admin.fill("#new-login", "zoya")
    admin.fill("#new-name", "Зоя Кузнецова")
    admin.select_option("#new-role", "supervisor")
    admin.fill("#new-extension", "250")
    admin.fill("#new-password", "надёжный-пароль")
    admin.click("#create-user")
    expect(admin.locator("#notice")).to_have_text("Пользователь zoya создан.")
    created = admin.locator('tr[data-login="zoya"]')
    expect(created.locator("td").nth(2)).to_have_text("супервайзер")
    created.locator("button.deactivate").click()
    expect(admin.locator("#notice")).to_have_text("Пользователь zoya отключён.")
    expect(created.locator(".state")).to_have_text("отключён")
    record = console.users.get("zoya")
    assert record is not None and not record.active and record.operator.role == "supervisor"
    admin.context.close()


def test_supervisor_sees_presence_and_active_calls(
    browser: Browser, console: ConsoleServer
) -> None:
    operator = console.user(name="Елена Новикова")
    worker = sign_in(browser, console, operator)
    worker.select_option("#presence", "away")
    expect(worker.locator("#notice")).to_have_text("Статус: отошёл")
    boss = sign_in(browser, console, console.user("supervisor", name="Жанна Старшая"))
    boss.click("nav >> text=Смена")
    boss.wait_for_url("**/console/supervisor")
    expect(boss.locator(f'#operators tr[data-login="{operator}"] .status')).to_have_text("отошёл")
    entry = console.enqueue(caller="+79165554433")
    console.queue.take(entry.id, operator, "", console.clock())
    expect(boss.locator(f'#active tr[data-entry-id="{entry.id}"]')).to_contain_text(operator)
    expect(boss.locator(f'#operators tr[data-login="{operator}"] .status')).to_have_text(
        "разговаривает"
    )
    worker.context.close()
    boss.context.close()


def test_an_expired_session_sends_the_open_console_to_the_login_page(
    browser: Browser, console: ConsoleServer
) -> None:
    page = sign_in(browser, console, console.user())
    console.clock.advance(timedelta(minutes=31))  # idle longer than the 30-minute session
    page.wait_for_url("**/console/login", timeout=10_000)  # the live socket noticed it
    response = page.goto(f"{console.base}/console/queue")
    assert response is not None
    assert page.url.endswith("/console/login")
    page.context.close()
