"""The bridge: a FastAPI app that takes PBX calls (every adapter's WebSocket route, AudioSocket
over TCP) and runs a call session for each; plus health, metrics and the call routes that
dialplans read after a stream ends."""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hmac
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, FastAPI, HTTPException, Request, Response, WebSocket
from fastapi.responses import PlainTextResponse, RedirectResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.websockets import WebSocketState

from telephony_bridge.adapters import adapter_specs
from telephony_bridge.adapters.base import (
    CLOSE_TOO_BIG,
    CLOSE_TRY_LATER,
    CLOSE_UNAUTHORIZED,
    AdapterSpec,
    CallRoute,
    ProtocolError,
    Wire,
)
from telephony_bridge.metrics import BridgeMetrics, QueueCollector, QueueView
from telephony_bridge.runner import (
    Announcement,
    CallDirectory,
    CallRunner,
    RateLimiter,
    RunnerSettings,
)
from telephony_bridge.webhooks import add_webhook_routes
from voicebot.call import CallEngines, CallSettings

log = logging.getLogger("voicebot.bridge")

TCP_READ_BYTES = 65_536


@dataclass(frozen=True)
class BridgeConfig:
    """Limits, the shared secret and the listening points of the bridge."""

    token: str
    start_timeout_s: float = 10.0
    max_messages_per_s: float = 200.0
    burst_messages: int = 400
    call: CallSettings = field(default_factory=CallSettings)
    audiosocket_host: str = "127.0.0.1"
    audiosocket_port: int | None = None  # None: no AudioSocket server; 0: any free port
    twilio_workflow_sid: str = ""  # TaskRouter workflow for Twilio transfers (else <Enqueue>)
    jambonz_sip_uri: str | None = None  # e.g. "sip:{queue}@pbx.example.ru" (else enqueue)

    def runner_settings(self) -> RunnerSettings:
        """The part every call runner needs."""
        return RunnerSettings(
            start_timeout_s=self.start_timeout_s,
            max_messages_per_s=self.max_messages_per_s,
            burst_messages=self.burst_messages,
            call=self.call,
        )


class Runtime:
    """The engines (once loaded), metrics and call directory of one bridge process."""

    def __init__(self, load: Callable[[], CallEngines] | CallEngines) -> None:
        """Engines given directly are ready at once; a loader runs at start-up."""
        self.metrics = BridgeMetrics()
        self.directory = CallDirectory()
        self.engines: CallEngines | None = None if callable(load) else load
        self._load = load if callable(load) else None
        self.load_error: str | None = None
        self.audiosocket_port: int | None = None  # where AudioSocket listens, once it does

    def queue_view(self) -> QueueView | None:
        """The operator queue, once the engines are loaded (for the metrics)."""
        handoff = self.engines.handoff if self.engines is not None else None
        queue = handoff.queue if handoff is not None else None
        return queue if isinstance(queue, QueueView) else None

    async def start(self) -> None:
        """Load the engines off the event loop (the app answers /healthz meanwhile)."""
        if self._load is None:
            return
        try:
            self.engines = await asyncio.to_thread(self._load)
        except Exception as exc:
            self.load_error = f"{type(exc).__name__}: {exc}"
            log.error("engines failed to load: %s", self.load_error)


class WebSocketTransport:
    """Transport over a Starlette WebSocket."""

    def __init__(self, websocket: WebSocket) -> None:
        """Wrap an accepted WebSocket."""
        self.websocket = websocket

    async def receive(self) -> Wire | None:
        """The next TEXT (str) or BINARY (bytes) frame; None on disconnect."""
        try:
            message = await self.websocket.receive()
        except RuntimeError:  # already disconnected
            return None
        if message["type"] == "websocket.disconnect":
            if message.get("code") == CLOSE_TOO_BIG:  # the server cut an oversized message
                raise ProtocolError("frame_too_large", "message over the size limit", CLOSE_TOO_BIG)
            return None
        data: bytes | None = message.get("bytes")
        if data is not None:
            return data
        text: str = message.get("text") or ""
        return text

    async def send(self, message: Wire) -> None:
        """Send a frame of the message's kind."""
        if isinstance(message, bytes):
            await self.websocket.send_bytes(message)
        else:
            await self.websocket.send_text(message)

    async def close(self, code: int) -> None:
        """Close with `code` unless already closed."""
        if self.websocket.client_state == WebSocketState.CONNECTED:
            await self.websocket.close(code=code)


class StreamTransport:
    """Transport over an asyncio TCP stream (AudioSocket): chunks as they arrive."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Wrap an accepted TCP connection."""
        self.reader = reader
        self.writer = writer

    async def receive(self) -> Wire | None:
        """The next chunk; None at EOF or on a reset."""
        try:
            chunk = await self.reader.read(TCP_READ_BYTES)
        except (ConnectionError, OSError):
            return None
        return chunk or None

    async def send(self, message: Wire) -> None:
        """Write bytes and wait for the buffer to drain."""
        self.writer.write(message if isinstance(message, bytes) else message.encode())
        await self.writer.drain()

    async def close(self, code: int) -> None:
        """Close the socket (the code has no meaning on TCP)."""
        self.writer.close()
        with contextlib.suppress(Exception):
            await self.writer.wait_closed()


def create_app(
    config: BridgeConfig,
    engines: Callable[[], CallEngines] | CallEngines,
    routers: Sequence[APIRouter] = (),
    background: Sequence[Callable[[Runtime], Awaitable[None]]] = (),
) -> FastAPI:
    """The bridge app; `engines` is a ready CallEngines or a loader run at start-up; `routers`
    are the web apps it also serves (the operator console); `background` jobs start once the
    engines are loaded (e.g. reloading published knowledge bases) and stop with the app."""
    runtime = Runtime(engines)
    specs = adapter_specs()

    def runner(transport: WebSocketTransport | StreamTransport, spec: AdapterSpec) -> CallRunner:
        assert runtime.engines is not None
        return CallRunner(
            transport,
            spec.new(),
            config.runner_settings(),
            runtime.engines,
            runtime.metrics,
            runtime.directory,
            protocol=spec.name,
        )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        loading = asyncio.create_task(runtime.start())
        server = await _start_tcp(config, runtime, specs, runner)

        async def after_loading(job: Callable[[Runtime], Awaitable[None]]) -> None:
            await loading
            if runtime.engines is not None:
                await job(runtime)

        jobs = [asyncio.create_task(after_loading(job)) for job in background]
        try:
            yield
        finally:
            for job in jobs:
                job.cancel()
            loading.cancel()
            if server is not None:
                server.close()

    app = FastAPI(title="voicebot bridge", lifespan=lifespan)
    app.state.runtime = runtime
    runtime.metrics.registry.register(QueueCollector(runtime.queue_view))

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz(response: Response) -> dict[str, str | None]:
        if runtime.engines is None:
            response.status_code = 503
            return {
                "status": "loading" if runtime.load_error is None else "failed",
                "error": runtime.load_error,
            }
        return {"status": "ready", "error": None}

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(runtime.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    def require_token(request: Request) -> None:
        if not _authorised(request.query_params, request.headers, config.token):
            raise HTTPException(status_code=401, detail="bad or missing token")

    @app.get("/calls/{call_id}/route", response_model=None)
    async def call_route(call_id: str, request: Request) -> Response | dict[str, Any]:
        require_token(request)
        route = runtime.directory.route(call_id)
        if request.query_params.get("format") == "text":
            return PlainTextResponse(f"{route.action} {route.target}".strip())
        return {"action": route.action, "target": route.target, "context": dict(route.context)}

    @app.post("/calls/{call_id}/announce")
    async def announce(call_id: str, request: Request) -> dict[str, str]:
        require_token(request)
        fields = await _announce_fields(request)
        runtime.directory.announce(call_id, fields)
        return {"status": "ok"}

    add_webhook_routes(
        app,
        runtime.directory,
        require_token,
        twilio_workflow_sid=config.twilio_workflow_sid,
        jambonz_sip_uri=config.jambonz_sip_uri,
    )
    for router in routers:
        app.include_router(router)
    if routers:

        @app.get("/", include_in_schema=False)
        async def home() -> RedirectResponse:
            return RedirectResponse("/console/queue")

    for spec in specs:
        if spec.path is not None:
            _add_websocket_route(app, spec, config, runtime, runner)
    return app


def _add_websocket_route(
    app: FastAPI,
    spec: AdapterSpec,
    config: BridgeConfig,
    runtime: Runtime,
    runner: Callable[[WebSocketTransport | StreamTransport, AdapterSpec], CallRunner],
) -> None:
    async def call_socket(websocket: WebSocket, path_token: str = "") -> None:
        offered = websocket.scope.get("subprotocols") or []
        subprotocol = spec.subprotocol if spec.subprotocol in offered else None
        await websocket.accept(subprotocol=subprotocol)
        transport = WebSocketTransport(websocket)
        adapter = spec.new()
        if not _authorised(websocket.query_params, websocket.headers, config.token, path_token):
            await _refuse(
                transport,
                adapter.refuse,
                ProtocolError("unauthorized", "bad or missing token", CLOSE_UNAUTHORIZED),
            )
            return
        if runtime.engines is None:
            await _refuse(
                transport,
                adapter.refuse,
                ProtocolError("not_ready", "models loading", CLOSE_TRY_LATER),
            )
            return
        await runner(transport, spec).run()

    assert spec.path is not None
    app.add_api_websocket_route(spec.path, call_socket, name=f"{spec.name}-call")
    app.add_api_websocket_route(
        spec.path + "/{path_token}", call_socket, name=f"{spec.name}-call-path-token"
    )


async def _start_tcp(
    config: BridgeConfig,
    runtime: Runtime,
    specs: tuple[AdapterSpec, ...],
    runner: Callable[[WebSocketTransport | StreamTransport, AdapterSpec], CallRunner],
) -> asyncio.Server | None:
    """AudioSocket's TCP server, when configured."""
    spec = next((s for s in specs if s.path is None), None)
    if config.audiosocket_port is None or spec is None:
        return None

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        transport = StreamTransport(reader, writer)
        if runtime.engines is None:
            await _refuse(
                transport,
                spec.new().refuse,
                ProtocolError("not_ready", "models loading", CLOSE_TRY_LATER),
            )
            return
        try:
            await runner(transport, spec).run()
        except Exception:
            log.exception("AudioSocket connection failed")
            await transport.close(0)

    server = await asyncio.start_server(handle, config.audiosocket_host, config.audiosocket_port)
    runtime.audiosocket_port = int(server.sockets[0].getsockname()[1])
    log.info("AudioSocket listening on %s:%s", config.audiosocket_host, runtime.audiosocket_port)
    return server


def _authorised(query: Any, headers: Any, token: str, path_token: str = "") -> bool:
    """The shared secret as `?token=`, a Bearer header, Basic auth's password or a path suffix."""
    given = path_token or str(query.get("token", ""))
    header = str(headers.get("authorization", ""))
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer":
        given = value.strip()
    elif scheme.lower() == "basic":
        with contextlib.suppress(binascii.Error, UnicodeDecodeError):
            given = base64.b64decode(value.strip(), validate=True).decode().partition(":")[2]
    return bool(token) and hmac.compare_digest(given.encode(), token.encode())


async def _refuse(
    transport: WebSocketTransport | StreamTransport,
    last_words: Callable[[ProtocolError], tuple[Wire, ...]],
    error: ProtocolError,
) -> None:
    with contextlib.suppress(Exception):
        for message in last_words(error):
            await transport.send(message)
        await transport.close(error.close_code)


async def _announce_fields(request: Request) -> Announcement:
    """caller, called and metadata from a JSON body, a form (Asterisk's CURL) or the query."""
    data: dict[str, Any] = dict(request.query_params)
    content_type = request.headers.get("content-type", "")
    if "json" in content_type:
        body = await request.json()
        if not isinstance(body, dict):
            raise HTTPException(status_code=422, detail="the body must be a JSON object")
        data |= body
    elif "form-urlencoded" in content_type:  # Asterisk's CURL(url,post-data) sends a form
        body = (await request.body()).decode("utf-8", errors="replace")
        data |= dict(parse_qsl(body, keep_blank_values=True))
    data.pop("token", None)
    metadata = data.pop("metadata", {})
    if not isinstance(metadata, dict):
        raise HTTPException(status_code=422, detail="'metadata' must be an object")
    caller, called = str(data.pop("caller", "")), str(data.pop("called", ""))
    extra = {str(k): str(v) for k, v in (data | metadata).items()}
    return Announcement(caller, called, tuple(sorted(extra.items())))


__all__ = ["BridgeConfig", "CallRoute", "RateLimiter", "create_app"]
