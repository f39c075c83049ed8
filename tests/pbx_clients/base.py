"""What a conformance-suite PBX client is: it speaks one protocol's wire format, byte for byte
as the protocol's documentation describes it, and records what the bot sent back."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class Endpoints:
    """Where the bridge under test listens."""

    http: str  # e.g. http://127.0.0.1:8123
    ws: str  # e.g. ws://127.0.0.1:8123 (the client appends its protocol's path)
    tcp_host: str  # AudioSocket's TCP server
    tcp_port: int
    token: str


@dataclass
class Heard:
    """What the PBX side received from the bot; times are `time.monotonic()` at arrival."""

    audio: list[tuple[float, bytes]] = field(default_factory=list)  # PCM16 at the call's rate
    clears: list[float] = field(default_factory=list)  # the protocol's own flush instruction
    marks: list[str] = field(default_factory=list)  # marks the bot asked to be told about
    transfers: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (target, context)
    hangups: list[str] = field(default_factory=list)  # the protocol's own hang-up instruction
    errors: list[str] = field(default_factory=list)  # error texts the bot sent before closing
    other: list[Any] = field(default_factory=list)  # anything else (informational events)
    closed_at: float | None = None
    close_code: int | None = None  # WebSocket close code; None for TCP

    def audio_bytes(self) -> int:
        """Bytes of bot audio received."""
        return sum(len(pcm) for _, pcm in self.audio)


class PbxClient(Protocol):
    """One call from the PBX side. `start` connects and runs the protocol's opening; a
    background reader fills `heard` and acknowledges marks the way the real PBX does (at once:
    the bot paces its audio in real time, so a mark arrives when its audio is due)."""

    name: str
    rate: int  # the PCM16 rate of calls this client opens
    heard: Heard
    call_id: str  # the id the bridge knows the call by (set by `start`)

    async def start(self, call_id: str, caller: str, called: str) -> None:
        """Connect, authenticate and start the call."""
        ...

    async def send_audio(self, pcm: bytes) -> None:
        """One 20 ms frame of caller audio, PCM16 at `rate`, encoded as the protocol wants."""
        ...

    async def send_dtmf(self, digit: str) -> None:
        """A key press."""
        ...

    async def hang_up(self) -> None:
        """The caller hangs up: the protocol's own end-of-call message, then close."""
        ...

    async def send_malformed(self) -> None:
        """A message the protocol cannot parse (bad JSON, unknown frame type, ...)."""
        ...

    async def send_oversized(self) -> None:
        """A message beyond the protocol's size limit."""
        ...

    async def wait_closed(self, timeout: float) -> bool:
        """True once the bot has closed the connection (within `timeout` seconds)."""
        ...

    async def close(self) -> None:
        """Drop the connection if it is still open (test clean-up)."""
        ...
