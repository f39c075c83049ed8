"""Supervisor and admin API: everyone's presence, console users (create, deactivate, password)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from telephony_bridge.console.guard import Guard
from telephony_bridge.console.ports import ConsoleQueue
from telephony_bridge.console.views import iso, operator_json, user_json
from voicebot.auth import normalise_login
from voicebot.store.users import UserError, UserNotFoundError, UserStore


def add_admin_routes(
    router: APIRouter,
    users: UserStore,
    queue: ConsoleQueue,
    guard: Guard,
    clock: Callable[[], datetime],
) -> None:
    """GET /api/operators (supervisors), GET/POST /api/users and POST /api/users/{login}/...
    (admins)."""

    @router.get("/api/operators")
    async def operators(request: Request) -> Response:
        user = await guard.api(request, "presence.all")
        if isinstance(user, Response):
            return user
        now = clock()
        present = {o.login: o for o in await asyncio.to_thread(queue.operators, now)}
        records = await asyncio.to_thread(users.list, include_inactive=False)
        listed = []
        for record in records:
            data = operator_json(present.get(record.operator.login, record.operator))
            data["last_seen"] = iso(record.last_seen)
            listed.append(data)
        return JSONResponse({"now": iso(now), "operators": listed})

    @router.get("/api/users")
    async def list_users(request: Request) -> Response:
        user = await guard.api(request, "users.manage")
        if isinstance(user, Response):
            return user
        records = await asyncio.to_thread(users.list)
        return JSONResponse({"users": [user_json(r) for r in records]})

    @router.post("/api/users")
    async def create_user(request: Request) -> Response:
        user = await guard.api(request, "users.manage")
        if isinstance(user, Response):
            return user
        body = await _body(request)
        if body is None:
            return _error("Неверные данные запроса: ожидался JSON-объект.", 400)
        topics = body.get("topics", "")
        topic_list = topics.split(",") if isinstance(topics, str) else topics
        if not isinstance(topic_list, list) or not all(isinstance(t, str) for t in topic_list):
            return _error("Темы: список через запятую.", 400)
        try:
            created = await asyncio.to_thread(
                users.create,
                _str(body, "login"),
                _str(body, "name"),
                _str(body, "role"),
                _str(body, "password"),
                extension=_str(body, "extension"),
                topics=topic_list,
                now=clock(),
            )
        except UserError as exc:
            return _error(str(exc), 400)
        return JSONResponse(
            {"user": operator_json(created), "message": f"Пользователь {created.login} создан."},
            status_code=201,
        )

    @router.post("/api/users/{login}/deactivate")
    async def deactivate(request: Request, login: str) -> Response:
        user = await guard.api(request, "users.manage")
        if isinstance(user, Response):
            return user
        if normalise_login(login) == user.login:
            return _error("Нельзя отключить собственную учётную запись.", 400)
        try:
            await asyncio.to_thread(users.deactivate, login, now=clock())
        except UserNotFoundError as exc:
            return _error(str(exc), 404)
        return JSONResponse({"message": f"Пользователь {normalise_login(login)} отключён."})

    @router.post("/api/users/{login}/password")
    async def set_password(request: Request, login: str) -> Response:
        user = await guard.api(request, "users.manage")
        if isinstance(user, Response):
            return user
        body = await _body(request)
        password = body.get("password") if body is not None else None
        if not isinstance(password, str):
            return _error("Укажите новый пароль.", 400)
        try:
            await asyncio.to_thread(users.set_password, login, password)
        except UserNotFoundError as exc:
            return _error(str(exc), 404)
        except UserError as exc:
            return _error(str(exc), 400)
        return JSONResponse({"message": "Пароль изменён; сессии пользователя закрыты."})


async def _body(request: Request) -> dict[str, Any] | None:
    try:
        body = json.loads(await request.body() or b"{}")
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    return body if isinstance(body, dict) else None


def _str(body: dict[str, Any], key: str) -> str:
    value = body.get(key)
    return value if isinstance(value, str) else ""


def _error(message: str, status: int) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)
