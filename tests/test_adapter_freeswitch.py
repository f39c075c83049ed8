"""mod_audio_fork / mod_audio_stream translation, with literal wire vectors.

The inbound vectors are what the modules put on the wire: the start command's metadata string
as the first TEXT frame (README of both modules, lws_glue.cpp / audio_streamer_glue.cpp), raw
L16 BINARY frames, `send_text` strings, the empty BINARY frame of mod_audio_fork's
graceful-shutdown. The outbound ones are the server messages the modules parse (`playAudio`,
`killAudio`, `transfer`, `disconnect`, `error`, `transcription`; `streamAudio`).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable

import pytest

from telephony_bridge.adapters.base import CLOSE_TOO_BIG, ProtocolError, Translation
from telephony_bridge.adapters.freeswitch import (
    FORK_SPEC,
    MAX_AUDIO_BEFORE_METADATA,
    MAX_AUDIO_BYTES,
    MAX_TEXT_CHARS,
    STREAM_SPEC,
    FreeswitchAdapter,
    new_fork_adapter,
    new_stream_adapter,
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

METADATA = (
    '{"call_id":"7dd5e34e-5db4-4edb-a166-757e5d29b941","caller":"+79161234567",'
    '"called":"88001234567","sample_rate":16000}'
)


def started(metadata: str = METADATA, stream: bool = False) -> FreeswitchAdapter:
    adapter = new_stream_adapter() if stream else new_fork_adapter()
    adapter.receive(metadata)
    return adapter


def error_code(adapter: FreeswitchAdapter, message: str | bytes) -> str:
    with pytest.raises(ProtocolError) as caught:
        adapter.receive(message)
    return caught.value.code


def test_specs_name_path_and_fork_subprotocol() -> None:
    assert (FORK_SPEC.name, FORK_SPEC.path) == ("freeswitch_fork", "/ws/freeswitch/fork")
    assert (STREAM_SPEC.name, STREAM_SPEC.path) == ("freeswitch_stream", "/ws/freeswitch/stream")
    assert FORK_SPEC.subprotocol == "audio.drachtio.org"
    assert STREAM_SPEC.subprotocol is None
    assert FORK_SPEC.new() is not FORK_SPEC.new()


@pytest.mark.parametrize("new", [new_fork_adapter, new_stream_adapter])
def test_metadata_frame_starts_the_call(new: Callable[[], FreeswitchAdapter]) -> None:
    out = new().receive(METADATA)
    assert out.events == (
        CallStarted(
            "7dd5e34e-5db4-4edb-a166-757e5d29b941",
            "+79161234567",
            "88001234567",
            16000,
            "pcm16",
            {},
        ),
    )
    assert out.replies == ()


def test_metadata_aliases_rate_strings_and_extra_keys() -> None:
    # drachtio's README example metadata: {to, from, callid}; extra keys become metadata.
    out = new_fork_adapter().receive(
        '{"to":"6173333456","from":"2061236666","callid":"abc@host","sample_rate":"8k",'
        '"queue":"sales","vip":true,"tags":["a"]}'
    )
    call = out.events[0]
    assert isinstance(call, CallStarted)
    assert (call.call_id, call.caller, call.called, call.sample_rate) == (
        "abc@host",
        "2061236666",
        "6173333456",
        8000,
    )
    assert call.metadata == {"queue": "sales", "vip": "true", "tags": '["a"]'}


def test_default_rate_is_8000() -> None:
    call = new_fork_adapter().receive('{"call_id":"c1"}').events[0]
    assert isinstance(call, CallStarted) and call.sample_rate == 8000


def test_bare_call_id_metadata_is_an_8k_call() -> None:
    out = new_stream_adapter().receive("7dd5e34e-5db4-4edb-a166-757e5d29b941")
    assert out.events == (
        CallStarted("7dd5e34e-5db4-4edb-a166-757e5d29b941", "", "", 8000, "pcm16", {}),
    )


@pytest.mark.parametrize(
    ("metadata", "code"),
    [
        ("hello world", "bad_json"),
        ('{"call_id": "a"', "bad_json"),
        ("[1, 2]", "bad_json"),
        ('{"caller": "1"}', "bad_field"),
        ('{"call_id": ""}', "bad_field"),
        ('{"call_id": {"x": 1}}', "bad_field"),
        ('{"call_id": "' + "x" * 129 + '"}', "bad_field"),
        ('{"call_id": "a", "sample_rate": 24000}', "bad_rate"),
        ('{"call_id": "a", "sample_rate": true}', "bad_rate"),
        ('{"call_id": "a", "chunk_ms": 30}', "bad_field"),
        ('{"call_id": "a", "chunk_ms": 4000}', "bad_field"),
        ('{"call_id": "a"} 5', "bad_json"),
    ],
)
def test_bad_metadata_is_refused(metadata: str, code: str) -> None:
    assert error_code(new_fork_adapter(), metadata) == code


def test_texts_concatenated_by_mod_audio_fork_are_all_read() -> None:
    # AudioPipe::bufferForSending appends pending texts into one frame.
    out = new_fork_adapter().receive('{"call_id":"c1"}{"event":"dtmf","digit":"5"}')
    assert out.events[1:] == (DtmfIn("5"),)
    adapter = started()
    assert adapter.receive('{"event":"dtmf","digit":"1"}{"event":"dtmf","digit":"#"}').events == (
        DtmfIn("1"),
        DtmfIn("#"),
    )


def test_a_little_audio_before_the_metadata_is_dropped_then_refused() -> None:
    adapter = new_stream_adapter()
    frame = b"\x00\x00" * 160
    for _ in range(MAX_AUDIO_BEFORE_METADATA // len(frame)):
        assert adapter.receive(frame) == Translation()
    assert error_code(adapter, frame) == "expected_metadata"
    late = new_stream_adapter()
    late.receive(frame)
    assert isinstance(late.receive('{"call_id":"c1"}').events[0], CallStarted)


def test_audio_frames_are_the_callers_pcm() -> None:
    adapter = started()
    frame = bytes(range(256)) * 2 + b"\x01\x02"  # any even length: the module batches frames
    assert adapter.receive(frame).events == (AudioIn(frame),)
    assert adapter.receive(b"") == Translation()  # graceful-shutdown's empty frame
    assert error_code(adapter, b"\x00\x00\x00") == "bad_audio"


def test_oversized_frames_are_refused_with_1009() -> None:
    for message in (b"\x00" * (MAX_AUDIO_BYTES + 2), "x" * (MAX_TEXT_CHARS + 1)):
        with pytest.raises(ProtocolError) as caught:
            started().receive(message)
        assert (caught.value.code, caught.value.close_code) == ("frame_too_large", CLOSE_TOO_BIG)
    assert started().receive(b"\x00" * MAX_AUDIO_BYTES).events == (
        AudioIn(b"\x00" * MAX_AUDIO_BYTES),
    )


def test_dtmf_and_stop_texts() -> None:
    adapter = started()
    assert adapter.receive('{"event":"dtmf","digit":"*"}').events == (DtmfIn("*"),)
    assert adapter.receive('{"event":"stop"}').events == (CallEnded("hangup"),)
    assert adapter.receive('{"event":"stop","reason":"transferred"}').events == (
        CallEnded("transferred"),
    )


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ("not json", "bad_json"),
        ("", "bad_json"),
        ('"dtmf"', "bad_json"),
        ('{"event":"dtmf","digit":"12"}', "bad_field"),
        ('{"event":"dtmf","digit":"x"}', "bad_field"),
        ('{"event":"dance"}', "unknown_event"),
        (METADATA, "unknown_event"),
    ],
)
def test_bad_texts_after_start(message: str, code: str) -> None:
    assert error_code(started(), message) == code


def test_fork_audio_out_is_play_audio_json_and_the_mark_is_echoed() -> None:
    adapter = started('{"call_id":"c1"}')
    out = adapter.send(PlayAudio(b"\x01\x00\xff\x7f", mark="m1"))
    assert out.replies == (
        '{"type":"playAudio","data":{"audioContentType":"raw","sampleRate":8000,'
        '"audioContent":"AQD/fw=="}}',
    )
    assert out.events == (PlaybackMark("m1"),)
    assert adapter.send(PlayAudio(b"", mark="m2")) == Translation(events=(PlaybackMark("m2"),))


def test_stream_audio_out_is_stream_audio_json() -> None:
    adapter = started(METADATA, stream=True)
    out = adapter.send(PlayAudio(b"\x01\x00\xff\x7f", mark="m1"))
    assert out.replies == (
        '{"type":"streamAudio","data":{"audioDataType":"raw","sampleRate":16000,'
        '"audioData":"AQD/fw=="}}',
    )
    assert out.events == (PlaybackMark("m1"),)


def audio_of(reply: str | bytes) -> bytes:
    data = json.loads(reply)["data"]
    return base64.b64decode(data.get("audioContent") or data["audioData"])


def test_frames_are_grouped_into_200_ms_files_and_flushed_at_the_mark() -> None:
    adapter = started()  # 16 kHz: 640 bytes per 20 ms, 6400 per 200 ms
    frames = [bytes([i]) * 640 for i in range(25)]
    sent: list[str | bytes] = []
    for index, frame in enumerate(frames):
        out = adapter.send(PlayAudio(frame))
        assert out.events == ()
        assert len(out.replies) == (1 if index in (9, 19) else 0)
        sent += out.replies
    out = adapter.send(PlayAudio(b"", mark="end"))
    sent += out.replies
    assert out.events == (PlaybackMark("end"),)
    assert [len(audio_of(r)) for r in sent] == [6400, 6400, 3200]
    assert b"".join(audio_of(r) for r in sent) == b"".join(frames)


def test_chunk_ms_from_the_metadata() -> None:
    adapter = started('{"call_id":"c1","chunk_ms":20}')
    out = adapter.send(PlayAudio(b"\x00" * 640))
    assert [len(audio_of(r)) for r in out.replies] == [320, 320]


def test_barge_in_drops_the_unsent_audio_and_kills_playback() -> None:
    adapter = started()
    adapter.send(PlayAudio(b"\x05" * 640))
    assert adapter.send(ClearAudio()).replies == ('{"type":"killAudio"}',)
    assert adapter.send(PlayAudio(b"", mark="m")).replies == ()
    stream = started(METADATA, stream=True)
    assert stream.send(ClearAudio()).replies == ('{"type":"killAudio"}',)


@pytest.mark.parametrize("stream", [False, True])
def test_transfer_flushes_audio_then_asks_the_hook_and_closes(stream: bool) -> None:
    adapter = started('{"call_id":"c1"}', stream=stream)
    adapter.send(PlayAudio(b"\x01\x00"))
    out = adapter.send(TransferCall("billing", {"reason": "asked", "summary": "счёт"}))
    assert out.close
    assert len(out.replies) == 2 and audio_of(out.replies[0]) == b"\x01\x00"
    assert json.loads(out.replies[1]) == {
        "type": "transfer",
        "data": {"target": "billing", "context": {"reason": "asked", "summary": "счёт"}},
    }
    assert isinstance(out.replies[1], str) and out.replies[1].isascii()


@pytest.mark.parametrize("stream", [False, True])
def test_hangup_is_disconnect_and_close(stream: bool) -> None:
    out = started(stream=stream).send(Hangup("done"))
    assert out == Translation(
        replies=('{"type":"disconnect","data":{"reason":"done"}}',), close=True
    )


def test_informational_events() -> None:
    fork, stream = started(), started(stream=True)
    assert fork.send(CallerHeard("алло", final=True)).replies == (
        '{"type":"transcription","data":{"text":"\\u0430\\u043b\\u043b\\u043e"}}',
    )
    assert fork.send(CallerHeard("ал", final=False)) == Translation()
    assert stream.send(CallerHeard("алло", final=True)) == Translation()
    assert fork.send(BotSaid("Здравствуйте", "greeting")) == Translation()


def test_nothing_is_sent_before_the_call_starts() -> None:
    assert new_fork_adapter().send(PlayAudio(b"\x00\x00", mark="m")) == Translation()


def test_refuse_sends_an_error_message() -> None:
    error = ProtocolError("bad_json", "not JSON: Expecting value")
    assert new_fork_adapter().refuse(error) == (
        '{"type":"error","data":{"code":"bad_json","message":"not JSON: Expecting value"}}',
    )
