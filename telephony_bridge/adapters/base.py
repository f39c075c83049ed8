"""What every PBX adapter is: a sans-IO translator between one call's wire messages and events.

An adapter never touches a socket. The bridge's call runner (telephony_bridge/runner.py) reads a
message from the transport, hands it to `receive`, queues the events for the call session and
sends the replies; every outbound event of the session goes through `send` the same way. So an
adapter is tested with literal bytes, and the call session cannot tell PBXs apart.

A message (`Wire`) is one WebSocket frame (TEXT as `str`, BINARY as `bytes`) or, for a stream
transport such as AudioSocket's TCP, one chunk of bytes as it arrived (the adapter reassembles
its own framing).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from voicebot.events import InboundEvent, OutboundEvent

Wire = str | bytes

# WebSocket close codes used by the bridge.
CLOSE_NORMAL = 1000
CLOSE_UNSUPPORTED = 1003
CLOSE_POLICY = 1008
CLOSE_TOO_BIG = 1009
CLOSE_TRY_LATER = 1013
CLOSE_UNAUTHORIZED = 4401


class ProtocolError(Exception):
    """The peer broke the protocol: `code` is a stable name, `close_code` closes the socket."""

    def __init__(self, code: str, message: str, close_code: int = CLOSE_POLICY) -> None:
        super().__init__(message)
        self.code = code
        self.close_code = close_code


@dataclass(frozen=True)
class Translation:
    """The result of translating one message or event.

    `events` go to the call session (in order); `replies` go to the PBX (in order); `close`
    asks the runner to close the connection once the replies are sent (e.g. after a hang-up
    instruction on a protocol whose stream leg must end for the dialplan to go on).
    """

    events: tuple[InboundEvent, ...] = ()
    replies: tuple[Wire, ...] = ()
    close: bool = False


NOTHING = Translation()


class CallAdapter(Protocol):
    """One call's translator; a new instance per connection."""

    def receive(self, message: Wire) -> Translation:
        """A message from the PBX; raises ProtocolError on anything malformed or too large.

        The first `CallStarted` among the returned events starts the call session; messages
        before it (handshakes such as Twilio's `connected`) return no events.
        """
        ...

    def send(self, event: OutboundEvent) -> Translation:
        """An event of the call session, as wire messages; a protocol without playback marks
        returns the `PlaybackMark` itself among `events` (the audio before it is paced in
        real time, so it has been played when the mark is sent)."""
        ...

    def refuse(self, error: ProtocolError) -> tuple[Wire, ...]:
        """The last messages before the runner closes the connection because of `error`."""
        ...


@dataclass(frozen=True)
class AdapterSpec:
    """How the bridge exposes one protocol.

    `path` is the WebSocket route (None for non-WebSocket transports such as AudioSocket),
    `subprotocol` the WebSocket subprotocol the PBX asks for (jambonz), `new` makes the
    adapter of one call.
    """

    name: str
    new: Callable[[], CallAdapter]
    path: str | None = None
    subprotocol: str | None = None


@dataclass(frozen=True)
class CallRoute:
    """What should happen to a call once its media stream has ended.

    For PBXs whose stream protocol has no transfer instruction (AudioSocket, chan_websocket,
    FreeSWITCH forks) or whose next step is fetched over HTTP (Twilio's `<Connect action>`,
    jambonz's `actionHook`), the bridge keeps the route of every call it ended and serves it at
    `GET /calls/{call_id}/route`. `action` is "transfer" (to the operator queue `target`, with
    `context` for channel variables), "hangup", or "continue" (the call is not ours, or still
    running: let the dialplan go on).
    """

    action: str
    target: str = ""
    context: tuple[tuple[str, str], ...] = ()


def is_phone_number(target: str) -> bool:
    """A transfer target that is a phone number ("+79161234567", or 10+ digits), not a queue."""
    digits = target.removeprefix("+")
    return digits.isdigit() and (target.startswith("+") or len(digits) >= 10)
