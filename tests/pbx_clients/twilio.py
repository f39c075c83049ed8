"""Twilio's side of a bidirectional Media Stream (`<Connect action=...><Stream url=...>`).

Written from Twilio's documentation (https://www.twilio.com/docs/voice/media-streams/websocket-
messages, https://www.twilio.com/docs/voice/twiml/stream, .../twiml/connect): JSON TEXT frames
only; `connected`, `start` (custom parameters `caller` and `called`, as a `<Parameter>` would
give them), `media` every 20 ms with string `sequenceNumber`, `chunk` and `timestamp`, `dtmf`,
`stop`. Bot `media` is base64 mu-law 8 kHz; a bot `mark` is echoed back once the audio before it
has played (at once here: the bot paces its audio in real time); `clear` drops queued audio.

The stream URL cannot carry a query string, so the token is the last path segment. When the bot
closes the stream, Twilio requests the `<Connect action>` URL and follows the TwiML it gets; this
client does the same (POST `/twilio/after-stream`, form field `CallSid`) and records `<Enqueue>`
as a transfer and `<Hangup/>` as a hang-up. Context: the `<Task>` JSON when TaskRouter is used,
otherwise what the operator side reads from `GET /calls/{CallSid}/route`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import time
import uuid
import xml.etree.ElementTree as ET
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from pbx_clients.base import Endpoints, Heard
from voicebot.audio import decode, encode

PATH = "/ws/twilio"
ACTION_PATH = "/twilio/after-stream"
ACCOUNT_SID = "AC" + "0" * 32
FRAME_MS = 20
CLOSE_NORMAL = 1000


class TwilioClient:
    """Twilio Programmable Voice running `<Connect action><Stream>` for one inbound call."""

    name = "twilio"
    rate = 8000

    def __init__(self, endpoints: Endpoints) -> None:
        self.endpoints = endpoints
        self.heard = Heard()
        self.ws: ClientConnection | None = None
        self.reader: asyncio.Task[None] | None = None
        self.call_id = ""
        self.stream_sid = ""
        self.caller = ""
        self.called = ""
        self.sequence = 0
        self.chunk = 0
        self.stopped = False

    async def start(self, call_id: str, caller: str, called: str) -> None:
        self.call_id, self.caller, self.called = call_id, caller, called
        self.stream_sid = "MZ" + uuid.uuid4().hex
        url = f"{self.endpoints.ws}{PATH}/{self.endpoints.token}"
        self.ws = await connect(url, max_size=2**20)
        self.reader = asyncio.create_task(self._read(self.ws))
        # `connected` carries no sequenceNumber or streamSid; `start` is sequence number 1.
        await self._send({"event": "connected", "protocol": "Call", "version": "1.0.0"})
        await self._send_event(
            "start",
            start={
                "accountSid": ACCOUNT_SID,
                "streamSid": self.stream_sid,
                "callSid": call_id,
                "tracks": ["inbound"],
                "customParameters": {"caller": caller, "called": called},
                "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
            },
        )

    async def _send(self, message: dict[str, Any] | str) -> None:
        assert self.ws is not None
        text = message if isinstance(message, str) else json.dumps(message)
        with contextlib.suppress(ConnectionClosed):
            await self.ws.send(text)

    async def _send_event(self, event: str, **body: Any) -> None:
        self.sequence += 1
        message = {"event": event, "sequenceNumber": str(self.sequence), **body}
        await self._send({**message, "streamSid": self.stream_sid})

    async def send_audio(self, pcm: bytes) -> None:
        self.chunk += 1
        payload = base64.b64encode(encode(pcm, "ulaw")).decode("ascii")
        media = {
            "track": "inbound",
            "chunk": str(self.chunk),
            "timestamp": str((self.chunk - 1) * FRAME_MS),
            "payload": payload,
        }
        await self._send_event("media", media=media)

    async def send_dtmf(self, digit: str) -> None:
        await self._send_event("dtmf", dtmf={"track": "inbound_track", "digit": digit})

    async def hang_up(self) -> None:
        self.stopped = True
        await self._send_event("stop", stop={"accountSid": ACCOUNT_SID, "callSid": self.call_id})
        # Twilio's docs do not say which side closes after `stop` (Fonoster, a Twilio-compatible
        # implementation, closes at once). The bridge closes once it has ended the call; give it
        # a moment to, then close like Twilio would.
        if not await self.wait_closed(2) and self.ws is not None:
            await self.ws.close()
        await self.wait_closed(5)

    async def send_malformed(self) -> None:
        await self._send('{"event": "media", "media": ')

    async def send_oversized(self) -> None:
        # Twilio documents no size limit and sends 20 ms per message; the bridge takes at most
        # 1 s of audio per media message. 5 s (53 kB of JSON) stays under the WebSocket
        # server's 64 KiB frame limit, so the adapter itself refuses it.
        payload = base64.b64encode(b"\xff" * 40_000).decode("ascii")
        media = {"track": "inbound", "chunk": str(self.chunk + 1), "payload": payload}
        await self._send_event("media", media={**media, "timestamp": str(self.chunk * FRAME_MS)})

    async def wait_closed(self, timeout: float) -> bool:
        if self.reader is None:
            return True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self.reader), timeout)
        return self.reader.done()

    async def close(self) -> None:
        self.stopped = True
        if self.ws is not None:
            await self.ws.close()
        if self.reader is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.reader, 5)

    async def _read(self, ws: ClientConnection) -> None:
        try:
            async for message in ws:
                now = time.monotonic()
                if isinstance(message, bytes):  # Twilio refuses binary frames (31950)
                    self.heard.errors.append("binary frame")
                    continue
                event: dict[str, Any] = json.loads(message)
                kind = event.get("event")
                if kind == "media":
                    audio = base64.b64decode(event["media"]["payload"])
                    self.heard.audio.append((now, decode(audio, "ulaw")))
                elif kind == "mark":
                    name = str(event["mark"]["name"])
                    self.heard.marks.append(name)
                    await self._send_event("mark", mark={"name": name})
                elif kind == "clear":
                    self.heard.clears.append(now)
                else:  # Twilio would log warning 31951 (invalid message)
                    self.heard.other.append(event)
        except ConnectionClosed:
            pass
        finally:
            self.heard.closed_at = time.monotonic()
            self.heard.close_code = ws.close_code
        if not self.stopped:
            await self._after_stream(ws.close_code)

    async def _after_stream(self, close_code: int | None) -> None:
        """What Twilio does when `<Connect>` ends: request the action URL, follow its TwiML."""
        form = {
            "CallSid": self.call_id,
            "AccountSid": ACCOUNT_SID,
            "From": self.caller,
            "To": self.called,
            "CallStatus": "in-progress",
            "Direction": "inbound",
            "ApiVersion": "2010-04-01",
        }
        params = {"token": self.endpoints.token}
        try:
            async with httpx.AsyncClient(base_url=self.endpoints.http, timeout=5) as http:
                answer = await http.post(ACTION_PATH, data=form, params=params)
                if answer.status_code != 200:
                    self.heard.other.append(("after-stream", answer.status_code))
                    return
                verbs = list(ET.fromstring(answer.text))
                if close_code != CLOSE_NORMAL:  # the bot did not end the call itself
                    self.heard.other.append(("after-stream", answer.text))
                    return
                for verb in verbs:
                    if verb.tag == "Enqueue":
                        self.heard.transfers.append(await self._transfer(http, verb))
                    elif verb.tag == "Hangup":
                        self.heard.hangups.append("hangup")
                    else:
                        self.heard.other.append(("twiml", verb.tag))
        except (httpx.HTTPError, ET.ParseError) as error:
            self.heard.other.append(("after-stream", repr(error)))

    async def _transfer(
        self, http: httpx.AsyncClient, enqueue: ET.Element
    ) -> tuple[str, dict[str, Any]]:
        """(queue, context) of an `<Enqueue>`, as the operator side would see them."""
        task = enqueue.find("Task")
        if task is not None:  # TaskRouter: the Task attributes are what the agent sees
            attributes: dict[str, Any] = json.loads(task.text or "{}")
            return str(attributes.pop("target", "")), attributes
        answer = await http.get(
            f"/calls/{self.call_id}/route", params={"token": self.endpoints.token}
        )
        route: dict[str, Any] = answer.json() if answer.status_code == 200 else {}
        return (enqueue.text or "").strip(), dict(route.get("context", {}))


def make_client(endpoints: Endpoints) -> TwilioClient:
    """Twilio running `<Connect action><Stream>` for one call."""
    return TwilioClient(endpoints)
