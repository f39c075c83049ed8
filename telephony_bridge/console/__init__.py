"""The operator console: a Russian web UI served by the bridge, with roles and sessions.

Mount it with `app.include_router(console_router(users, queue, calls, clock=...))`.

Routes (all under /console) and the permission each needs (voicebot.auth.ROLE_PERMISSIONS:
operator < supervisor < admin, each role has everything of the one before):

    GET  /login, POST /login, POST /logout          anyone (POST: same origin)
    GET  /queue                 page   queue.view    operator
    GET  /calls/{id}            page   calls.own     operator: own calls; supervisor: any
    GET  /callbacks             page   callbacks     operator
    GET  /supervisor            page   presence.all  supervisor
    GET  /users                 page   users.manage  admin
    GET  /api/me, /api/queue           queue.view    operator
    POST /api/presence                 queue.view    operator
    POST /api/queue/{id}/take          queue.take    operator (own topics; supervisor: any)
    POST /api/queue/next               queue.take    operator
    GET  /api/calls/{id}               calls.own     operator: own calls; supervisor: any
    POST /api/calls/{id}/close         calls.own     the operator who took the call
    GET  /api/callbacks                callbacks     operator
    POST /api/callbacks/{id}/take      callbacks     operator
    POST /api/callbacks/{id}/close     callbacks     the operator who took the callback
    GET  /api/active                   calls.all     supervisor
    GET  /api/operators                presence.all  supervisor
    GET  /api/users, POST /api/users   users.manage  admin
    POST /api/users/{login}/deactivate users.manage  admin (not oneself)
    POST /api/users/{login}/password   users.manage  admin
    WS   /ws                           a session     live snapshots of what the role may see
    GET  /static/{console.js,console.css}            anyone
"""

from telephony_bridge.console.ports import (
    DEFAULT_RESULTS,
    ConsoleCalls,
    ConsoleQueue,
    ConsoleSettings,
)
from telephony_bridge.console.routes import console_router

__all__ = [
    "DEFAULT_RESULTS",
    "ConsoleCalls",
    "ConsoleQueue",
    "ConsoleSettings",
    "console_router",
]
