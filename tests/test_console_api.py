"""The operator console over HTTP and WebSocket (httpx, websockets) against the real router in
uvicorn on loopback, with real stores on a temp SQLite file: every route checks the session and
the role, POSTs check the origin, and the queue, call and callback flows answer in Russian.

`ConsoleServer` and `console_server` are shared with tests/test_console.py (Playwright).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from bridge_server import serving
from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute, APIWebSocketRoute
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Origin

from telephony_bridge.console import ConsoleSettings, console_router
from voicebot.auth import ScryptParams, ThrottleSettings
from voicebot.queue import QueueEntry
from voicebot.store import CallStore
from voicebot.store.queue import QueueStore
from voicebot.store.users import UserStore

CHEAP = ScryptParams(log_n=4)
PASSWORD = "пароль-для-тестов"
COOKIE = "voicebot_console"


class FakeClock:
    """The console's clock: real time at start, moved on by tests."""

    def __init__(self) -> None:
        self._now = datetime.now(UTC).replace(microsecond=0)
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            self._now += delta


@dataclass
class ConsoleServer:
    """A running console with its stores."""

    base: str
    url: str  # the database
    users: UserStore
    queue: QueueStore
    calls: CallStore
    clock: FakeClock
    app: FastAPI
    router: APIRouter
    counter: list[int] = field(default_factory=lambda: [0])

    def user(
        self,
        role: str = "operator",
        *,
        name: str | None = None,
        extension: str = "101",
        topics: tuple[str, ...] = (),
    ) -> str:
        """A new user with PASSWORD; its login."""
        self.counter[0] += 1
        login = f"{role[:3]}{self.counter[0]}"
        self.users.create(
            login,
            name or f"Тест {login}",
            role,
            PASSWORD,
            extension=extension,
            topics=topics,
            now=self.clock(),
        )
        return login

    def client(self, login: str | None = None) -> httpx.Client:
        """An HTTP client sending the console's Origin, signed in as `login` if given."""
        client = httpx.Client(
            base_url=self.base, headers={"Origin": self.base}, trust_env=False, timeout=10
        )
        if login is not None:
            with httpx.Client(
                base_url=self.base, headers={"Origin": self.base}, trust_env=False, timeout=10
            ) as signing_in:
                reply = signing_in.post(
                    "/console/login",
                    content=f"login={login}&password={PASSWORD}".encode(),
                    headers={"Content-Type": "application/x-www-form-urlencoded"},
                )
            assert reply.status_code == 303, reply.text
            client.cookies.set(COOKIE, reply.cookies[COOKIE], domain="127.0.0.1", path="/console")
        return client

    def enqueue(
        self,
        *,
        caller: str = "+79161234567",
        topic: str = "billing",
        priority: int = 0,
        reasons: tuple[str, ...] = (),
        card: dict[str, Any] | None = None,
        turns: tuple[tuple[str, str], ...] = (),
    ) -> QueueEntry:
        """A call (with its transcript) escalated into the queue."""
        self.counter[0] += 1
        call_id = f"call-{self.counter[0]}-{time.monotonic_ns()}"
        now = self.clock()
        self.calls.start_call(
            call_id,
            caller=caller,
            called="88001234567",
            codec="pcm16",
            sample_rate=8000,
            started_at=now - timedelta(minutes=2),
        )
        for index, (role, text) in enumerate(turns):
            self.calls.add_turn(
                call_id, role, text, started_at=now - timedelta(seconds=90 - 10 * index)
            )
        return self.queue.enqueue(
            call_id=call_id,
            caller=caller,
            topic=topic,
            priority=priority,
            priority_reasons=reasons,
            reason="caller_request",
            card=card if card is not None else {"summary": "Клиент спрашивает про баланс."},
            now=now,
        )


@contextmanager
def console_server(
    tmp_path: Path, settings: ConsoleSettings | None = None
) -> Iterator[ConsoleServer]:
    """The console router alone in a FastAPI app, in uvicorn on loopback."""
    url = f"sqlite:///{tmp_path / 'console.db'}"
    calls = CallStore(url)
    queue = QueueStore(url, migrate=False)
    users = UserStore(url, migrate=False, scrypt=CHEAP)
    clock = FakeClock()
    settings = settings or ConsoleSettings(
        heartbeat_s=1.0, topic_titles={"billing": "Оплата", "tech": "Техподдержка"}
    )
    app = FastAPI()
    router = console_router(users, queue, calls, clock=clock, settings=settings)
    app.include_router(router)
    with serving(app) as port:
        try:
            yield ConsoleServer(
                f"http://127.0.0.1:{port}", url, users, queue, calls, clock, app, router
            )
        finally:
            for store in (users, queue, calls):
                store.close()


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleServer]:
    with console_server(tmp_path_factory.mktemp("console")) as server:
        yield server


# --- every route checks the session and the role ---------------------------------------------

# (method, path, the least role allowed) for every route of the router; "" = anyone.
ROUTES: list[tuple[str, str, str]] = [
    ("GET", "/console/queue", "operator"),
    ("GET", "/console/calls/{id}", "operator"),
    ("GET", "/console/callbacks", "operator"),
    ("GET", "/console/supervisor", "supervisor"),
    ("GET", "/console/users", "admin"),
    ("GET", "/console/api/me", "operator"),
    ("GET", "/console/api/queue", "operator"),
    ("POST", "/console/api/presence", "operator"),
    ("POST", "/console/api/queue/{id}/take", "operator"),
    ("POST", "/console/api/queue/next", "operator"),
    ("GET", "/console/api/calls/{id}", "operator"),
    ("POST", "/console/api/calls/{id}/close", "operator"),
    ("GET", "/console/api/callbacks", "operator"),
    ("POST", "/console/api/callbacks/{id}/take", "operator"),
    ("POST", "/console/api/callbacks/{id}/close", "operator"),
    ("GET", "/console/api/active", "supervisor"),
    ("GET", "/console/api/operators", "supervisor"),
    ("GET", "/console/api/users", "admin"),
    ("POST", "/console/api/users", "admin"),
    ("POST", "/console/api/users/{login}/deactivate", "admin"),
    ("POST", "/console/api/users/{login}/password", "admin"),
]
PUBLIC = {
    ("GET", "/console"),
    ("GET", "/console/"),
    ("GET", "/console/login"),
    ("POST", "/console/login"),
    ("POST", "/console/logout"),
    ("GET", "/console/static/{name}"),
}
RANK = {"operator": 0, "supervisor": 1, "admin": 2}


def test_the_route_table_covers_every_route(console: ConsoleServer) -> None:
    found = set()
    for route in console.router.routes:
        if isinstance(route, APIRoute):
            found |= {(m, route.path) for m in route.methods or () if m != "HEAD"}
        elif isinstance(route, APIWebSocketRoute):
            found.add(("WS", route.path))
    listed = {(m, p.replace("{id}", "{entry_id}")) for m, p, _ in ROUTES}
    listed = {(m, p.replace("callbacks/{entry_id}", "callbacks/{callback_id}")) for m, p in listed}
    assert found == listed | PUBLIC | {("WS", "/console/ws")}


def _request(client: httpx.Client, method: str, path: str) -> httpx.Response:
    path = path.replace("{id}", "999999").replace("{login}", "nobody")
    if method == "GET":
        return client.get(path, follow_redirects=False)
    return client.post(path, json={}, follow_redirects=False)


@pytest.mark.parametrize(("method", "path", "least"), ROUTES)
def test_without_a_session_pages_redirect_and_the_api_says_401(
    console: ConsoleServer, method: str, path: str, least: str
) -> None:
    with console.client() as anonymous:
        reply = _request(anonymous, method, path)
    if "/api/" in path:
        assert reply.status_code == 401
        assert reply.json()["error"] == "Сессия истекла или вы не вошли. Войдите снова."
    else:
        assert reply.status_code == 303
        assert reply.headers["location"] == "/console/login"


@pytest.mark.parametrize(("method", "path", "least"), ROUTES)
def test_each_role_is_let_in_or_refused_in_russian(
    console: ConsoleServer, method: str, path: str, least: str
) -> None:
    for role in ("operator", "supervisor", "admin"):
        with console.client(console.user(role)) as client:
            reply = _request(client, method, path)
        if RANK[role] < RANK[least]:
            assert reply.status_code == 403, (role, path)
            text = reply.json()["error"] if "/api/" in path else reply.text
            assert "Доступ запрещён" in text and "Ваша роль" in text, text
        else:
            assert reply.status_code not in (401, 403), (role, path, reply.text)


def test_a_forged_cookie_is_no_session(console: ConsoleServer) -> None:
    with console.client() as client:
        client.cookies.set(COOKIE, "forged-token-value", domain="127.0.0.1", path="/console")
        assert client.get("/console/api/me").status_code == 401
        assert client.get("/console/queue", follow_redirects=False).status_code == 303


# --- login, cookies, CSRF ----------------------------------------------------------------------


def test_wrong_password_is_refused_in_russian(console: ConsoleServer) -> None:
    login = console.user()
    with console.client() as client:
        reply = client.post(
            "/console/login",
            content=f"login={login}&password=wrong-password".encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert reply.status_code == 401
        assert "Неверный логин или пароль." in reply.text
        assert COOKIE not in reply.cookies
        unknown = client.post(
            "/console/login",
            content=b"login=nobody-at-all&password=whatever",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert unknown.status_code == 401 and "Неверный логин или пароль." in unknown.text


def test_login_sets_a_strict_httponly_cookie_and_presence(console: ConsoleServer) -> None:
    login = console.user()
    with console.client() as client:
        reply = client.post(
            "/console/login",
            content=f"login={login.upper()}&password={PASSWORD}".encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    assert reply.status_code == 303 and reply.headers["location"] == "/console/queue"
    cookie = reply.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/console" in cookie
    assert "secure" not in cookie.replace("samesite", "")
    token = reply.cookies[COOKIE]
    # Only the token's hash is stored: the token itself signs in, found by hash.
    operator = console.users.session(token, console.clock())
    assert operator is not None and operator.login == login
    assert {o.login: o.status for o in console.queue.operators(console.clock())}[login] == (
        "available"
    )


def test_secure_cookie_when_configured(tmp_path: Path) -> None:
    with console_server(tmp_path, ConsoleSettings(secure_cookie=True)) as server:
        login = server.user()
        with server.client() as client:
            reply = client.post(
                "/console/login",
                content=f"login={login}&password={PASSWORD}".encode(),
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
    assert "; secure" in reply.headers["set-cookie"].lower()


def test_failed_logins_are_rate_limited_per_login_and_address(tmp_path: Path) -> None:
    settings = ConsoleSettings(
        throttle=ThrottleSettings(max_failures=3, max_failures_per_address=4),
        client_address_header="X-Real-IP",
    )
    with console_server(tmp_path, settings) as server:
        first, second, third = server.user(), server.user(), server.user()

        def attempt(login: str, password: str, address: str) -> httpx.Response:
            with server.client() as client:
                return client.post(
                    "/console/login",
                    content=f"login={login}&password={password}".encode(),
                    headers={
                        "Content-Type": "application/x-www-form-urlencoded",
                        "X-Real-IP": address,
                    },
                )

        for _ in range(3):
            assert attempt(first, "wrong", "10.0.0.1").status_code == 401
        # Now even the right password is refused, from any address, until the window passes.
        blocked = attempt(first, PASSWORD, "10.0.0.2")
        assert blocked.status_code == 429
        assert "Слишком много неудачных попыток входа" in blocked.text
        assert "15 мин" in blocked.text
        # The fourth failure from 10.0.0.1 blocks that address for every login, not others.
        assert attempt(second, "wrong", "10.0.0.1").status_code == 401
        assert attempt(third, PASSWORD, "10.0.0.1").status_code == 429
        assert attempt(third, PASSWORD, "10.0.0.3").status_code == 303
        server.clock.advance(timedelta(minutes=15))
        assert attempt(first, PASSWORD, "10.0.0.1").status_code == 303


def test_posts_from_another_origin_are_refused(console: ConsoleServer) -> None:
    login = console.user()
    with console.client(login) as client:
        evil = client.post(
            "/console/api/presence",
            json={"status": "away"},
            headers={"Origin": "http://evil.example"},
        )
        assert evil.status_code == 403 and "не со страницы консоли" in evil.json()["error"]
        del client.headers["Origin"]
        missing = client.post("/console/api/presence", json={"status": "away"})
        assert missing.status_code == 403
        # The Referer's origin stands in for a missing Origin.
        referred = client.post(
            "/console/api/presence",
            json={"status": "away"},
            headers={"Referer": f"{console.base}/console/queue"},
        )
        assert referred.status_code == 200
        client.headers["Origin"] = console.base
        form = client.post(
            "/console/api/presence",
            content=b"status=away",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert form.status_code == 415
    with console.client() as anonymous:
        cross_login = anonymous.post(
            "/console/login",
            content=f"login={login}&password={PASSWORD}".encode(),
            headers={
                "Origin": "http://evil.example",
                "Content-Type": "application/x-www-form-urlencoded",
            },
        )
        assert cross_login.status_code == 403


def test_logout_ends_the_session(console: ConsoleServer) -> None:
    login = console.user()
    with console.client(login) as client:
        token = client.cookies[COOKIE]
        reply = client.post("/console/logout", follow_redirects=False)
        assert reply.status_code == 303 and reply.headers["location"] == "/console/login"
    assert console.users.session(token, console.clock()) is None
    assert {o.login: o.status for o in console.queue.operators(console.clock())}[login] == (
        "offline"
    )


def test_pages_carry_security_headers(console: ConsoleServer) -> None:
    with console.client(console.user()) as client:
        reply = client.get("/console/queue")
    assert reply.status_code == 200
    csp = reply.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert reply.headers["x-content-type-options"] == "nosniff"
    assert '<html lang="ru">' in reply.text and "Ожидают ответа" in reply.text


def test_static_files_are_whitelisted(console: ConsoleServer) -> None:
    with console.client() as client:
        assert client.get("/console/static/console.js").status_code == 200
        assert client.get("/console/static/console.css").status_code == 200
        assert client.get("/console/static/..%2Froutes.py").status_code == 404
        assert client.get("/console/static/routes.py").status_code == 404


# --- the queue ---------------------------------------------------------------------------------


def test_snapshot_shows_what_the_role_may_see(console: ConsoleServer) -> None:
    billing = console.enqueue(topic="billing", priority=2, reasons=("vip",))
    tech = console.enqueue(topic="tech")
    with console.client(console.user(topics=("tech",))) as operator:
        snap = operator.get("/console/api/queue").json()
    ids = [e["id"] for e in snap["waiting"]]
    assert tech.id in ids and billing.id not in ids
    assert "active" not in snap and "operators" not in snap
    with console.client(console.user("supervisor", topics=("tech",))) as supervisor:
        snap = supervisor.get("/console/api/queue").json()
    waiting = {e["id"]: e for e in snap["waiting"]}
    assert billing.id in waiting and tech.id in waiting
    assert "active" in snap and "operators" in snap
    shown = waiting[billing.id]
    assert shown["priority_reasons"] == [{"code": "vip", "title": "VIP-клиент"}]
    assert shown["topic_title"] == "Оплата"
    assert shown["card"] == {"summary": "Клиент спрашивает про баланс."}
    for entry in (billing, tech):
        console.queue.abandon(entry.id, console.clock())


def test_take_is_atomic_and_the_loser_gets_a_russian_conflict(console: ConsoleServer) -> None:
    entry = console.enqueue()
    first = console.user(name="Анна Иванова", extension="201")
    second = console.user(name="Борис Петров", extension="202")
    with console.client(first) as anna, console.client(second) as boris:
        won = anna.post(f"/console/api/queue/{entry.id}/take", json={})
        lost = boris.post(f"/console/api/queue/{entry.id}/take", json={})
        again = anna.post(f"/console/api/queue/{entry.id}/take", json={})
    assert won.status_code == 200
    assert won.json()["url"] == f"/console/calls/{entry.id}"
    assert won.json()["message"] == "Звонок переводится на ваш номер 201."
    assert lost.status_code == 409
    assert lost.json()["error"] == "Этот звонок уже принял другой оператор: Анна Иванова."
    assert again.status_code == 200  # taking one's own call again is harmless
    taken = console.queue.entry(entry.id)
    assert taken is not None and (taken.operator, taken.extension) == (first, "201")


def test_take_checks_topics_and_extension(console: ConsoleServer) -> None:
    entry = console.enqueue(topic="billing")
    with console.client(console.user(topics=("tech",))) as other_topic:
        reply = other_topic.post(f"/console/api/queue/{entry.id}/take", json={})
        assert reply.status_code == 403 and reply.json()["error"] == (
            "Очередь «Оплата» вам не назначена."
        )
    with console.client(console.user(extension="")) as no_extension:
        reply = no_extension.post(f"/console/api/queue/{entry.id}/take", json={})
        assert reply.status_code == 409 and "внутренний номер" in reply.json()["error"]
        assert no_extension.post("/console/api/queue/999999/take", json={}).status_code == 404
    console.queue.abandon(entry.id, console.clock())
    with console.client(console.user()) as late:
        reply = late.post(f"/console/api/queue/{entry.id}/take", json={})
        assert reply.status_code == 409
        assert reply.json()["error"] == "Клиент положил трубку, не дождавшись ответа."


def test_take_next_serves_priority_first(console: ConsoleServer) -> None:
    login = console.user(topics=("tech",))
    low = console.enqueue(topic="tech", priority=0)
    high = console.enqueue(topic="tech", priority=3, reasons=("urgent_topic",))
    with console.client(login) as client:
        first = client.post("/console/api/queue/next", json={})
        assert first.status_code == 200 and first.json()["entry"]["id"] == high.id
        second = client.post("/console/api/queue/next", json={})
        assert second.json()["entry"]["id"] == low.id
        empty = client.post("/console/api/queue/next", json={})
        assert empty.status_code == 404
        assert empty.json()["error"] == "В очереди нет ожидающих звонков по вашим темам."


def test_call_page_data_and_closing(console: ConsoleServer) -> None:
    caller = "+79035550101"
    earlier = console.enqueue(caller=caller)
    console.queue.abandon(earlier.id, console.clock())
    entry = console.enqueue(
        caller=caller,
        turns=(("bot", "Здравствуйте!"), ("caller", "Не проходит оплата картой")),
    )
    login, other = console.user(), console.user()
    with console.client(login) as client, console.client(other) as stranger:
        assert client.post(f"/console/api/queue/{entry.id}/take", json={}).status_code == 200
        data = client.get(f"/console/api/calls/{entry.id}").json()
        assert [(t["role_title"], t["text"]) for t in data["turns"]] == [
            ("Бот", "Здравствуйте!"),
            ("Клиент", "Не проходит оплата картой"),
        ]
        assert [h["call_id"] for h in data["history"]] == [earlier.call_id]
        assert {"code": "technician", "title": "нужен выезд мастера"} in data["results"]
        assert data["mine"] is True
        # Another operator may neither read nor close it.
        assert stranger.get(f"/console/api/calls/{entry.id}").status_code == 403
        assert stranger.get(f"/console/calls/{entry.id}").status_code == 403
        refused = stranger.post(f"/console/api/calls/{entry.id}/close", json={"result": "resolved"})
        assert refused.status_code == 403
        no_result = client.post(f"/console/api/calls/{entry.id}/close", json={"comment": "x"})
        assert no_result.status_code == 400
        assert no_result.json()["error"] == "Выберите результат разговора."
        closed = client.post(
            f"/console/api/calls/{entry.id}/close",
            json={"result": "technician", "comment": "адрес: Ленина 5"},
        )
        assert closed.status_code == 200
        assert closed.json()["entry"]["result_title"] == "нужен выезд мастера: адрес: Ленина 5"
        twice = client.post(f"/console/api/calls/{entry.id}/close", json={"result": "resolved"})
        assert twice.status_code == 409
    stored = console.queue.entry(entry.id)
    assert stored is not None and stored.state == "closed"
    assert stored.result == "technician: адрес: Ленина 5"
    with console.client(console.user("supervisor")) as supervisor:
        assert supervisor.get(f"/console/api/calls/{entry.id}").status_code == 200


def test_closing_as_call_back_creates_a_callback(console: ConsoleServer) -> None:
    entry = console.enqueue(caller="+79035550202")
    login = console.user()
    with console.client(login) as client:
        client.post(f"/console/api/queue/{entry.id}/take", json={})
        reply = client.post(
            f"/console/api/calls/{entry.id}/close",
            json={"result": "call_back", "comment": "перезвонить после 18:00"},
        )
        assert reply.status_code == 200
    made = [c for c in console.queue.callbacks() if c.call_id == entry.call_id]
    assert len(made) == 1
    assert made[0].summary == "перезвонить после 18:00"
    assert made[0].deadline == console.clock() + timedelta(hours=4)


# --- callbacks ---------------------------------------------------------------------------------


def test_callback_take_conflict_failed_attempts_and_done(console: ConsoleServer) -> None:
    now = console.clock()
    callback = console.queue.request_callback(
        call_id=f"cb-{time.monotonic_ns()}",
        caller="+79990001122",
        topic="billing",
        summary="Уточнить счёт",
        deadline=now - timedelta(minutes=5),
        now=now,
    )
    first = console.user(name="Анна Иванова")
    second = console.user()
    with console.client(first) as anna, console.client(second) as boris:
        listed = anna.get("/console/api/callbacks").json()["callbacks"]
        shown = next(c for c in listed if c["id"] == callback.id)
        assert shown["overdue"] is True and shown["state_title"] == "ожидает"
        assert anna.post(f"/console/api/callbacks/{callback.id}/take", json={}).status_code == 200
        lost = boris.post(f"/console/api/callbacks/{callback.id}/take", json={})
        assert lost.status_code == 409
        assert (
            lost.json()["error"] == "Этот обратный звонок уже взял другой оператор: Анна Иванова."
        )
        stranger = boris.post(f"/console/api/callbacks/{callback.id}/close", json={"done": True})
        assert stranger.status_code == 403
        failed = anna.post(
            f"/console/api/callbacks/{callback.id}/close",
            json={"done": False, "comment": "не берёт трубку"},
        ).json()
        assert failed["callback"]["state"] == "open" and failed["callback"]["attempts"] == 1
        assert failed["message"] == "Неудачная попытка №1 записана, задача снова в списке."
        assert boris.post(f"/console/api/callbacks/{callback.id}/take", json={}).status_code == 200
        done = boris.post(
            f"/console/api/callbacks/{callback.id}/close",
            json={"done": True, "comment": "вопрос решён"},
        ).json()
        assert (
            done["callback"]["state"] == "done" and done["message"] == "Обратный звонок выполнен."
        )
        closed = anna.post(f"/console/api/callbacks/{callback.id}/take", json={})
        assert closed.status_code == 409 and closed.json()["error"] == "Эта задача уже закрыта."


# --- presence, supervisors, admins --------------------------------------------------------------


def test_presence_and_the_supervisor_view(console: ConsoleServer) -> None:
    login = console.user(name="Вера Смирнова")
    with console.client(login) as client:
        assert client.post("/console/api/presence", json={"status": "away"}).json() == {
            "status": "away",
            "status_title": "отошёл",
        }
        bad = client.post("/console/api/presence", json={"status": "busy"})
        assert bad.status_code == 400
    with console.client(console.user("supervisor")) as supervisor:
        listed = supervisor.get("/console/api/operators").json()["operators"]
    mine = next(o for o in listed if o["login"] == login)
    assert (mine["status"], mine["status_title"]) == ("away", "отошёл")
    assert mine["last_seen"] is not None


def test_admin_manages_users(console: ConsoleServer) -> None:
    admin = console.user("admin")
    with console.client(admin) as client:
        bad = client.post(
            "/console/api/users",
            json={"login": "new.one", "name": "Новый", "role": "operator", "password": "123"},
        )
        assert bad.status_code == 400
        assert bad.json()["error"] == "пароль слишком короткий: нужно не меньше 8 символов"
        made = client.post(
            "/console/api/users",
            json={
                "login": "New.One",
                "name": "Новый Оператор",
                "role": "operator",
                "extension": "305",
                "topics": "billing, tech",
                "password": PASSWORD,
            },
        )
        assert made.status_code == 201
        assert made.json()["user"]["topics"] == ["billing", "tech"]
        duplicate = client.post(
            "/console/api/users",
            json={"login": "new.one", "name": "X", "role": "operator", "password": PASSWORD},
        )
        assert duplicate.status_code == 400 and "уже есть" in duplicate.json()["error"]
        with console.client("new.one") as newcomer:
            assert newcomer.get("/console/api/me").json()["extension"] == "305"
            off = client.post("/console/api/users/new.one/deactivate", json={})
            assert off.status_code == 200
            assert newcomer.get("/console/api/me").status_code == 401
        self_off = client.post(f"/console/api/users/{admin}/deactivate", json={})
        assert self_off.status_code == 400
        users = {u["login"]: u for u in client.get("/console/api/users").json()["users"]}
        assert users["new.one"]["active"] is False
        reset = client.post(
            f"/console/api/users/{admin}/password", json={"password": "новый-пароль-1"}
        )
        assert reset.status_code == 200
    with console.client() as anonymous:
        ok = anonymous.post(
            "/console/login",
            content=f"login={admin}&password=новый-пароль-1".encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert ok.status_code == 303


# --- the live WebSocket ------------------------------------------------------------------------


def _ws(console: ConsoleServer, token: str | None, origin: str | None = None) -> ClientConnection:
    headers = {"Cookie": f"{COOKIE}={token}"} if token else {}
    return connect(
        console.base.replace("http", "ws") + "/console/ws",
        origin=Origin(origin or console.base),
        additional_headers=headers,
        proxy=None,
        open_timeout=5,
    )


def _next_snapshot(ws: ClientConnection, timeout: float = 5.0) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(ws.recv(timeout=timeout))
    return message


def test_websocket_pushes_a_snapshot_when_the_queue_changes(console: ConsoleServer) -> None:
    login = console.user()
    with console.client(login) as client:
        token = client.cookies[COOKIE]
    # Another bridge process: its own store (engine, connections) on the same database.
    with _ws(console, token) as ws, QueueStore(console.url, migrate=False) as elsewhere:
        first = _next_snapshot(ws)
        assert first["type"] == "snapshot" and first["me"]["login"] == login
        entry = elsewhere.enqueue(
            call_id=f"elsewhere-{time.monotonic_ns()}",
            caller="+79160000777",
            topic="tech",
            priority=0,
            priority_reasons=(),
            reason="not_understood",
            card={},
            now=console.clock(),
        )
        began = time.monotonic()
        while True:
            snap = _next_snapshot(ws)
            if any(e["id"] == entry.id for e in snap["waiting"]):
                break
        assert time.monotonic() - began < 3
        assert snap["version"] > first["version"]
        elsewhere.abandon(entry.id, console.clock())
        while any(e["id"] == entry.id for e in snap["waiting"]):
            snap = _next_snapshot(ws)


def test_websocket_refuses_no_session_and_foreign_origin(console: ConsoleServer) -> None:
    with _ws(console, None) as ws:
        assert _next_snapshot(ws) == {"type": "expired"}
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=5)
        assert ws.close_code == 4401
    with console.client(console.user()) as client:
        token = client.cookies[COOKIE]
    with _ws(console, token, origin="http://evil.example") as ws:
        assert _next_snapshot(ws) == {"type": "forbidden"}
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=5)
        assert ws.close_code == 4403


def test_websocket_closes_when_the_session_expires(console: ConsoleServer) -> None:
    with console.client(console.user()) as client:
        token = client.cookies[COOKIE]
    with _ws(console, token) as ws:
        assert _next_snapshot(ws)["type"] == "snapshot"
        console.clock.advance(timedelta(minutes=31))
        deadline = time.monotonic() + 5
        seen = None
        while time.monotonic() < deadline:
            seen = _next_snapshot(ws)
            if seen["type"] == "expired":
                break
        assert seen == {"type": "expired"}
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=5)
        assert ws.close_code == 4401
