"""Runs one PBX connection: transport <-> adapter <-> call session, the same for every protocol.

The transport moves messages (a WebSocket, AudioSocket's TCP stream); the adapter translates
them (telephony_bridge/adapters); the call session (voicebot.call) runs the conversation. The
runner owns what all protocols share: waiting for the start of the call, the message-rate limit,
protocol errors (the adapter's last words, then close, and the call record kept), and the route
of every call it ended, for dialplans that act after the stream (`CallDirectory`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from typing import Protocol, TypeVar

from telephony_bridge.adapters.base import (
    CLOSE_NORMAL,
    CallAdapter,
    CallRoute,
    ProtocolError,
    Translation,
    Wire,
)
from telephony_bridge.metrics import BridgeMetrics
from voicebot.call import CallEngines, CallSession, CallSettings
from voicebot.events import (
    CallEnded,
    CallStarted,
    Hangup,
    InboundEvent,
    OutboundEvent,
    TransferCall,
)

log = logging.getLogger("voicebot.bridge")
_V = TypeVar("_V")


class Transport(Protocol):
    """One connection from a PBX, as messages."""

    async def receive(self) -> Wire | None:
        """The next message; None once the peer has gone."""
        ...

    async def send(self, message: Wire) -> None:
        """Send one message (raises once the connection is gone)."""
        ...

    async def close(self, code: int) -> None:
        """Close the connection (the code matters to WebSockets only)."""
        ...


@dataclass(frozen=True)
class RunnerSettings:
    """Limits that apply to every protocol."""

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


@dataclass(frozen=True)
class Announcement:
    """What a dialplan told the bridge about a call before its stream started."""

    caller: str = ""
    called: str = ""
    metadata: tuple[tuple[str, str], ...] = ()


class CallDirectory:
    """Per bridge process: announcements before calls and routes after them (bounded, LRU)."""

    def __init__(self, capacity: int = 10_000) -> None:
        """Keep at most `capacity` of each, dropping the oldest."""
        self.capacity = capacity
        self._announced: OrderedDict[str, Announcement] = OrderedDict()
        self._routes: OrderedDict[str, CallRoute] = OrderedDict()

    def announce(self, call_id: str, announcement: Announcement) -> None:
        """Remember what the dialplan said about `call_id`."""
        _put(self._announced, call_id, announcement, self.capacity)

    def complete(self, started: CallStarted) -> CallStarted:
        """`started` with empty caller, called and metadata filled from an announcement."""
        known = self._announced.pop(started.call_id, None)
        if known is None:
            return started
        return replace(
            started,
            caller=started.caller or known.caller,
            called=started.called or known.called,
            metadata=dict(known.metadata) | dict(started.metadata),
        )

    def set_route(self, call_id: str, route: CallRoute) -> None:
        """How the call `call_id` left the bot."""
        _put(self._routes, call_id, route, self.capacity)

    def route(self, call_id: str) -> CallRoute:
        """The route of a call; "continue" for calls this process did not end."""
        return self._routes.get(call_id, CallRoute("continue"))


def _put(table: OrderedDict[str, _V], key: str, value: _V, capacity: int) -> None:
    table[key] = value
    table.move_to_end(key)
    while len(table) > capacity:
        table.popitem(last=False)


def route_of(event: OutboundEvent) -> CallRoute | None:
    """The route an outbound event decides, if any."""
    if isinstance(event, TransferCall):
        return CallRoute("transfer", event.target, tuple(sorted(event.context.items())))
    if isinstance(event, Hangup):
        return CallRoute("hangup")
    return None


@dataclass
class CallRunner:
    """One PBX connection from its first message to its close."""

    transport: Transport
    adapter: CallAdapter
    settings: RunnerSettings
    engines: CallEngines
    metrics: BridgeMetrics
    directory: CallDirectory
    protocol: str = "generic"
    _limiter: RateLimiter = field(init=False)
    _send_lock: asyncio.Lock = field(init=False, default_factory=asyncio.Lock)
    _inbound: asyncio.Queue[InboundEvent] = field(init=False, default_factory=asyncio.Queue)
    _violation: ProtocolError | None = field(init=False, default=None)
    _call_id: str = field(init=False, default="")

    def __post_init__(self) -> None:
        """The rate limit is per connection."""
        self._limiter = RateLimiter(self.settings.max_messages_per_s, self.settings.burst_messages)

    async def run(self) -> None:
        """Serve the connection: wait for the call start, run the session, close."""
        try:
            started = await asyncio.wait_for(self._await_start(), self.settings.start_timeout_s)
        except ProtocolError as error:
            await self._refuse(error)
            return
        except TimeoutError:
            await self._refuse(ProtocolError("expected_start", "no call start in time"))
            return
        if started is None:  # the peer left before the call started
            await self._close(CLOSE_NORMAL)
            return
        await self._run_session(self.directory.complete(started))

    async def _await_start(self) -> CallStarted | None:
        while True:
            message = await self.transport.receive()
            if message is None:
                return None
            translation = self._translate_in(message)
            await self._send_wire(translation.replies)
            for index, event in enumerate(translation.events):
                if isinstance(event, CallStarted):
                    for later in translation.events[index + 1 :]:
                        self._inbound.put_nowait(later)
                    return event
                if isinstance(event, CallEnded):
                    return None
                raise ProtocolError("expected_start", "the call has not started yet")

    def _translate_in(self, message: Wire) -> Translation:
        if not self._limiter.allow():
            raise ProtocolError("rate_limited", "too many messages per second")
        return self.adapter.receive(message)

    async def _run_session(self, started: CallStarted) -> None:
        self._call_id = started.call_id
        session = CallSession(
            started,
            self.engines,
            self._send_event,
            settings=self.settings.call,
            observe=self.metrics.observe,
        )

        async def read() -> None:
            try:
                while True:
                    message = await self.transport.receive()
                    if message is None:
                        session.end_now("hangup")
                        return
                    translation = self._translate_in(message)
                    await self._send_wire(translation.replies)
                    for event in translation.events:
                        if isinstance(event, CallEnded):
                            session.end_now(event.reason)
                            return
                        self._inbound.put_nowait(event)
            except ProtocolError as error:
                self._violation = error
                session.end_now("protocol_error")
            except Exception:  # a broken transport is a hang-up, never a stuck call
                log.exception("call %s: reading from the PBX failed", started.call_id)
                session.end_now("hangup")

        async def events() -> AsyncIterator[InboundEvent]:
            while True:
                yield await self._inbound.get()

        reader = asyncio.create_task(read(), name=f"voicebot-read-{started.call_id}")
        self.metrics.calls_active.inc()
        try:
            result = await session.run(events())
        finally:
            self.metrics.calls_active.dec()
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
        self.metrics.calls.labels(result.outcome).inc()
        if self._violation is not None:
            await self._refuse(self._violation)
        else:
            await self._close(CLOSE_NORMAL)
        log.info(
            "%s call %s ended: %s (%s)",
            self.protocol,
            started.call_id,
            result.outcome,
            result.end_reason,
        )

    async def _send_event(self, event: OutboundEvent) -> None:
        """The session's outbound path: translate, send, and loop local events back."""
        route = route_of(event)
        if route is not None:
            self.directory.set_route(self._call_id, route)
        translation = self.adapter.send(event)
        await self._send_wire(translation.replies)
        for inbound in translation.events:
            self._inbound.put_nowait(inbound)
        if translation.close:  # the stream leg must end for the PBX to go on
            await self._close(CLOSE_NORMAL)

    async def _send_wire(self, replies: tuple[Wire, ...]) -> None:
        if not replies:
            return
        async with self._send_lock:
            for message in replies:
                await self.transport.send(message)

    async def _refuse(self, error: ProtocolError) -> None:
        self.metrics.protocol_errors.labels(error.code).inc()
        with contextlib.suppress(Exception):
            await self._send_wire(self.adapter.refuse(error))
        await self._close(error.close_code)

    async def _close(self, code: int) -> None:
        with contextlib.suppress(Exception):
            await self.transport.close(code)
