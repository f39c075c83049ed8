"""What PBXs ask over HTTP once a call's stream has ended: Twilio's `<Connect action>` and
jambonz's listen `actionHook`. Both answer from the call's route (telephony_bridge.runner)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.responses import JSONResponse

from telephony_bridge.adapters.jambonz import after_listen_verbs
from telephony_bridge.adapters.twilio import twiml_after_stream
from telephony_bridge.runner import CallDirectory


def add_webhook_routes(
    app: FastAPI,
    directory: CallDirectory,
    require_token: Callable[[Request], None],
    *,
    twilio_workflow_sid: str = "",
    jambonz_sip_uri: str | None = None,
) -> None:
    """`POST /twilio/after-stream` (form field CallSid) and `POST /jambonz/action` (JSON call_sid)."""

    @app.post("/twilio/after-stream")
    async def twilio_after_stream(request: Request) -> Response:
        require_token(request)
        body = (await request.body()).decode("utf-8", errors="replace")
        call_sid = dict(parse_qsl(body)).get("CallSid") or request.query_params.get("CallSid")
        if not call_sid:
            raise HTTPException(status_code=422, detail="CallSid is missing")
        twiml = twiml_after_stream(directory.route(call_sid), workflow_sid=twilio_workflow_sid)
        return Response(twiml, media_type="text/xml")

    @app.post("/jambonz/action")
    async def jambonz_action(request: Request) -> JSONResponse:
        require_token(request)
        try:
            body: Any = await request.json()
        except ValueError as exc:
            raise HTTPException(status_code=422, detail="the body must be JSON") from exc
        call_sid = body.get("call_sid") if isinstance(body, dict) else None
        if not isinstance(call_sid, str) or not call_sid:
            raise HTTPException(status_code=422, detail="call_sid is missing")
        verbs = after_listen_verbs(directory.route(call_sid), sip_uri=jambonz_sip_uri)
        return JSONResponse(verbs)
