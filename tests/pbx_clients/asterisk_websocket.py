"""Asterisk's WebSocket channel driver (chan_websocket) as the PBX side, from its documentation.

What Asterisk does (docs.asterisk.org/Configuration/Channel-Drivers/WebSocket, channels/
chan_websocket.c, res/res_websocket_client.c): `Dial(WebSocket/voicebot/c(ulaw)f(json))` opens
the websocket_client.conf connection `voicebot` (username/password -> HTTP Basic auth, no
subprotocol, no extensions), sends MEDIA_START, then 160-byte mu-law frames every 20 ms, DTMF_END
on key presses, MEDIA_MARK_PROCESSED once a MARK_MEDIA reaches the head of its queue, and closes
the WebSocket when the caller hangs up. Commands from the app: FLUSH_MEDIA, MARK_MEDIA, HANGUP.
After HANGUP, Dial() returns and the dialplan fetches the call's route from the bridge (CURL);
the client does the same and records a transfer or a hang-up. In the plain-text form, caller and
called cannot travel in MEDIA_START: the dialplan's pre-dial handler announces them first.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import time
from typing import Any
from urllib.parse import urlencode

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from pbx_clients.base import Endpoints, Heard
from voicebot.audio import decode, encode

PATH = "/ws/asterisk"
CONNECTION = "voicebot"  # the websocket_client.conf section of docs/pbx/asterisk.md
MAX_MESSAGE_BYTES = 65500  # what Asterisk's WebSocket code handles


class AsteriskWebSocketClient:
    """Asterisk dialling the bridge with chan_websocket, mu-law at 8 kHz."""

    rate = 8000

    def __init__(self, endpoints: Endpoints, json_form: bool) -> None:
        self.endpoints = endpoints
        self.json_form = json_form
        self.name = "asterisk_websocket" if json_form else "asterisk_websocket_plain_text"
        self.heard = Heard()
        self.ws: ClientConnection | None = None
        self.reader: asyncio.Task[None] | None = None
        self.call_id = ""  # the channel's uniqueid: MEDIA_START's channel_id

    async def start(self, call_id: str, caller: str, called: str) -> None:
        self.call_id = call_id
        if not self.json_form:
            await self._announce(caller, called)
        credentials = base64.b64encode(f"asterisk:{self.endpoints.token}".encode()).decode()
        self.ws = await connect(
            f"{self.endpoints.ws}{PATH}",
            additional_headers={"Authorization": f"Basic {credentials}"},
            compression=None,
            max_size=MAX_MESSAGE_BYTES,
        )
        self.reader = asyncio.create_task(self._read(self.ws))
        channel = f"WebSocket/{CONNECTION}/0x{id(self):x}"
        if self.json_form:
            start = {
                "event": "MEDIA_START",
                "connection_id": CONNECTION,
                "channel": channel,
                "channel_id": call_id,
                "format": "ulaw",
                "optimal_frame_size": 160,
                "ptime": 20,
                "channel_variables": {
                    "CALLER": caller,
                    "CALLED": called,
                    "DIALEDPEERNUMBER": f"{CONNECTION}/c(ulaw)f(json)",
                    "MEDIA_WEBSOCKET_CONNECTION_ID": CONNECTION,
                    "MEDIA_WEBSOCKET_OPTIMAL_FRAME_SIZE": "160",
                },
            }
            await self._send(_compact(start))
        else:
            await self._send(
                f"MEDIA_START connection_id:{CONNECTION} channel:{channel} channel_id:{call_id}"
                " format:ulaw optimal_frame_size:160 ptime:20"
            )

    async def _announce(self, caller: str, called: str) -> None:
        # The pre-dial handler's CURL(url,postdata): a form POST, as libcurl sends it. Like CURL
        # in a dialplan, a failure does not stop the call (the record will lack the numbers).
        url = f"{self.endpoints.http}/calls/{self.call_id}/announce"
        async with httpx.AsyncClient() as http:
            response = await http.post(
                url,
                params={"token": self.endpoints.token},
                content=urlencode({"caller": caller, "called": called}),
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
        if response.status_code >= 300:
            self.heard.other.append(f"announce: HTTP {response.status_code}")

    async def _send(self, message: str | bytes) -> None:
        assert self.ws is not None
        with contextlib.suppress(ConnectionClosed):
            await self.ws.send(message)

    def _event(self, name: str, **fields: str) -> str:
        if self.json_form:
            return _compact({"event": name, "channel_id": self.call_id, **fields})
        if name == "MEDIA_MARK_PROCESSED":
            return f"{name} {fields['correlation_id']}".rstrip()
        return " ".join([name, *(f"{k}:{v}" for k, v in fields.items())])

    async def send_audio(self, pcm: bytes) -> None:
        await self._send(encode(pcm, "ulaw"))

    async def send_dtmf(self, digit: str) -> None:
        if self.json_form:
            await self._send(self._event("DTMF_END", digit=digit))
        else:  # chan_websocket.c: "DTMF_END digit:%c channel_id:%s"
            await self._send(f"DTMF_END digit:{digit} channel_id:{self.call_id}")

    async def hang_up(self) -> None:
        # The caller hung up: webchan_hangup() closes the WebSocket (1000), no event before.
        if self.ws is not None:
            await self.ws.close(1000)
        await self.wait_closed(5)

    async def send_malformed(self) -> None:
        await self._send('{"event":"DTMF_END","digit":' if self.json_form else "DTMF_END digit")

    async def send_oversized(self) -> None:
        await self._send(b"\xff" * (MAX_MESSAGE_BYTES + 36))

    async def wait_closed(self, timeout: float) -> bool:
        if self.reader is None:
            return True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self.reader), timeout)
        return self.reader.done()

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self.reader is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.reader, 5)

    async def _read(self, ws: ClientConnection) -> None:
        try:
            async for message in ws:
                now = time.monotonic()
                if isinstance(message, bytes):
                    self.heard.audio.append((now, decode(message, "ulaw")))
                    continue
                command, argument = self._command(message)
                if command == "MARK_MEDIA":
                    self.heard.marks.append(argument)
                    # Played: the bot paces in real time, so its queue here is a few frames.
                    await ws.send(self._event("MEDIA_MARK_PROCESSED", correlation_id=argument))
                elif command == "FLUSH_MEDIA":
                    self.heard.clears.append(now)
                elif command == "HANGUP":
                    await self._after_dial()
                    await ws.close(1000)
                else:
                    self.heard.other.append(message)
        except ConnectionClosed:
            pass
        finally:
            self.heard.closed_at = time.monotonic()
            self.heard.close_code = ws.close_code

    def _command(self, text: str) -> tuple[str, str]:
        if self.json_form:
            data: dict[str, Any] = json.loads(text)
            return str(data.get("command", "")), str(data.get("correlation_id", ""))
        name, _, argument = text.strip().partition(" ")
        return name, argument.strip()

    async def _after_dial(self) -> None:
        """Dial() returned: the dialplan asks the bridge what to do with the caller."""
        url = f"{self.endpoints.http}/calls/{self.call_id}/route"
        async with httpx.AsyncClient() as http:
            response = await http.get(url, params={"token": self.endpoints.token})
        route: dict[str, Any] = response.json() if response.status_code == 200 else {}
        if route.get("action") == "transfer":
            self.heard.transfers.append((str(route["target"]), dict(route.get("context", {}))))
        else:
            self.heard.hangups.append(f"HANGUP ({route.get('action', 'no route')})")


def _compact(data: dict[str, Any]) -> str:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def make_client(endpoints: Endpoints) -> AsteriskWebSocketClient:
    """Asterisk with `control_message_format = json` (or the dial string's f(json))."""
    return AsteriskWebSocketClient(endpoints, json_form=True)


def make_plain_text_client(endpoints: Endpoints) -> AsteriskWebSocketClient:
    """Asterisk with the default, legacy plain-text control messages."""
    return AsteriskWebSocketClient(endpoints, json_form=False)
