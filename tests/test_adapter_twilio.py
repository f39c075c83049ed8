"""Twilio Media Streams translation, with the wire vectors of Twilio's "WebSocket Messages" page."""

from __future__ import annotations

import base64
import json
import struct
import xml.etree.ElementTree as ET

import pytest

from telephony_bridge.adapters.base import (
    CLOSE_POLICY,
    CLOSE_TOO_BIG,
    CLOSE_UNSUPPORTED,
    CallRoute,
    ProtocolError,
)
from telephony_bridge.adapters.twilio import (
    MAX_MESSAGE_CHARS,
    SPEC,
    TwilioAdapter,
    twiml_after_stream,
)
from voicebot.events import (
    AudioIn,
    BotSaid,
    CallEnded,
    CallerHeard,
    CallStarted,
    ClearAudio,
    DtmfIn,
    Hangup,
    PlayAudio,
    PlaybackMark,
    TransferCall,
)

STREAM = "MZXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"
ACCOUNT = "ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"
CALL = "CAXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"

CONNECTED = '{"event": "connected", "protocol": "Call", "version": "1.0.0"}'
START = (
    '{"event": "start", "sequenceNumber": "1", "start": {'
    f'"accountSid": "{ACCOUNT}", "streamSid": "{STREAM}", "callSid": "{CALL}", '
    '"tracks": ["inbound"], '
    '"mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}, '
    '"customParameters": {"caller": "+79161234567", "called": "88001234567", '
    '"FirstName": "Jane"}}, '
    f'"streamSid": "{STREAM}"}}'
)
# G.711 mu-law: 0xFF is silence (PCM 0), 0x00 the most negative and 0x80 the most positive code.
MEDIA = (
    '{"event": "media", "sequenceNumber": "3", "media": {"track": "inbound", "chunk": "1", '
    f'"timestamp": "5", "payload": "/wCA"}}, "streamSid": "{STREAM}"}}'
)
DTMF = (
    f'{{"event": "dtmf", "streamSid": "{STREAM}", "sequenceNumber": "5", '
    '"dtmf": {"track": "inbound_track", "digit": "1"}}'
)
MARK = (
    f'{{"event": "mark", "sequenceNumber": "4", "streamSid": "{STREAM}", '
    '"mark": {"name": "my label"}}'
)
STOP = (
    '{"event": "stop", "sequenceNumber": "5", '
    f'"stop": {{"accountSid": "{ACCOUNT}", "callSid": "{CALL}"}}, "streamSid": "{STREAM}"}}'
)


def started_adapter() -> TwilioAdapter:
    adapter = TwilioAdapter()
    assert adapter.receive(CONNECTED).events == ()
    adapter.receive(START)
    return adapter


def refused(adapter: TwilioAdapter, message: str | bytes) -> ProtocolError:
    with pytest.raises(ProtocolError) as caught:
        adapter.receive(message)
    assert str(caught.value)  # a clear message for the log
    return caught.value


def test_spec_routes_twilio() -> None:
    assert (SPEC.name, SPEC.path) == ("twilio", "/ws/twilio")
    assert isinstance(SPEC.new(), TwilioAdapter)


def test_connected_then_start_becomes_call_started() -> None:
    adapter = TwilioAdapter()
    assert adapter.receive(CONNECTED).events == ()
    (started,) = adapter.receive(START).events
    assert started == CallStarted(
        call_id=CALL,
        caller="+79161234567",
        called="88001234567",
        sample_rate=8000,
        codec="ulaw",
        metadata={"FirstName": "Jane", "streamSid": STREAM, "accountSid": ACCOUNT},
    )


def test_start_without_custom_parameters_has_empty_numbers() -> None:
    start = json.loads(START)
    del start["start"]["customParameters"]
    (started,) = TwilioAdapter().receive(json.dumps(start)).events
    assert isinstance(started, CallStarted)
    assert (started.caller, started.called) == ("", "")
    assert started.metadata == {"streamSid": STREAM, "accountSid": ACCOUNT}


def test_inbound_media_is_decoded_from_base64_mulaw() -> None:
    (audio,) = started_adapter().receive(MEDIA).events
    assert audio == AudioIn(struct.pack("<3h", 0, -32124, 32124))


def test_outbound_track_media_is_not_caller_audio() -> None:
    outbound = MEDIA.replace('"track": "inbound"', '"track": "outbound"')
    assert started_adapter().receive(outbound).events == ()


def test_dtmf_mark_and_stop() -> None:
    adapter = started_adapter()
    assert adapter.receive(DTMF).events == (DtmfIn("1"),)
    assert adapter.receive(MARK).events == (PlaybackMark("my label"),)
    assert adapter.receive(STOP).events == (CallEnded("hangup"),)


def test_outbound_audio_is_base64_mulaw_in_20ms_media_messages() -> None:
    adapter = started_adapter()
    pcm = struct.pack("<3h", 0, -32124, 32124) * 2 + b"\x00\x00" * 314  # 320 samples = 40 ms
    replies = adapter.send(PlayAudio(pcm)).replies
    messages = [json.loads(str(reply)) for reply in replies]
    assert [m["event"] for m in messages] == ["media", "media"]
    assert all(set(m) == {"event", "streamSid", "media"} for m in messages)
    assert all(m["streamSid"] == STREAM and set(m["media"]) == {"payload"} for m in messages)
    audio = b"".join(base64.b64decode(m["media"]["payload"]) for m in messages)
    assert audio == b"\xff\x00\x80" * 2 + b"\xff" * 314
    assert [len(base64.b64decode(m["media"]["payload"])) for m in messages] == [160, 160]


def test_outbound_mark_follows_its_audio() -> None:
    adapter = started_adapter()
    replies = adapter.send(PlayAudio(b"\x00\x00" * 160, mark="m7")).replies
    assert json.loads(str(replies[-1])) == {
        "event": "mark",
        "streamSid": STREAM,
        "mark": {"name": "m7"},
    }
    (only,) = adapter.send(PlayAudio(b"", mark="m8")).replies
    assert json.loads(str(only))["mark"] == {"name": "m8"}
    # Twilio echoes marks itself, so send() never reports one.
    assert adapter.send(PlayAudio(b"", mark="m9")).events == ()


def test_clear_is_twilios_flush() -> None:
    (reply,) = started_adapter().send(ClearAudio()).replies
    assert json.loads(str(reply)) == {"event": "clear", "streamSid": STREAM}


@pytest.mark.parametrize(
    "event", [TransferCall("billing", {"reason": "asked"}), Hangup("caller_finished")]
)
def test_transfer_and_hangup_end_the_stream_and_send_nothing(
    event: TransferCall | Hangup,
) -> None:
    translation = started_adapter().send(event)
    assert translation.close
    assert (translation.replies, translation.events) == ((), ())


def test_informational_events_and_events_before_start_send_nothing() -> None:
    adapter = started_adapter()
    assert adapter.send(CallerHeard("алло", True)).replies == ()
    assert adapter.send(BotSaid("Здравствуйте", "greeting")).replies == ()
    assert TwilioAdapter().send(PlayAudio(b"\x00\x00", mark="m1")).replies == ()


@pytest.mark.parametrize(
    ("message", "code", "close_code"),
    [
        ("not json", "bad_json", CLOSE_UNSUPPORTED),
        ("[1, 2]", "bad_json", CLOSE_POLICY),
        (b"\xff\xff", "bad_frame", CLOSE_UNSUPPORTED),
        (MEDIA, "expected_start", CLOSE_POLICY),
        (DTMF, "expected_start", CLOSE_POLICY),
        (MARK, "expected_start", CLOSE_POLICY),
        ('{"event": "hello"}', "unknown_event", CLOSE_POLICY),
        ('{"event": "start", "start": "x"}', "bad_field", CLOSE_POLICY),
        ('{"event": "start", "start": {"streamSid": "MZ1"}}', "bad_field", CLOSE_POLICY),
        (START.replace("audio/x-mulaw", "audio/x-l16"), "bad_codec", CLOSE_POLICY),
        (START.replace('"sampleRate": 8000', '"sampleRate": 16000'), "bad_codec", CLOSE_POLICY),
        (START.replace('"Jane"', '{"a": 1}'), "bad_field", CLOSE_POLICY),
        (
            START.replace('"sequenceNumber": "1"', '"sequenceNumber": "one"'),
            "bad_field",
            CLOSE_POLICY,
        ),
    ],
)
def test_malformed_before_start(message: str | bytes, code: str, close_code: int) -> None:
    error = refused(TwilioAdapter(), message)
    assert (error.code, error.close_code) == (code, close_code)


@pytest.mark.parametrize(
    ("message", "code"),
    [
        (MEDIA.replace('"/wCA"', '"not base64!"'), "bad_audio"),
        (MEDIA.replace('"/wCA"', "42"), "bad_field"),
        ('{"event": "media", "streamSid": "' + STREAM + '"}', "bad_field"),
        (DTMF.replace('"digit": "1"', '"digit": "12"'), "bad_field"),
        (MARK.replace('"name": "my label"', '"name": null'), "bad_field"),
        (MEDIA.replace(STREAM, "MZ-another-stream"), "bad_field"),
        (START, "unexpected_event"),
        (CONNECTED, "unexpected_event"),
        ('{"event": "dance", "streamSid": "' + STREAM + '"}', "unknown_event"),
    ],
)
def test_malformed_after_start(message: str, code: str) -> None:
    assert refused(started_adapter(), message).code == code


def test_stop_before_start_ends_the_call() -> None:
    assert TwilioAdapter().receive(STOP).events == (CallEnded("hangup"),)


def test_oversized_messages_are_refused() -> None:
    huge = json.dumps(
        {"event": "media", "streamSid": STREAM, "media": {"payload": "A" * 1_000_000}}
    )
    error = refused(started_adapter(), huge)
    assert (error.code, error.close_code) == ("frame_too_large", CLOSE_TOO_BIG)
    assert len(huge) > MAX_MESSAGE_CHARS
    # Under the message limit but more than 1 s of audio in one media message.
    two_seconds = base64.b64encode(b"\xff" * 16000).decode()
    error = refused(started_adapter(), MEDIA.replace("/wCA", two_seconds))
    assert (error.code, error.close_code) == ("frame_too_large", CLOSE_TOO_BIG)


def test_refuse_sends_nothing_twilio_would_reject() -> None:
    assert TwilioAdapter().refuse(ProtocolError("bad_json", "not JSON")) == ()


def _verbs(twiml: str) -> list[ET.Element]:
    root = ET.fromstring(twiml)
    assert root.tag == "Response"
    return list(root)


def test_twiml_after_transfer_enqueues_into_the_target_queue() -> None:
    route = CallRoute("transfer", "billing", (("reason", "asked"), ("priority", "2")))
    (enqueue,) = _verbs(twiml_after_stream(route))
    assert (enqueue.tag, enqueue.text, list(enqueue)) == ("Enqueue", "billing", [])


def test_twiml_after_transfer_with_taskrouter_carries_the_context() -> None:
    route = CallRoute(
        "transfer",
        "billing",
        (("priority", "2"), ("reason", "asked"), ("summary", "Баланс <минус> & долг")),
    )
    (enqueue,) = _verbs(twiml_after_stream(route, workflow_sid="WW0123456789abcdef"))
    assert enqueue.tag == "Enqueue"
    assert enqueue.get("workflowSid") == "WW0123456789abcdef"
    (task,) = list(enqueue)
    assert (task.tag, task.get("priority")) == ("Task", "2")
    assert json.loads(task.text or "") == {
        "target": "billing",
        "priority": "2",
        "reason": "asked",
        "summary": "Баланс <минус> & долг",
    }


def test_twiml_after_transfer_to_an_impossible_queue_uses_the_default() -> None:
    (enqueue,) = _verbs(twiml_after_stream(CallRoute("transfer", "q" * 65)))
    assert enqueue.text == "operators"
    (enqueue,) = _verbs(twiml_after_stream(CallRoute("transfer", ""), default_queue="first"))
    assert enqueue.text == "first"


def test_twiml_after_hangup_hangs_up() -> None:
    (hangup,) = _verbs(twiml_after_stream(CallRoute("hangup")))
    assert hangup.tag == "Hangup"


def test_twiml_when_the_bot_did_not_end_the_call_apologises_and_enqueues() -> None:
    say, enqueue = _verbs(twiml_after_stream(CallRoute("continue"), default_queue="support"))
    assert (say.tag, say.get("language"), say.get("voice")) == ("Say", "ru-RU", "Polly.Tatyana")
    assert "оператором" in (say.text or "")
    assert (enqueue.tag, enqueue.text) == ("Enqueue", "support")


@pytest.mark.parametrize(
    ("target", "verb"),
    [
        ("+79161234567", "<Dial><Number>+79161234567</Number></Dial>"),
        ("sip:101@pbx.example.ru", "<Dial><Sip>sip:101@pbx.example.ru</Sip></Dial>"),
        ("client:anna", "<Dial><Client>anna</Client></Dial>"),
        ("101", "<Enqueue>101</Enqueue>"),
        ("billing", "<Enqueue>billing</Enqueue>"),
    ],
)
def test_a_call_an_operator_took_is_dialled_a_queue_is_enqueued(target: str, verb: str) -> None:
    twiml = twiml_after_stream(CallRoute("transfer", target, (("reason", "caller_request"),)))
    assert verb in twiml
