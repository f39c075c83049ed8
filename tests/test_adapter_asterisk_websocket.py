"""Asterisk chan_websocket translation, with wire vectors from the driver's docs and source.

Sources: docs.asterisk.org/Configuration/Channel-Drivers/WebSocket (plain-text and JSON examples),
the commit "chan_websocket: Add capability for JSON control messages and events" (the JSON
MEDIA_START below) and channels/chan_websocket.c (DTMF_END, ERROR, MEDIA_MARK_PROCESSED formats).
"""

from __future__ import annotations

import json

import pytest

from telephony_bridge.adapters.asterisk_websocket import (
    MAX_COMMAND_BYTES,
    MAX_MESSAGE_BYTES,
    SPEC,
    AsteriskWebSocketAdapter,
    parse_plain_event,
)
from telephony_bridge.adapters.base import CLOSE_TOO_BIG, CLOSE_UNSUPPORTED, ProtocolError
from voicebot.events import (
    AudioIn,
    BotSaid,
    CallerHeard,
    CallStarted,
    ClearAudio,
    DtmfIn,
    Hangup,
    PlayAudio,
    PlaybackMark,
    TransferCall,
)

# The docs' plain-text example (current releases add channel_id and ptime).
PLAIN_START = (
    "MEDIA_START connection_id:e226e283-c90a-4ea9-9e37-389000b9ef47 channel:WebSocket/connectionid"
    " channel_id:pbx1-123456789.999 format:ulaw optimal_frame_size:160 ptime:20"
)
# The first releases' MEDIA_START: no channel_id, no ptime.
OLD_PLAIN_START = (
    "MEDIA_START connection_id:e226e283-c90a-4ea9-9e37-389000b9ef47 channel:WebSocket/connectionid"
    " format:ulaw optimal_frame_size:160"
)
# The JSON example of the commit that added the JSON form, plus the variables our dialplan sets.
JSON_START = (
    '{"event":"MEDIA_START","connection_id":"media_connection1",'
    '"channel":"WebSocket/media_connection1/0x5140001a0040","channel_id":"1761245643.1",'
    '"format":"ulaw","optimal_frame_size":160,"ptime":20,"channel_variables":{'
    '"DIALEDPEERNUMBER":"media_connection1/c(ulaw)",'
    '"MEDIA_WEBSOCKET_CONNECTION_ID":"media_connection1",'
    '"MEDIA_WEBSOCKET_OPTIMAL_FRAME_SIZE":"160",'
    '"CALLER":"+79161234567","CALLED":"88001234567"}}'
)
SLIN16_START = (
    '{"event":"MEDIA_START","connection_id":"voicebot","channel":"WebSocket/voicebot/0x1",'
    '"channel_id":"1761245643.2","format":"slin16","optimal_frame_size":640,"ptime":20,'
    '"channel_variables":{}}'
)


def started(start: str = JSON_START) -> AsteriskWebSocketAdapter:
    adapter = AsteriskWebSocketAdapter()
    adapter.receive(start)
    return adapter


def refused(adapter: AsteriskWebSocketAdapter, message: str | bytes) -> ProtocolError:
    with pytest.raises(ProtocolError) as caught:
        adapter.receive(message)
    return caught.value


# --- the start of a call -----------------------------------------------------------------


def test_json_media_start_becomes_call_started_with_variables() -> None:
    (event,) = AsteriskWebSocketAdapter().receive(JSON_START).events
    assert event == CallStarted(
        call_id="1761245643.1",
        caller="+79161234567",
        called="88001234567",
        sample_rate=8000,
        codec="ulaw",
        metadata={
            "DIALEDPEERNUMBER": "media_connection1/c(ulaw)",
            "MEDIA_WEBSOCKET_CONNECTION_ID": "media_connection1",
            "MEDIA_WEBSOCKET_OPTIMAL_FRAME_SIZE": "160",
        },
    )


def test_plain_text_media_start_uses_the_channel_id() -> None:
    (event,) = AsteriskWebSocketAdapter().receive(PLAIN_START).events
    assert isinstance(event, CallStarted)
    assert (event.call_id, event.caller, event.codec, event.sample_rate) == (
        "pbx1-123456789.999",
        "",
        "ulaw",
        8000,
    )
    assert event.metadata == {}


def test_old_media_start_without_channel_id_falls_back_to_the_channel_name() -> None:
    (event,) = AsteriskWebSocketAdapter().receive(OLD_PLAIN_START).events
    assert isinstance(event, CallStarted)
    assert event.call_id == "WebSocket/connectionid"


def test_inherited_variables_lose_their_underscores() -> None:
    start = json.loads(JSON_START)
    start["channel_variables"] = {"__CALLER": "101", "_CALLED": "200", "__QUEUE": "sales"}
    (event,) = AsteriskWebSocketAdapter().receive(json.dumps(start)).events
    assert isinstance(event, CallStarted)
    assert (event.caller, event.called, dict(event.metadata)) == ("101", "200", {"QUEUE": "sales"})


@pytest.mark.parametrize(
    ("fmt", "size", "codec", "rate"),
    [("alaw", 160, "alaw", 8000), ("slin", 320, "pcm16", 8000), ("slin16", 640, "pcm16", 16000)],
)
def test_formats_map_to_codec_and_rate(fmt: str, size: int, codec: str, rate: int) -> None:
    text = (
        "MEDIA_START connection_id:c channel:WebSocket/c/0x1 channel_id:1.1"
        f" format:{fmt} optimal_frame_size:{size} ptime:20"
    )
    (event,) = AsteriskWebSocketAdapter().receive(text).events
    assert isinstance(event, CallStarted)
    assert (event.codec, event.sample_rate) == (codec, rate)


def test_unsupported_format_is_refused_with_the_supported_list() -> None:
    error = refused(AsteriskWebSocketAdapter(), PLAIN_START.replace("format:ulaw", "format:g722"))
    assert error.code == "bad_codec"
    assert "ulaw, alaw, slin, slin16" in str(error)


@pytest.mark.parametrize(
    ("message", "code"),
    [
        (b"\xff" * 160, "expected_start"),
        ("DTMF_END digit:1 channel_id:1.1", "expected_start"),
        ('{"event":"DTMF_END","channel_id":"1.1","digit":"1"}', "expected_start"),
        ("{not json", "bad_json"),
        ('["MEDIA_START"]', "bad_json"),
        ('{"format":"ulaw"}', "bad_frame"),
        (PLAIN_START.replace("optimal_frame_size:160", "optimal_frame_size:abc"), "bad_field"),
        (PLAIN_START.replace(" optimal_frame_size:160", ""), "bad_field"),
        (
            PLAIN_START.replace(
                "format:ulaw optimal_frame_size:160", "format:slin optimal_frame_size:321"
            ),
            "bad_field",
        ),
        ("MEDIA_START connection_id:c format:ulaw optimal_frame_size:160", "bad_field"),
        ("MEDIA_START format:ulaw channel_id optimal_frame_size:160", "bad_frame"),
        (JSON_START.replace('"CALLER":"+79161234567"', '"CALLER":7'), "bad_field"),
    ],
)
def test_bad_starts_are_refused(message: str | bytes, code: str) -> None:
    assert refused(AsteriskWebSocketAdapter(), message).code == code


# --- audio in --------------------------------------------------------------------------------


def test_ulaw_media_is_decoded_to_pcm16() -> None:
    (event,) = started().receive(b"\xff\x00\x80" + b"\xff" * 157).events
    assert event == AudioIn(b"\x00\x00" + b"\x84\x82" + b"\x7c\x7d" + b"\x00\x00" * 157)


def test_alaw_media_is_decoded_to_pcm16() -> None:
    adapter = started(PLAIN_START.replace("format:ulaw", "format:alaw"))
    assert adapter.receive(b"\xd5\x55").events == (AudioIn(b"\x08\x00\xf8\xff"),)


def test_slin16_media_passes_through_little_endian() -> None:
    frame = bytes(range(256)) * 2 + bytes(128)
    assert started(SLIN16_START).receive(frame).events == (AudioIn(frame),)
    assert refused(started(SLIN16_START), b"\x00" * 641).code == "bad_audio"


# --- control events --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "dtmf"),
    [
        (PLAIN_START, "DTMF_END digit:5 channel_id:pbx1-123456789.999"),
        (JSON_START, '{"event":"DTMF_END","channel_id":"1761245643.1","digit":"#"}'),
    ],
)
def test_dtmf_end_becomes_a_key_press(start: str, dtmf: str) -> None:
    (event,) = started(start).receive(dtmf).events
    assert isinstance(event, DtmfIn)
    assert event.digit in "5#"


@pytest.mark.parametrize(
    "message",
    [
        "STATUS channel_id:1.1 queue_length:43 xon_level:800 xoff_level:900 queue_full:false"
        " bulk_media:true media_paused:false",
        "QUEUE_DRAINED",
        "MEDIA_BUFFERING_COMPLETED 61ea9311-d501-46e5-8825-017b342b39f2",
        "ERROR channel_id:1.1 error_text:FLUSH_MEDIA not supported in passthrough mode",
        "MEDIA_MARK_PROCESSED not-one-of-ours",
    ],
)
def test_events_without_a_meaning_for_the_call_are_ignored(message: str) -> None:
    translation = started(PLAIN_START).receive(message)
    assert (translation.events, translation.replies) == ((), ())


def test_plain_error_text_keeps_its_spaces() -> None:
    name, fields = parse_plain_event("ERROR channel_id:1.1 error_text:Unable to parse JSON command")
    assert (name, fields) == (
        "ERROR",
        {"channel_id": "1.1", "error_text": "Unable to parse JSON command"},
    )


@pytest.mark.parametrize(
    ("start", "message", "code"),
    [
        (JSON_START, "{not json", "bad_json"),
        (JSON_START, '{"event":"DTMF_END","digit":"55"}', "bad_field"),
        (JSON_START, '{"event":"DTMF_END","digit":["5"]}', "bad_field"),
        (JSON_START, '{"event":"SOMETHING_NEW"}', "unknown_event"),
        (JSON_START, JSON_START, "unexpected_event"),
        (PLAIN_START, "DTMF_END digit:X channel_id:1.1", "bad_field"),
        (PLAIN_START, "DTMF_END digit", "bad_frame"),
        (PLAIN_START, "HELLO there:1", "unknown_event"),
        (PLAIN_START, PLAIN_START, "unexpected_event"),
        (PLAIN_START, "   ", "bad_frame"),
    ],
)
def test_malformed_events_are_refused(start: str, message: str, code: str) -> None:
    error = refused(started(start), message)
    assert error.code == code
    if code == "bad_json":
        assert error.close_code == CLOSE_UNSUPPORTED


@pytest.mark.parametrize("start", [PLAIN_START, JSON_START])
def test_messages_over_65500_bytes_are_refused(start: str) -> None:
    adapter = started(start)
    assert adapter.receive(b"\xff" * MAX_MESSAGE_BYTES).events  # the limit itself is fine
    error = refused(adapter, b"\xff" * (MAX_MESSAGE_BYTES + 1))
    assert (error.code, error.close_code) == ("frame_too_large", CLOSE_TOO_BIG)
    text = "STATUS note:" + "я" * 40000  # 80 012 bytes of UTF-8 in 40 012 characters
    assert refused(adapter, text).code == "frame_too_large"
    assert refused(AsteriskWebSocketAdapter(), bytes(70000)).code == "frame_too_large"


# --- audio out, marks, flow control ----------------------------------------------------------


def test_audio_goes_out_as_whole_ulaw_frames_then_mark_media() -> None:
    adapter = started(PLAIN_START)
    assert adapter.send(PlayAudio(bytes(320))).replies == (b"\xff" * 160,)
    assert adapter.send(PlayAudio(b"", mark="m7")).replies == ("MARK_MEDIA m7",)


def test_json_marks_round_trip() -> None:
    adapter = started()
    (command,) = adapter.send(PlayAudio(b"", mark="m7")).replies
    assert command == '{"command":"MARK_MEDIA","correlation_id":"m7"}'
    echo = '{"event":"MEDIA_MARK_PROCESSED","channel_id":"1761245643.1","correlation_id":"m7"}'
    assert adapter.receive(echo).events == (PlaybackMark("m7"),)
    assert adapter.receive(echo).events == ()  # once only


def test_plain_marks_round_trip() -> None:
    adapter = started(PLAIN_START)
    adapter.send(PlayAudio(b"", mark="m3"))
    assert adapter.receive("MEDIA_MARK_PROCESSED m3").events == (PlaybackMark("m3"),)


def test_marks_asterisk_cannot_carry_get_our_own_correlation_id() -> None:
    adapter = started(PLAIN_START)
    name = "фраза с пробелами " * 10
    (command,) = adapter.send(PlayAudio(b"", mark=name)).replies
    assert command == "MARK_MEDIA voicebot-1"
    assert adapter.receive("MEDIA_MARK_PROCESSED voicebot-1").events == (PlaybackMark(name),)


def test_every_command_fits_asterisks_128_byte_limit() -> None:
    adapter = started()
    commands = [
        adapter.send(PlayAudio(b"", mark="m" * 64)).replies[0],
        adapter.send(PlayAudio(b"", mark="x" * 500)).replies[0],
        adapter.send(ClearAudio()).replies[0],
        adapter.send(Hangup("done")).replies[0],
    ]
    assert all(isinstance(c, str) and len(c.encode()) <= MAX_COMMAND_BYTES for c in commands)


def test_a_partial_frame_waits_and_is_padded_with_silence_before_the_mark() -> None:
    adapter = started(PLAIN_START)
    assert adapter.send(PlayAudio(bytes(100))).replies == ()  # 50 samples: not a whole frame
    assert adapter.send(PlayAudio(bytes(300))).replies == (b"\xff" * 160,)
    replies = adapter.send(PlayAudio(b"", mark="m1")).replies
    assert replies == (b"\xff" * 160, "MARK_MEDIA m1")  # 40 samples + 120 of silence


def test_long_audio_is_split_into_whole_frames_under_65500_bytes() -> None:
    adapter = started(PLAIN_START)
    replies = adapter.send(PlayAudio(bytes(2 * 8000 * 30))).replies  # 30 s
    sizes = [len(r) for r in replies]
    assert sizes == [65440, 65440, 65440, 43680]
    assert all(size % 160 == 0 and size <= MAX_MESSAGE_BYTES for size in sizes)


def test_slin16_frames_are_640_bytes_of_pcm16() -> None:
    adapter = started(SLIN16_START)
    pcm = bytes(range(1, 241)) * 4  # 30 ms
    (frame,) = adapter.send(PlayAudio(pcm)).replies
    assert frame == pcm[:640]  # the other 320 bytes wait for the rest of their frame
    replies = adapter.send(PlayAudio(b"", mark="m1")).replies
    padded = pcm[640:] + bytes(320)
    assert replies == (padded, '{"command":"MARK_MEDIA","correlation_id":"m1"}')


def test_xoff_holds_media_and_marks_until_xon() -> None:
    adapter = started(PLAIN_START)
    assert adapter.receive("MEDIA_XOFF").replies == ()
    assert adapter.send(PlayAudio(bytes(320))).replies == ()
    assert adapter.send(PlayAudio(bytes(320), mark="m2")).replies == ()
    assert adapter.send(PlayAudio(bytes(320))).replies == ()
    released = adapter.receive("MEDIA_XON").replies
    assert released == (b"\xff" * 320, "MARK_MEDIA m2", b"\xff" * 160)
    assert adapter.send(PlayAudio(bytes(320))).replies == (b"\xff" * 160,)  # flowing again


def test_json_xoff_and_xon() -> None:
    adapter = started()
    adapter.receive('{"event":"MEDIA_XOFF","channel_id":"1761245643.1"}')
    assert adapter.send(PlayAudio(bytes(320))).replies == ()
    assert adapter.receive('{"event":"MEDIA_XON","channel_id":"1761245643.1"}').replies == (
        b"\xff" * 160,
    )


def test_held_media_is_capped_at_asterisks_queue_length() -> None:
    adapter = started(PLAIN_START)
    adapter.receive("MEDIA_XOFF")
    for _ in range(1100):
        adapter.send(PlayAudio(bytes(320)))
    released = adapter.receive("MEDIA_XON").replies
    assert sum(len(r) for r in released) == 1000 * 160


def test_barge_in_flushes_asterisk_and_what_we_hold() -> None:
    adapter = started(PLAIN_START)
    adapter.send(PlayAudio(bytes(100)))  # a partial frame
    adapter.receive("MEDIA_XOFF")
    adapter.send(PlayAudio(bytes(320), mark="m4"))
    assert adapter.send(ClearAudio()).replies == ("FLUSH_MEDIA",)
    assert adapter.receive("MEDIA_XON").replies == ()
    assert adapter.send(PlayAudio(b"", mark="m5")).replies == ("MARK_MEDIA m5",)


def test_json_flush_command() -> None:
    assert started().send(ClearAudio()).replies == ('{"command":"FLUSH_MEDIA"}',)


# --- the end of a call -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "command"), [(PLAIN_START, "HANGUP"), (JSON_START, '{"command":"HANGUP"}')]
)
@pytest.mark.parametrize("event", [TransferCall("billing", {"reason": "asked"}), Hangup("done")])
def test_transfer_and_hangup_send_hangup_and_close(
    start: str, command: str, event: TransferCall | Hangup
) -> None:
    translation = started(start).send(event)
    assert (translation.replies, translation.close) == ((command,), True)


def test_hang_up_drops_what_xoff_held() -> None:
    adapter = started(PLAIN_START)
    adapter.receive("MEDIA_XOFF")
    adapter.send(PlayAudio(bytes(320), mark="m9"))
    assert adapter.send(Hangup("no_input")).replies == ("HANGUP",)
    assert adapter.receive("MEDIA_XON").replies == ()


def test_informational_events_and_early_sends_are_dropped() -> None:
    adapter = started()
    assert adapter.send(CallerHeard("алло", final=True)).replies == ()
    assert adapter.send(BotSaid("Здравствуйте", "greeting")).replies == ()
    assert AsteriskWebSocketAdapter().send(PlayAudio(bytes(320))).replies == ()
    assert AsteriskWebSocketAdapter().refuse(ProtocolError("bad_json", "x")) == ()


def test_spec() -> None:
    assert (SPEC.name, SPEC.path, SPEC.subprotocol) == ("asterisk_websocket", "/ws/asterisk", None)
    assert isinstance(SPEC.new(), AsteriskWebSocketAdapter)
