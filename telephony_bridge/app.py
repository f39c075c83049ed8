"""The bridge: a FastAPI app that takes PBX calls over WebSocket and runs a call session for each."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from fastapi import FastAPI, Response, WebSocket, WebSocketDisconnect
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.websockets import WebSocketState

from telephony_bridge.adapters.generic import (
    CLOSE_NORMAL,
    CLOSE_POLICY,
    CLOSE_TRY_LATER,
    CLOSE_UNAUTHORIZED,
    GenericCodec,
    ProtocolError,
    error_message,
    parse_control,
    parse_start,
)
from telephony_bridge.metrics import BridgeMetrics
from voicebot.call import CallEngines, CallSession, CallSettings
from voicebot.events import CallEnded, InboundEvent, OutboundEvent

log = logging.getLogger("voicebot.bridge")


@dataclass(frozen=True)
class BridgeConfig:
    """Limits and the shared secret of the PBX WebSocket."""

    token: str
    start_timeout_s: float = 10.0
    max_messages_per_s: float = 200.0
    burst_messages: int = 400
    call: CallSettings = field(default_factory=CallSettings)


class RateLimiter:
    """A token bucket: `allow()` is False once the peer sends faster than the limit."""

    def __init__(
        self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        """`rate` messages per second sustained, `burst` at once."""
        self.rate = rate
        self.burst = float(burst)
        self.clock = clock
        self.tokens = float(burst)
        self.updated = clock()

    def allow(self) -> bool:
        """Spend a token if there is one."""
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


class Runtime:
    """The engines (once loaded) and the metrics of one bridge process."""

    def __init__(self, load: Callable[[], CallEngines] | CallEngines) -> None:
        """Engines given directly are ready at once; a loader runs at start-up."""
        self.metrics = BridgeMetrics()
        self.engines: CallEngines | None = None if callable(load) else load
        self._load = load if callable(load) else None
        self.load_error: str | None = None

    async def start(self) -> None:
        """Load the engines off the event loop (the app answers /healthz meanwhile)."""
        if self._load is None:
            return
        try:
            self.engines = await asyncio.to_thread(self._load)
        except Exception as exc:
            self.load_error = f"{type(exc).__name__}: {exc}"
            log.error("engines failed to load: %s", self.load_error)


def create_app(config: BridgeConfig, engines: Callable[[], CallEngines] | CallEngines) -> FastAPI:
    """The bridge app; `engines` is a ready CallEngines or a loader run at start-up."""
    runtime = Runtime(engines)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        loading = asyncio.create_task(runtime.start())
        yield
        loading.cancel()

    app = FastAPI(title="voicebot bridge", lifespan=lifespan)
    app.state.runtime = runtime

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

    @app.websocket("/ws/call")
    async def call_socket(websocket: WebSocket) -> None:
        await websocket.accept()
        if not _authorised(websocket, config.token):
            await _refuse(websocket, ProtocolError("unauthorized", "bad token", CLOSE_UNAUTHORIZED))
            return
        if runtime.engines is None:
            await _refuse(websocket, ProtocolError("not_ready", "models loading", CLOSE_TRY_LATER))
            return
        await _serve_call(websocket, config, runtime, runtime.engines)

    return app


def _authorised(websocket: WebSocket, token: str) -> bool:
    given = websocket.query_params.get("token", "")
    header = websocket.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        given = header[7:].strip()
    return bool(token) and hmac.compare_digest(given.encode(), token.encode())


async def _refuse(websocket: WebSocket, error: ProtocolError) -> None:
    with contextlib.suppress(Exception):
        await websocket.send_text(error_message(error))
        await websocket.close(code=error.close_code)


async def _serve_call(
    websocket: WebSocket, config: BridgeConfig, runtime: Runtime, engines: CallEngines
) -> None:
    metrics = runtime.metrics
    try:
        first = await asyncio.wait_for(websocket.receive_text(), config.start_timeout_s)
        started = parse_start(first)
    except ProtocolError as error:
        metrics.protocol_errors.labels(error.code).inc()
        await _refuse(websocket, error)
        return
    except (TimeoutError, WebSocketDisconnect, KeyError, RuntimeError):
        await _refuse(websocket, ProtocolError("expected_start", "no start message"))
        return

    codec = GenericCodec(started.codec)
    send_lock = asyncio.Lock()

    async def send(event: OutboundEvent) -> None:
        async with send_lock:
            for message in codec.outbound(event):
                if isinstance(message, bytes):
                    await websocket.send_bytes(message)
                else:
                    await websocket.send_text(message)

    queue: asyncio.Queue[InboundEvent] = asyncio.Queue()
    limiter = RateLimiter(config.max_messages_per_s, config.burst_messages)
    violation: list[ProtocolError] = []

    async def read() -> None:
        try:
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    session.end_now("hangup")
                    return
                if not limiter.allow():
                    raise ProtocolError("rate_limited", "too many messages per second")
                if message.get("bytes") is not None:
                    await queue.put(codec.audio_in(message["bytes"]))
                elif message.get("text") is not None:
                    event = parse_control(message["text"])
                    if isinstance(event, CallEnded):
                        session.end_now(event.reason)
                        return
                    await queue.put(event)
        except ProtocolError as error:
            violation.append(error)
            metrics.protocol_errors.labels(error.code).inc()
            session.end_now("protocol_error")
        except (WebSocketDisconnect, RuntimeError):
            session.end_now("hangup")

    async def events() -> AsyncIterator[InboundEvent]:
        while True:
            yield await queue.get()

    session = CallSession(started, engines, send, settings=config.call, observe=metrics.observe)
    reader = asyncio.create_task(read(), name=f"voicebot-read-{started.call_id}")
    metrics.calls_active.inc()
    try:
        result = await session.run(events())
    finally:
        metrics.calls_active.dec()
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
    metrics.calls.labels(result.outcome).inc()
    if violation:
        await _refuse(websocket, violation[0])
    elif websocket.client_state == WebSocketState.CONNECTED:
        with contextlib.suppress(Exception):
            await websocket.close(code=CLOSE_NORMAL)
    log.info("call %s ended: %s (%s)", started.call_id, result.outcome, result.end_reason)


__all__ = ["CLOSE_POLICY", "BridgeConfig", "RateLimiter", "create_app"]
