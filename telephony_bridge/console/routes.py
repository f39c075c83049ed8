"""The operator console's routes: login, HTML pages, the JSON API under /console/api, the live
WebSocket /console/ws and the static files. See telephony_bridge/console/__init__.py for the
table of routes and roles, guard.py for how each request is checked."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request, WebSocket
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from telephony_bridge.console.admin import add_admin_routes
from telephony_bridge.console.guard import LOGIN_PATH, SECURITY_HEADERS, Guard, page_context
from telephony_bridge.console.live import VersionWatch, serve_socket
from telephony_bridge.console.ports import (
    CALL_BACK_RESULT,
    COOKIE_NAME,
    ConsoleCalls,
    ConsoleQueue,
    ConsoleSettings,
)
from telephony_bridge.console.views import (
    call_json,
    callback_json,
    entry_json,
    operator_json,
    snapshot,
)
from voicebot.auth import (
    PERMISSIONS,
    STATUS_TITLES,
    LoginThrottle,
    Permission,
    allowed,
    normalise_login,
)
from voicebot.queue import Callback, Operator, QueueEntry
from voicebot.store.database import StoreError
from voicebot.store.users import UserStore

HERE = Path(__file__).resolve().parent
STATIC_FILES = {
    "console.js": "text/javascript; charset=utf-8",
    "console.css": "text/css; charset=utf-8",
}
MAX_FORM_BYTES = 8192
MAX_COMMENT = 2000
T = TypeVar("T")


@dataclass(frozen=True)
class Console:
    """What every route of one console shares."""

    users: UserStore
    queue: ConsoleQueue
    calls: ConsoleCalls
    clock: Callable[[], datetime]
    settings: ConsoleSettings
    guard: Guard
    templates: Jinja2Templates
    throttle: LoginThrottle
    logins: asyncio.Semaphore  # bounds the memory and CPU that password checks take

    def render(
        self,
        request: Request,
        name: str,
        user: Operator | None,
        status_code: int = 200,
        **context: Any,
    ) -> Response:
        """An HTML page with the security headers; `me`, titles and permissions in context."""
        base = page_context(user, name.removesuffix(".html"))
        return self.templates.TemplateResponse(
            request,
            name,
            base | context,
            status_code=status_code,
            headers=dict(SECURITY_HEADERS),
        )


def console_router(
    users: UserStore,
    queue: ConsoleQueue,
    calls: ConsoleCalls,
    *,
    clock: Callable[[], datetime],
    settings: ConsoleSettings | None = None,
) -> APIRouter:
    """The console's routes under /console; `clock()` gives the current aware UTC time."""
    settings = settings or ConsoleSettings()
    templates = Jinja2Templates(directory=HERE / "templates")
    console = Console(
        users=users,
        queue=queue,
        calls=calls,
        clock=clock,
        settings=settings,
        guard=Guard(users, settings, clock, templates),
        templates=templates,
        throttle=LoginThrottle(settings.throttle),
        logins=asyncio.Semaphore(max(1, settings.max_concurrent_logins)),
    )
    router = APIRouter(prefix="/console")
    _add_login_routes(router, console)
    _add_pages(router, console)
    _add_queue_api(router, console)
    _add_callback_api(router, console)
    add_admin_routes(router, console.users, console.queue, console.guard, console.clock)
    watch = VersionWatch(queue.version, settings.poll_interval_s)

    @router.websocket("/ws")
    async def live(websocket: WebSocket) -> None:
        await serve_socket(
            websocket,
            guard=console.guard,
            users=users,
            queue=queue,
            watch=watch,
            settings=settings,
            clock=clock,
        )

    @router.get("/static/{name}", include_in_schema=False)
    async def static(name: str) -> Response:
        if name not in STATIC_FILES:
            return Response("не найдено", status_code=404, media_type="text/plain")
        return FileResponse(
            HERE / "static" / name,
            media_type=STATIC_FILES[name],
            headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
        )

    return router


async def _run(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """A blocking store call off the event loop."""
    return await asyncio.to_thread(function, *args, **kwargs)


def _error(message: str, status: int, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status)


async def _json_body(request: Request) -> dict[str, Any] | JSONResponse:
    try:
        body = json.loads(await request.body() or b"{}")
    except (UnicodeDecodeError, json.JSONDecodeError):
        return _error("Неверные данные запроса: ожидался JSON-объект.", 400)
    if not isinstance(body, dict):
        return _error("Неверные данные запроса: ожидался JSON-объект.", 400)
    return body


def _text(body: dict[str, Any], key: str, limit: int = MAX_COMMENT) -> str:
    value = body.get(key)
    return value.strip()[:limit] if isinstance(value, str) else ""


# --- login and logout --------------------------------------------------------------------------


def _add_login_routes(router: APIRouter, console: Console) -> None:
    settings, guard = console.settings, console.guard

    @router.get("", include_in_schema=False)
    @router.get("/", include_in_schema=False)
    async def home() -> Response:
        return RedirectResponse("/console/queue", status_code=303)

    @router.get("/login")
    async def login_page(request: Request) -> Response:
        if await guard.current(request) is not None:
            return RedirectResponse("/console/queue", status_code=303)
        return console.render(request, "login.html", None, error=None, login="")

    @router.post("/login")
    async def login(request: Request) -> Response:
        refused = guard.refuse_cross_site(request.headers)
        if refused is not None:
            return refused
        raw = await request.body()
        form = dict(parse_qsl(raw[:MAX_FORM_BYTES].decode("utf-8", "replace")))
        login_name = normalise_login(form.get("login", ""))[:64]
        password = form.get("password", "")
        address = _client_address(request, settings)
        now = console.clock()
        wait = console.throttle.retry_after(login_name, address, now)
        if wait is not None:
            minutes = max(1, -(-int(wait.total_seconds()) // 60))
            return console.render(
                request,
                "login.html",
                None,
                status_code=429,
                login=login_name,
                error="Слишком много неудачных попыток входа. "
                f"Попробуйте снова через {minutes} мин.",
            )
        user = None
        if login_name:
            async with console.logins:
                user = await _run(console.users.verify, login_name, password)
        if user is None:
            console.throttle.failed(login_name, address, now)
            return console.render(
                request,
                "login.html",
                None,
                status_code=401,
                login=login_name,
                error="Неверный логин или пароль.",
            )
        console.throttle.succeeded(login_name)
        token = await _run(console.users.open_session, user.login, now, settings.session_ttl)
        holding = await _run(console.queue.active, user.login)
        await _run(console.queue.set_presence, user.login, "busy" if holding else "available", now)
        response = RedirectResponse("/console/queue", status_code=303)
        response.set_cookie(
            COOKIE_NAME,
            token,
            path="/console",
            httponly=True,
            samesite="strict",
            secure=settings.secure_cookie,
        )
        return response

    @router.post("/logout")
    async def logout(request: Request) -> Response:
        refused = guard.refuse_cross_site(request.headers)
        if refused is not None:
            return refused
        user = await guard.current(request)
        token = request.cookies.get(COOKIE_NAME)
        if token:
            await _run(console.users.close_session, token)
        if user is not None:
            await _run(console.queue.set_presence, user.login, "offline", console.clock())
        response = RedirectResponse(LOGIN_PATH, status_code=303)
        response.delete_cookie(
            COOKIE_NAME,
            path="/console",
            httponly=True,
            samesite="strict",
            secure=settings.secure_cookie,
        )
        return response


def _client_address(request: Request, settings: ConsoleSettings) -> str:
    """The address failed logins are counted for: the proxy's header if configured."""
    if settings.client_address_header:
        # The last entry is what the proxy itself saw (earlier ones came from the client).
        forwarded = request.headers.get(settings.client_address_header, "")
        last = forwarded.split(",")[-1].strip()
        if last:
            return last
    return request.client.host if request.client else "?"


# --- pages ---------------------------------------------------------------------------------------


def _add_pages(router: APIRouter, console: Console) -> None:
    guard = console.guard

    def page(path: str, template: str, permission: Permission) -> None:
        async def show(request: Request) -> Response:
            user = await guard.page(request, permission)
            if isinstance(user, Response):
                return user
            return console.render(request, template, user)

        router.add_api_route(path, show, methods=["GET"], include_in_schema=False)

    page("/queue", "queue.html", "queue.view")
    page("/callbacks", "callbacks.html", "callbacks")
    page("/supervisor", "supervisor.html", "presence.all")
    page("/users", "users.html", "users.manage")

    @router.get("/calls/{entry_id}", include_in_schema=False)
    async def call_page(request: Request, entry_id: int) -> Response:
        user = await guard.page(request, "calls.own")
        if isinstance(user, Response):
            return user
        entry = await _run(console.queue.entry, entry_id)
        if entry is None:
            return console.render(
                request,
                "forbidden.html",
                user,
                status_code=404,
                heading="Не найдено",
                message="Звонок не найден.",
            )
        if not _may_see(user, entry):
            return guard.forbidden_page(request, user, "calls.all")
        return console.render(request, "call.html", user, entry_id=entry.id)


def _may_see(user: Operator, entry: QueueEntry) -> bool:
    """A call's page is its operator's, and every supervisor's."""
    return entry.operator == user.login or allowed(user.role, "calls.all")


def _may_serve(user: Operator, topic: str) -> bool:
    """Operators with topics take only those; supervisors and topic-less users take any."""
    return not user.topics or topic in user.topics or allowed(user.role, "calls.all")


# --- the queue and calls ---------------------------------------------------------------------


def _add_queue_api(router: APIRouter, console: Console) -> None:
    guard, queue, settings = console.guard, console.queue, console.settings

    @router.get("/api/me")
    async def me(request: Request) -> Response:
        user = await guard.api(request, "queue.view")
        if isinstance(user, Response):
            return user
        data = operator_json(user)
        data["permissions"] = [p for p in PERMISSIONS if allowed(user.role, p)]
        return JSONResponse(data)

    @router.get("/api/queue")
    async def queue_snapshot(request: Request) -> Response:
        user = await guard.api(request, "queue.view")
        if isinstance(user, Response):
            return user
        version = await _run(queue.version)
        return JSONResponse(await _run(snapshot, user, queue, settings, console.clock(), version))

    @router.post("/api/queue/{entry_id}/take")
    async def take(request: Request, entry_id: int) -> Response:
        user = await guard.api(request, "queue.take")
        if isinstance(user, Response):
            return user
        entry = await _run(queue.entry, entry_id)
        if entry is None:
            return _error("Звонок не найден.", 404)
        if entry.state == "taken" and entry.operator == user.login:
            return _taken(entry, settings)
        if not _may_serve(user, entry.topic):
            title = settings.topic_titles.get(entry.topic, entry.topic)
            return _error(f"Очередь «{title}» вам не назначена.", 403)
        if not user.extension:
            return _error(_NO_EXTENSION, 409)
        try:
            taken = await _run(queue.take, entry_id, user.login, user.extension, console.clock())
        except StoreError as exc:
            return _error(f"Не удалось принять звонок: {exc}", 409)
        if taken is None:
            now_entry = await _run(queue.entry, entry_id)
            return _error(await _conflict(console, now_entry), 409, conflict=True)
        return _taken(taken, settings)

    @router.post("/api/queue/next")
    async def take_next(request: Request) -> Response:
        user = await guard.api(request, "queue.take")
        if isinstance(user, Response):
            return user
        if not user.extension:
            return _error(_NO_EXTENSION, 409)
        topics = user.topics or None
        try:
            taken = await _run(queue.take_next, user.login, user.extension, topics, console.clock())
        except StoreError as exc:
            return _error(f"Не удалось принять звонок: {exc}", 409)
        if taken is None:
            return _error("В очереди нет ожидающих звонков по вашим темам.", 404, empty=True)
        return _taken(taken, settings)

    @router.get("/api/calls/{entry_id}")
    async def call(request: Request, entry_id: int) -> Response:
        user = await guard.api(request, "calls.own")
        if isinstance(user, Response):
            return user
        entry = await _run(queue.entry, entry_id)
        if entry is None:
            return _error("Звонок не найден.", 404)
        if not _may_see(user, entry):
            return _error("Это звонок другого оператора.", 403)
        data = await _run(call_json, entry, settings, console.calls, console.clock())
        data["mine"] = entry.operator == user.login
        return JSONResponse(data)

    @router.post("/api/calls/{entry_id}/close")
    async def close_call(request: Request, entry_id: int) -> Response:
        user = await guard.api(request, "calls.own")
        if isinstance(user, Response):
            return user
        body = await _json_body(request)
        if isinstance(body, Response):
            return body
        entry = await _run(queue.entry, entry_id)
        if entry is None:
            return _error("Звонок не найден.", 404)
        if entry.operator != user.login:
            return _error("Закрыть звонок может только оператор, который его принял.", 403)
        if entry.state != "taken":
            return _error("Этот звонок уже закрыт.", 409)
        code, comment = _text(body, "result", 64), _text(body, "comment")
        if code not in settings.results:
            return _error("Выберите результат разговора.", 400)
        now = console.clock()
        try:
            closed = await _run(
                queue.close_entry,
                entry_id,
                user.login,
                f"{code}: {comment}" if comment else code,
                now,
            )
            if code == CALL_BACK_RESULT:
                await _run(
                    queue.request_callback,
                    call_id=entry.call_id,
                    caller=entry.caller,
                    topic=entry.topic,
                    summary=comment or _card_summary(entry),
                    deadline=now + settings.callback_deadline,
                    now=now,
                )
        except StoreError as exc:
            return _error(f"Не удалось закрыть звонок: {exc}", 409)
        return JSONResponse({"entry": entry_json(closed, settings), "message": "Звонок закрыт."})

    @router.post("/api/presence")
    async def presence(request: Request) -> Response:
        user = await guard.api(request, "queue.view")
        if isinstance(user, Response):
            return user
        body = await _json_body(request)
        if isinstance(body, Response):
            return body
        status = body.get("status")
        if status not in ("available", "away"):
            return _error("Статус может быть только «на линии» или «отошёл».", 400)
        await _run(queue.set_presence, user.login, status, console.clock())
        return JSONResponse({"status": status, "status_title": STATUS_TITLES[status]})

    @router.get("/api/active")
    async def active(request: Request) -> Response:
        user = await guard.api(request, "calls.all")
        if isinstance(user, Response):
            return user
        entries = await _run(queue.active)
        return JSONResponse({"active": [entry_json(e, settings) for e in entries]})


_NO_EXTENSION = (
    "У вас не указан внутренний номер, на который переводить звонки. "
    "Попросите администратора его задать."
)


def _taken(entry: QueueEntry, settings: ConsoleSettings) -> JSONResponse:
    return JSONResponse(
        {
            "entry": entry_json(entry, settings),
            "url": f"/console/calls/{entry.id}",
            "message": f"Звонок переводится на ваш номер {entry.extension}.",
        }
    )


async def _conflict(console: Console, entry: QueueEntry | None) -> str:
    """Why a take lost, in Russian."""
    if entry is None:
        return "Звонок не найден."
    if entry.state == "taken":
        record = await _run(console.users.get, entry.operator or "")
        who = record.operator.name if record else entry.operator
        return f"Этот звонок уже принял другой оператор: {who}."
    if entry.state == "abandoned":
        return "Клиент положил трубку, не дождавшись ответа."
    if entry.state == "callback":
        return "Клиент попросил перезвонить: звонок стал задачей на обратный звонок."
    return "Этот звонок уже закрыт."


def _card_summary(entry: QueueEntry) -> str:
    summary = entry.card.get("summary")
    return summary if isinstance(summary, str) and summary else entry.reason


# --- callbacks -----------------------------------------------------------------------------------


def _add_callback_api(router: APIRouter, console: Console) -> None:
    guard, queue, settings = console.guard, console.queue, console.settings

    async def find(callback_id: int) -> Callback | None:
        current = await _run(queue.callbacks, ("open", "taken"))
        return next((c for c in current if c.id == callback_id), None)

    @router.get("/api/callbacks")
    async def callbacks(request: Request) -> Response:
        user = await guard.api(request, "callbacks")
        if isinstance(user, Response):
            return user
        now = console.clock()
        found = await _run(queue.callbacks, ("open", "taken"))
        return JSONResponse(
            {"now": now.isoformat(), "callbacks": [callback_json(c, settings, now) for c in found]}
        )

    @router.post("/api/callbacks/{callback_id}/take")
    async def take_callback(request: Request, callback_id: int) -> Response:
        user = await guard.api(request, "callbacks")
        if isinstance(user, Response):
            return user
        now = console.clock()
        try:
            taken = await _run(queue.take_callback, callback_id, user.login, now)
        except StoreError:
            return _error("Задача на обратный звонок не найдена.", 404)
        if taken is None:
            current = await find(callback_id)
            if current is not None and current.operator == user.login:
                return JSONResponse({"callback": callback_json(current, settings, now)})
            if current is not None and current.state == "taken":
                record = await _run(console.users.get, current.operator or "")
                who = record.operator.name if record else current.operator
                return _error(f"Этот обратный звонок уже взял другой оператор: {who}.", 409)
            return _error("Эта задача уже закрыта.", 409)
        return JSONResponse(
            {
                "callback": callback_json(taken, settings, now),
                "message": f"Задача ваша: позвоните по номеру {taken.caller}.",
            }
        )

    @router.post("/api/callbacks/{callback_id}/close")
    async def close_callback(request: Request, callback_id: int) -> Response:
        user = await guard.api(request, "callbacks")
        if isinstance(user, Response):
            return user
        body = await _json_body(request)
        if isinstance(body, Response):
            return body
        current = await find(callback_id)
        if current is None:
            return _error("Задача не найдена или уже закрыта.", 404)
        if current.state != "taken" or current.operator != user.login:
            return _error("Сначала возьмите задачу: закрыть её может только взявший её.", 403)
        done = body.get("done") is True
        comment = _text(body, "comment") or ("дозвонились" if done else "не дозвонились")
        now = console.clock()
        try:
            closed = await _run(
                queue.close_callback, callback_id, user.login, done=done, result=comment, now=now
            )
        except StoreError as exc:
            return _error(f"Не удалось закрыть задачу: {exc}", 409)
        if closed.state == "done":
            message = "Обратный звонок выполнен."
        elif closed.state == "failed":
            message = f"Задача закрыта как неудачная после {closed.attempts} попыток."
        else:
            message = f"Неудачная попытка №{closed.attempts} записана, задача снова в списке."
        return JSONResponse({"callback": callback_json(closed, settings, now), "message": message})
