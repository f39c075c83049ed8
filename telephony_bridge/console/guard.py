"""Who is asking and may they: the session cookie, the role's permission, the request's Origin.

Every console page and API route goes through `Guard.page` or `Guard.api` (the WebSocket
through `Guard.socket_user`):

- no valid session: pages redirect (303) to the login page, the API answers 401;
- a role without the permission: a Russian 403 page, or 403 JSON {"error": ...};
- POST (and the WebSocket handshake) must come from the console's own origin: the Origin header
  (or, without one, the Referer's origin) must name the Host the request was sent to, or one of
  `ConsoleSettings.allowed_origins`. With SameSite=Strict cookies this is the CSRF defence the
  OWASP CSRF Prevention Cheat Sheet describes as "verifying origin with standard headers"
  (Rails' ActionCable makes the same Origin-equals-Host check for its WebSocket with
  `allow_same_origin_as_host`; a WebSocket handshake carries cookies and has no CORS preflight,
  so without it any site could open the console's socket as the signed-in operator).
  JSON API POSTs must also be `application/json`, which a cross-site form cannot send.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from fastapi import Request, WebSocket
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from telephony_bridge.console.ports import COOKIE_NAME, ConsoleSettings
from voicebot.auth import (
    PERMISSIONS,
    ROLE_TITLES,
    STATUS_TITLES,
    Permission,
    allowed,
    roles_with,
)
from voicebot.queue import Operator
from voicebot.store.users import UserStore

LOGIN_PATH = "/console/login"
# Pages are their own scripts and styles only: no inline code, nothing from elsewhere.
SECURITY_HEADERS: Mapping[str, str] = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
PERMISSION_TITLES: Mapping[Permission, str] = {
    "queue.view": "очередь звонков",
    "queue.take": "приём звонков",
    "calls.own": "свои звонки",
    "callbacks": "обратные звонки",
    "calls.all": "звонки всех операторов",
    "presence.all": "присутствие операторов",
    "users.manage": "управление пользователями",
    "reports": "отчёты",
    "kb.edit": "база знаний",
}


class Guard:
    """Session, role and origin checks shared by every console route."""

    def __init__(
        self,
        users: UserStore,
        settings: ConsoleSettings,
        clock: Callable[[], datetime],
        templates: Jinja2Templates,
    ) -> None:
        """Check against `users`' sessions at `clock()` time."""
        self._users = users
        self._settings = settings
        self._clock = clock
        self._templates = templates

    async def current(self, request: Request | WebSocket) -> Operator | None:
        """The signed-in user of this request's session cookie, or None."""
        token = request.cookies.get(COOKIE_NAME)
        if not token:
            return None
        return await asyncio.to_thread(self._users.session, token, self._clock())

    async def page(self, request: Request, permission: Permission) -> Operator | Response:
        """The user for an HTML page, or the redirect to login / the 403 page to return."""
        user = await self.current(request)
        if user is None:
            return RedirectResponse(LOGIN_PATH, status_code=303)
        if not allowed(user.role, permission):
            return self.forbidden_page(request, user, permission)
        return user

    async def api(self, request: Request, permission: Permission) -> Operator | Response:
        """The user for a JSON route (POSTs also pass the origin and content-type checks)."""
        if request.method not in ("GET", "HEAD"):
            refused = self.refuse_cross_site(request.headers, json_body=True)
            if refused is not None:
                return refused
        user = await self.current(request)
        if user is None:
            return JSONResponse(
                {"error": "Сессия истекла или вы не вошли. Войдите снова.", "login": LOGIN_PATH},
                status_code=401,
            )
        if not allowed(user.role, permission):
            return JSONResponse({"error": forbidden_message(user, permission)}, status_code=403)
        return user

    def refuse_cross_site(
        self, headers: Mapping[str, str], *, json_body: bool = False
    ) -> Response | None:
        """403 unless the request comes from the console's own origin; 415 for a JSON route
        sent something other than JSON."""
        if not same_origin(headers, self._settings.allowed_origins):
            return JSONResponse(
                {"error": "Запрос отклонён: он отправлен не со страницы консоли."},
                status_code=403,
            )
        if json_body:
            content_type = headers.get("content-type", "").split(";")[0].strip().lower()
            if content_type != "application/json":
                return JSONResponse({"error": "Ожидались данные в формате JSON."}, status_code=415)
        return None

    async def socket_user(self, websocket: WebSocket) -> Operator | None:
        """The user of a WebSocket handshake from the console's origin, else None."""
        if not same_origin(websocket.headers, self._settings.allowed_origins):
            return None
        return await self.current(websocket)

    def forbidden_page(self, request: Request, user: Operator, permission: Permission) -> Response:
        """The Russian 403 page."""
        return self._templates.TemplateResponse(
            request,
            "forbidden.html",
            page_context(user, "forbidden") | {"message": forbidden_message(user, permission)},
            status_code=403,
            headers=dict(SECURITY_HEADERS),
        )


def page_context(user: Operator | None, page: str) -> dict[str, Any]:
    """What every page template gets: the user, their titles and permissions, the page name."""
    context: dict[str, Any] = {"me": user, "page": page}
    if user is not None:
        context |= {
            "role_title": ROLE_TITLES[user.role],
            "status_title": STATUS_TITLES[user.status],
            "can": {p: allowed(user.role, p) for p in PERMISSIONS},
        }
    return context


def forbidden_message(user: Operator, permission: Permission) -> str:
    """Why this user may not: the section and the roles that may, in Russian."""
    roles = ", ".join(f"«{ROLE_TITLES[r]}»" for r in roles_with(permission))
    return (
        f"Доступ запрещён: раздел «{PERMISSION_TITLES[permission]}» открыт только для ролей "
        f"{roles}. Ваша роль — «{ROLE_TITLES[user.role]}»."
    )


def same_origin(headers: Mapping[str, str], allowed_origins: tuple[str, ...] = ()) -> bool:
    """Whether the request's Origin (or Referer) names the host it was sent to, or an allowed
    origin. Browsers always send Origin with POST and WebSocket handshakes."""
    origin = headers.get("origin")
    if not origin:
        referer = headers.get("referer")
        if not referer:
            return False
        parts = urlsplit(referer)
        origin = f"{parts.scheme}://{parts.netloc}"
    origin = origin.strip().lower()
    if origin == "null":
        return False
    if origin in (o.lower().rstrip("/") for o in allowed_origins):
        return True
    host = headers.get("host", "").strip().lower()
    parts = urlsplit(origin)
    if not host or parts.scheme not in ("http", "https"):
        return False
    return _netloc(parts.netloc, parts.scheme) == _netloc(host, parts.scheme)


def _netloc(netloc: str, scheme: str) -> str:
    """host[:port] without the scheme's default port."""
    default = ":443" if scheme == "https" else ":80"
    return netloc[: -len(default)] if netloc.endswith(default) else netloc
