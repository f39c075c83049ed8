"""jambonz listen (bidirectional streaming) translation with wire vectors from jambonz's docs and
mod_audio_fork's source (docs/pbx/jambonz.md lists them)."""

from __future__ import annotations

import json

import pytest

from telephony_bridge.adapters.base import CLOSE_TOO_BIG, CallRoute, ProtocolError
from telephony_bridge.adapters.jambonz import (
    MAX_PENDING_MARKS,
    MAX_TEXT_BYTES,
    SPEC,
    JambonzAdapter,
    after_listen_verbs,
    sip_headers,
)
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

# What jambonz's listen task sends first: Object.assign({sampleRate, mixType}, callInfo.toJSON(),
# verb.metadata) -- the verb's metadata ("hotline") lands at the top level.
CALL_INFO = (
    '{"sampleRate":8000,"mixType":"mono","callSid":"ac5c697a-bfae-4335-ad8a-0a3e0a3a0c9f",'
    '"direction":"inbound","from":"+79161234567","to":"88001234567",'
    '"callId":"935f3b60-2775-123d-a6a1-00505690a4b2","sipStatus":200,"sipReason":"OK",'
    '"callStatus":"in-progress","accountSid":"66acafce-44c2-417a-a7c0-8f1e2d3c4b5a",'
    '"traceId":"151b12417e6460b82a97188348066439",'
    '"applicationSid":"db7ba948-2410-4845-949f-0a1b2c3d4e5f","fsSipAddress":"10.0.0.5:5060",'
    '"originatingSipTrunkName":"rostelecom","customerData":{"crm":"42"},"hotline":"support"}'
)
DTMF_FROM_DOCS = '{\n  "event": "dtmf",\n  "dtmf": "2",\n  "duration": "1600"\n}'
# mod_audio_fork's send_mark_event writes exactly this (spacing included).
MARK_PLAYED = '{"type": "mark", "data": {"name":"m7", "event": "playout"}}'
MARK_CLEARED = '{"type": "mark", "data": {"name":"m7", "event": "cleared"}}'


def started(rate: int = 8000) -> JambonzAdapter:
    adapter = JambonzAdapter()
    info = json.loads(CALL_INFO) | {"sampleRate": rate}
    (event,) = adapter.receive(json.dumps(info)).events
    assert isinstance(event, CallStarted)
    return adapter


def refused(adapter: JambonzAdapter, message: str | bytes) -> ProtocolError:
    with pytest.raises(ProtocolError) as caught:
        adapter.receive(message)
    return caught.value


def test_spec_route_and_subprotocol() -> None:
    assert (SPEC.name, SPEC.path, SPEC.subprotocol) == (
        "jambonz",
        "/ws/jambonz",
        "audio.jambonz.org",
    )
    assert isinstance(SPEC.new(), JambonzAdapter)


def test_call_information_frame_starts_the_call() -> None:
    (event,) = JambonzAdapter().receive(CALL_INFO).events
    assert isinstance(event, CallStarted)
    assert (event.call_id, event.caller, event.called) == (
        "ac5c697a-bfae-4335-ad8a-0a3e0a3a0c9f",
        "+79161234567",
        "88001234567",
    )
    assert (event.sample_rate, event.codec) == (8000, "pcm16")
    meta = dict(event.metadata)
    assert meta["hotline"] == "support"  # the verb's metadata
    assert meta["direction"] == "inbound"
    assert meta["sipStatus"] == "200"
    assert meta["originatingSipTrunkName"] == "rostelecom"
    assert json.loads(meta["customerData"]) == {"crm": "42"}
    assert not {"callSid", "from", "to", "sampleRate", "mixType"} & meta.keys()


def test_nested_metadata_object_is_flattened_and_nulls_dropped() -> None:
    frame = {"callSid": "c1", "sampleRate": 16000, "metadata": {"queue": "sales", "vip": True}}
    frame |= {"callerId": None}
    (event,) = JambonzAdapter().receive(json.dumps(frame)).events
    assert isinstance(event, CallStarted)
    assert event.sample_rate == 16000
    assert (event.caller, event.called) == ("", "")
    assert dict(event.metadata) == {"queue": "sales", "vip": "true"}


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ("not json", "bad_json"),
        ("[1, 2]", "bad_json"),
        (bytes(320), "expected_start"),
        ('{"event": "dtmf", "dtmf": "1"}', "expected_start"),
        ('{"callSid": ""}', "bad_field"),
        ('{"callSid": {"a": 1}}', "bad_field"),
        ('{"callSid": "c1", "sampleRate": 24000}', "bad_rate"),
        ('{"callSid": "c1", "sampleRate": "8000"}', "bad_rate"),
        ('{"callSid": "c1", "mixType": "stereo"}', "bad_field"),
        ('{"callSid": "c1", "from": 1.5}', "bad_field"),
    ],
)
def test_bad_first_frames_are_refused(message: str | bytes, code: str) -> None:
    assert refused(JambonzAdapter(), message).code == code


def test_audio_in_both_rates_and_limits() -> None:
    frame = (b"\x10\x00\xf0\xff") * 80  # 20 ms of L16 at 8 kHz
    assert started().receive(frame).events == (AudioIn(frame),)
    assert started(16000).receive(frame * 2).events == (AudioIn(frame * 2),)
    assert started().receive(b"").events == ()  # graceful-shutdown frame of mod_audio_fork
    # mod_audio_fork's default buffer: 2 s = 320 B * 50 * 2 at 8 kHz, twice that at 16 kHz
    assert started().receive(bytes(32_000)).events == (AudioIn(bytes(32_000)),)
    too_big = refused(started(), bytes(32_002))
    assert (too_big.code, too_big.close_code) == ("frame_too_large", CLOSE_TOO_BIG)
    assert started(16000).receive(bytes(64_000)).events
    assert refused(started(16000), bytes(64_002)).code == "frame_too_large"
    assert refused(started(), b"\x00\x01\x02").code == "bad_audio"


def test_dtmf_as_jambonz_passes_it() -> None:
    adapter = started()
    assert adapter.receive(DTMF_FROM_DOCS).events == (DtmfIn("2"),)
    assert adapter.receive('{"event": "dtmf", "dtmf": "#", "duration": 960}').events == (
        DtmfIn("#"),
    )
    for bad in ('{"event": "dtmf", "dtmf": "12"}', '{"event": "dtmf", "dtmf": "x"}'):
        assert refused(adapter, bad).code == "bad_field"


def test_play_audio_is_binary_l16_and_marks_are_jambonz_marks() -> None:
    adapter = started()
    pcm = bytes(range(256)) + bytes(64)
    assert adapter.send(PlayAudio(pcm)).replies == (pcm,)
    out = adapter.send(PlayAudio(b"", mark="m7"))
    assert out.events == ()
    (mark,) = out.replies
    assert json.loads(str(mark)) == {"type": "mark", "data": {"name": "m7"}}
    assert adapter.receive(MARK_PLAYED).events == (PlaybackMark("m7"),)
    both = adapter.send(PlayAudio(pcm, mark="m8")).replies
    assert both[0] == pcm and json.loads(str(both[1]))["data"] == {"name": "m8"}


def test_cleared_marks_are_not_reported_as_heard() -> None:
    adapter = started()
    adapter.send(PlayAudio(b"", mark="m7"))
    assert adapter.send(ClearAudio()).replies == ('{"type": "killAudio"}',)
    assert adapter.receive(MARK_CLEARED).events == ()


def test_marks_beyond_jambonz_limit_are_echoed_locally() -> None:
    adapter = started()
    for n in range(MAX_PENDING_MARKS):
        assert adapter.send(PlayAudio(b"", mark=f"m{n}")).events == ()
    local = adapter.send(PlayAudio(b"\x00\x00", mark="late"))
    assert local.events == (PlaybackMark("late"),)
    assert local.replies == (b"\x00\x00",)  # the audio still goes, the mark does not
    adapter.receive('{"type": "mark", "data": {"name": "m0", "event": "playout"}}')
    assert adapter.send(PlayAudio(b"", mark="next")).events == ()  # room again


@pytest.mark.parametrize(
    "message",
    [
        '{"type": "mark"}',
        '{"type": "mark", "data": {"name": "m1"}}',
        '{"type": "mark", "data": {"name": 5, "event": "playout"}}',
        '{"type": "mark", "data": {"name": "m1", "event": "started"}}',
    ],
)
def test_malformed_mark_events(message: str) -> None:
    assert refused(started(), message).code == "bad_field"


def test_unknown_messages_and_oversized_text() -> None:
    adapter = started()
    assert adapter.receive('{"type": "playDone", "data": {"id": "x"}}').events == ()
    assert refused(adapter, '{"type": "transcription", "data": {}}').code == "unknown_event"
    assert refused(adapter, "{}").code == "unknown_event"
    assert refused(adapter, "{oops").code == "bad_json"
    big = json.dumps({"event": "dtmf", "dtmf": "1", "pad": "я" * (MAX_TEXT_BYTES // 2)})
    error = refused(adapter, big)
    assert (error.code, error.close_code) == ("frame_too_large", CLOSE_TOO_BIG)


def test_transfer_and_hangup_end_the_listen_verb() -> None:
    adapter = started()
    disconnect = '{"type": "disconnect"}'
    assert adapter.send(TransferCall("billing", {"reason": "x"})).replies == (disconnect,)
    assert adapter.send(Hangup("caller_finished")).replies == (disconnect,)


def test_informational_events_and_events_before_start_send_nothing() -> None:
    adapter = started()
    assert adapter.send(CallerHeard("алло", True)).replies == ()
    assert adapter.send(BotSaid("Здравствуйте", "greeting")).replies == ()
    fresh = JambonzAdapter()
    assert fresh.send(PlayAudio(bytes(320), mark="m1")).replies == ()
    assert fresh.send(ClearAudio()).replies == ()


def test_refusal_is_mod_audio_fork_error_message() -> None:
    (message,) = JambonzAdapter().refuse(ProtocolError("bad_rate", "sampleRate 24000"))
    assert json.loads(str(message)) == {
        "type": "error",
        "data": {"code": "bad_rate", "message": "sampleRate 24000"},
    }


# --- actionHook ------------------------------------------------------------------------------


def test_after_listen_hangup() -> None:
    assert after_listen_verbs(CallRoute("hangup")) == [{"verb": "hangup"}]


def test_after_listen_transfer_tags_context_and_enqueues() -> None:
    route = CallRoute("transfer", "billing", (("reason", "no_answer"), ("summary", "Счёт")))
    assert after_listen_verbs(route) == [
        {
            "verb": "tag",
            "data": {"voicebot": {"queue": "billing", "reason": "no_answer", "summary": "Счёт"}},
        },
        {"verb": "enqueue", "name": "billing"},
    ]
    assert after_listen_verbs(CallRoute("transfer"))[1] == {"verb": "enqueue", "name": "operators"}


def test_after_listen_transfer_to_sip_with_headers() -> None:
    route = CallRoute("transfer", "billing", (("priority", "1"), ("summary", "Счёт ok")))
    tag, dial = after_listen_verbs(route, sip_uri="sip:{queue}@pbx.example.ru")
    assert tag["verb"] == "tag"
    assert dial == {
        "verb": "dial",
        "target": [{"type": "sip", "sipUri": "sip:billing@pbx.example.ru"}],
        "headers": {
            "X-Voicebot-Queue": "billing",
            "X-Voicebot-Priority": "1",
            "X-Voicebot-Summary": "%D0%A1%D1%87%D1%91%D1%82%20ok",
        },
    }
    assert sip_headers("q", {"entry_id": "a", "queue": "x", "__": "y"}) == {
        "X-Voicebot-Queue": "q",
        "X-Voicebot-Entry-Id": "a",
    }


def test_after_listen_continue_apologises_in_russian_and_enqueues() -> None:
    verbs = after_listen_verbs(CallRoute("continue"), default_queue="first-line")
    assert verbs == [
        {
            "verb": "say",
            "text": "Извините, соединяю вас с оператором.",
            "synthesizer": {"language": "ru-RU"},
        },
        {"verb": "enqueue", "name": "first-line"},
    ]
    with pytest.raises(ValueError):
        after_listen_verbs(CallRoute("dance"))


@pytest.mark.parametrize(
    ("target", "dial"),
    [
        ("+79161234567", {"type": "phone", "number": "+79161234567"}),
        ("sip:101@pbx.example.ru", {"type": "sip", "sipUri": "sip:101@pbx.example.ru"}),
        ("user:anna", {"type": "user", "name": "anna"}),
    ],
)
def test_a_call_an_operator_took_is_dialled(target: str, dial: dict[str, object]) -> None:
    verbs = after_listen_verbs(CallRoute("transfer", target, (("reason", "caller_request"),)))
    assert verbs[-1]["verb"] == "dial" and verbs[-1]["target"] == [dial]
    assert after_listen_verbs(CallRoute("transfer", "billing"))[-1] == {
        "verb": "enqueue",
        "name": "billing",
    }
