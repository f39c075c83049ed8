"""The generic protocol's translation (pure) and the bridge's rate limiter."""

from __future__ import annotations

import json

import pytest

from telephony_bridge.adapters.base import ProtocolError
from telephony_bridge.adapters.generic import (
    MAX_FRAME_BYTES,
    GenericCodec,
    error_message,
    parse_control,
    parse_start,
)
from telephony_bridge.runner import RateLimiter
from voicebot.audio import encode
from voicebot.events import (
    BotSaid,
    CallEnded,
    CallerHeard,
    ClearAudio,
    DtmfIn,
    Hangup,
    PlayAudio,
    PlaybackMark,
    TransferCall,
)


def test_start_message_becomes_call_started() -> None:
    started = parse_start(
        json.dumps(
            {
                "event": "start",
                "call_id": "abc",
                "caller": "+79161234567",
                "called": "88001234567",
                "codec": "alaw",
                "sample_rate": 8000,
                "metadata": {"queue": "sales", "n": 5},
            }
        )
    )
    assert (started.call_id, started.caller, started.codec, started.sample_rate) == (
        "abc",
        "+79161234567",
        "alaw",
        8000,
    )
    assert started.metadata == {"queue": "sales", "n": "5"}


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ("not json", "bad_json"),
        ("[1, 2]", "bad_json"),
        ('{"event": "media"}', "expected_start"),
        ('{"event": "start"}', "bad_field"),
        ('{"event": "start", "call_id": "a", "codec": "opus"}', "bad_codec"),
        ('{"event": "start", "call_id": "a", "codec": "alaw", "sample_rate": 16000}', "bad_rate"),
        ('{"event": "start", "call_id": "a", "metadata": [1]}', "bad_field"),
    ],
)
def test_bad_start_messages_get_a_clear_error(message: str, code: str) -> None:
    with pytest.raises(ProtocolError) as caught:
        parse_start(message)
    assert caught.value.code == code
    assert json.loads(error_message(caught.value))["code"] == code


def test_control_messages() -> None:
    assert parse_control('{"event": "dtmf", "digit": "0"}') == DtmfIn("0")
    assert parse_control('{"event": "mark", "name": "m3"}') == PlaybackMark("m3")
    assert parse_control('{"event": "stop"}') == CallEnded("hangup")
    for bad in ('{"event": "dtmf", "digit": "12"}', '{"event": "dance"}'):
        with pytest.raises(ProtocolError):
            parse_control(bad)


def test_audio_in_decodes_and_limits_frame_size() -> None:
    codec = GenericCodec("alaw")
    pcm = (b"\x10\x00\xf0\xff") * 80
    frame = codec.audio_in(encode(pcm, "alaw"))
    assert len(frame.pcm) == len(pcm)
    with pytest.raises(ProtocolError) as caught:
        codec.audio_in(bytes(MAX_FRAME_BYTES + 1))
    assert caught.value.code == "frame_too_large"
    with pytest.raises(ProtocolError):
        GenericCodec("pcm16").audio_in(b"\x00\x01\x02")


def test_outbound_events_on_the_wire() -> None:
    codec = GenericCodec("ulaw")
    pcm = bytes(320)
    assert codec.outbound(PlayAudio(pcm)) == [encode(pcm, "ulaw")]
    assert codec.outbound(PlayAudio(b"", mark="m1")) == ['{"event": "mark", "name": "m1"}']
    assert json.loads(str(codec.outbound(ClearAudio())[0])) == {"event": "clear"}
    transfer = json.loads(str(codec.outbound(TransferCall("billing", {"reason": "x"}))[0]))
    assert transfer == {"event": "transfer", "target": "billing", "context": {"reason": "x"}}
    assert json.loads(str(codec.outbound(Hangup("bye"))[0]))["reason"] == "bye"
    said = json.loads(str(codec.outbound(BotSaid("Здравствуйте", "greeting"))[0]))
    assert said["text"] == "Здравствуйте"
    heard = json.loads(str(codec.outbound(CallerHeard("алло", True))[0]))
    assert heard == {"event": "transcript", "text": "алло", "final": True}


def test_rate_limiter_allows_bursts_then_the_sustained_rate() -> None:
    now = [0.0]
    limiter = RateLimiter(rate=10, burst=5, clock=lambda: now[0])
    assert all(limiter.allow() for _ in range(5))
    assert not limiter.allow()
    now[0] += 0.1  # one token back
    assert limiter.allow()
    assert not limiter.allow()
    now[0] += 10
    assert sum(limiter.allow() for _ in range(10)) == 5
