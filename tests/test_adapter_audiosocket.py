"""AudioSocket translation (pure): literal frames as Asterisk's res_audiosocket writes them."""

from __future__ import annotations

import pytest

from telephony_bridge.adapters.audiosocket import (
    HANGUP_FRAME,
    SPEC,
    AudioSocketAdapter,
    audio_frames,
)
from telephony_bridge.adapters.base import ProtocolError, Translation
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

# The identifier message of the audiosocket crate's documentation (docs.rs/audiosocket):
# kind 1, length 16, then the UUID 0436430c-2b02-624c-2032-570501212b57 as 16 raw bytes.
UUID_FRAME = bytes([1, 0, 16, 4, 54, 67, 12, 43, 2, 98, 76, 32, 50, 87, 5, 1, 33, 43, 87])
CALL_ID = "0436430c-2b02-624c-2032-570501212b57"
# The UUID of the Asterisk documentation's examples, 40325ec2-5efd-4bd3-805f-53576e581d13.
DOCS_UUID_FRAME = b"\x01\x00\x10" + bytes.fromhex("40325ec25efd4bd3805f53576e581d13")
PCM_8K = bytes(range(256)) + bytes(64)  # 320 bytes: one 20 ms frame of slin at 8 kHz
SLIN_FRAME = b"\x10\x01\x40" + PCM_8K  # kind 0x10, length 0x0140 = 320
PCM_16K = PCM_8K * 2  # 640 bytes: 20 ms of slin16
SLIN16_FRAME = b"\x12\x02\x80" + PCM_16K  # kind 0x12 (slin16), length 0x0280 = 640
DTMF_5 = b"\x03\x00\x01" + b"5"


def feed(adapter: AudioSocketAdapter, *chunks: bytes) -> list[object]:
    events: list[object] = []
    for chunk in chunks:
        events += adapter.receive(chunk).events
    return events


def started(rate: int = 8000) -> AudioSocketAdapter:
    adapter = AudioSocketAdapter()
    feed(adapter, UUID_FRAME, SLIN_FRAME if rate == 8000 else SLIN16_FRAME)
    return adapter


def error_code(adapter: AudioSocketAdapter, chunk: bytes) -> str:
    with pytest.raises(ProtocolError) as caught:
        adapter.receive(chunk)
    return caught.value.code


def test_spec_is_a_tcp_protocol() -> None:
    assert (SPEC.name, SPEC.path) == ("audiosocket", None)
    assert isinstance(SPEC.new(), AudioSocketAdapter)


def test_uuid_then_first_audio_frame_starts_the_call() -> None:
    adapter = AudioSocketAdapter()
    assert adapter.receive(UUID_FRAME) == Translation()  # the rate is not known yet
    assert feed(adapter, SLIN_FRAME) == [
        CallStarted(CALL_ID, "", "", 8000, "slin"),
        AudioIn(PCM_8K),
    ]
    assert feed(adapter, SLIN_FRAME) == [AudioIn(PCM_8K)]


def test_call_id_is_the_canonical_uuid_string() -> None:
    events = feed(AudioSocketAdapter(), DOCS_UUID_FRAME + SLIN_FRAME)
    assert isinstance(events[0], CallStarted)
    assert events[0].call_id == "40325ec2-5efd-4bd3-805f-53576e581d13"


def test_frames_split_across_chunks_are_reassembled() -> None:
    stream = UUID_FRAME + SLIN_FRAME + DTMF_5 + SLIN_FRAME
    adapter = AudioSocketAdapter()
    events = feed(adapter, *(stream[i : i + 1] for i in range(len(stream))))
    assert events == [
        CallStarted(CALL_ID, "", "", 8000, "slin"),
        AudioIn(PCM_8K),
        DtmfIn("5"),
        AudioIn(PCM_8K),
    ]


def test_several_frames_in_one_chunk() -> None:
    chunk = UUID_FRAME + SLIN_FRAME + SLIN_FRAME + SLIN_FRAME[:100]
    adapter = AudioSocketAdapter()
    assert feed(adapter, chunk) == [
        CallStarted(CALL_ID, "", "", 8000, "slin"),
        AudioIn(PCM_8K),
        AudioIn(PCM_8K),
    ]
    assert feed(adapter, SLIN_FRAME[100:]) == [AudioIn(PCM_8K)]


def test_slin16_frames_make_a_16_khz_call() -> None:
    adapter = AudioSocketAdapter()
    assert feed(adapter, UUID_FRAME, SLIN16_FRAME) == [
        CallStarted(CALL_ID, "", "", 16000, "slin16"),
        AudioIn(PCM_16K),
    ]
    sent = adapter.send(PlayAudio(PCM_16K))
    assert sent.replies == (SLIN16_FRAME,)


@pytest.mark.parametrize("kind", [0x11, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18])
def test_other_slin_rates_are_refused(kind: int) -> None:
    adapter = AudioSocketAdapter()
    adapter.receive(UUID_FRAME)
    assert error_code(adapter, bytes([kind, 0x01, 0x40]) + bytes(320)) == "bad_rate"


def test_a_rate_change_mid_call_is_refused() -> None:
    assert error_code(started(8000), SLIN16_FRAME) == "rate_changed"


def test_keys_pressed_before_any_audio_wait_for_the_call_to_start() -> None:
    adapter = AudioSocketAdapter()
    assert feed(adapter, UUID_FRAME, DTMF_5, b"\x03\x00\x01#") == []
    assert feed(adapter, SLIN_FRAME) == [
        CallStarted(CALL_ID, "", "", 8000, "slin"),
        DtmfIn("5"),
        DtmfIn("#"),
        AudioIn(PCM_8K),
    ]


def test_too_many_keys_before_audio_are_refused() -> None:
    adapter = AudioSocketAdapter()
    adapter.receive(UUID_FRAME + DTMF_5 * 32)
    assert error_code(adapter, DTMF_5) == "expected_audio"


def test_dtmf_digits() -> None:
    adapter = started()
    assert feed(adapter, DTMF_5, b"\x03\x00\x01*", b"\x03\x00\x01D") == [
        DtmfIn("5"),
        DtmfIn("*"),
        DtmfIn("D"),
    ]
    assert error_code(started(), b"\x03\x00\x01x") == "bad_field"
    assert error_code(started(), b"\x03\x00\x0212") == "bad_frame"


def test_hangup_frame_ends_the_call_and_what_follows_is_ignored() -> None:
    adapter = started()
    assert feed(adapter, b"\x00\x00\x00" + SLIN_FRAME) == [CallEnded("hangup")]
    assert adapter.receive(SLIN_FRAME + b"\x42\x00\x00") == Translation()


def test_hangup_before_any_audio_ends_the_call_without_start() -> None:
    assert feed(AudioSocketAdapter(), UUID_FRAME + b"\x00\x00\x00") == [CallEnded("hangup")]


def test_error_frame_ends_the_call_naming_the_code() -> None:
    # 0x01 is Asterisk's "hangup of calling party" error code.
    assert feed(started(), b"\xff\x00\x01\x01") == [CallEnded("pbx_error_0x01")]
    assert feed(started(), b"\xff\x00\x01\x04") == [CallEnded("pbx_error_0x04")]
    assert feed(started(), b"\xff\x00\x00") == [CallEnded("pbx_error")]


@pytest.mark.parametrize("kind", [0x02, 0x04, 0x0F, 0x19, 0x42, 0xFE])
def test_unknown_frame_type_is_refused_from_its_header(kind: int) -> None:
    assert error_code(started(), bytes([kind, 0x00, 0x05])) == "bad_frame"


@pytest.mark.parametrize("first", [SLIN_FRAME, DTMF_5])
def test_media_before_the_uuid_is_refused(first: bytes) -> None:
    assert error_code(AudioSocketAdapter(), first) == "expected_uuid"


def test_bad_uuid_frames() -> None:
    assert error_code(AudioSocketAdapter(), b"\x01\x00\x0f" + bytes(15)) == "bad_frame"
    adapter = AudioSocketAdapter()
    adapter.receive(UUID_FRAME)
    assert error_code(adapter, UUID_FRAME) == "bad_frame"


def test_text_is_not_audiosocket() -> None:
    with pytest.raises(ProtocolError) as caught:
        AudioSocketAdapter().receive("hello")
    assert caught.value.code == "bad_frame"


@pytest.mark.parametrize(
    "header",
    [
        b"\x10\x3e\x82",  # 16002 bytes: just over 1 s at 8 kHz
        b"\x10\xff\xff",  # the length field's maximum
        b"\x00\x01\x01",  # a 257-byte hang-up payload
        b"\xff\x10\x00",
    ],
)
def test_oversized_frames_are_refused_from_the_header(header: bytes) -> None:
    assert error_code(started(), header) == "frame_too_large"


def test_one_second_of_audio_is_the_largest_frame_accepted() -> None:
    adapter = started()
    assert feed(adapter, b"\x10\x3e\x80" + bytes(16000)) == [AudioIn(bytes(16000))]
    adapter16 = started(16000)
    assert feed(adapter16, b"\x12\x7d\x00" + bytes(32000)) == [AudioIn(bytes(32000))]


def test_odd_audio_length_is_refused() -> None:
    assert error_code(started(), b"\x10\x00\x03abc") == "bad_audio"


def test_audio_out_is_slin_frames_of_20_ms() -> None:
    adapter = started()
    sent = adapter.send(PlayAudio(PCM_8K))
    assert sent == Translation(replies=(SLIN_FRAME,))
    pcm = bytes(range(200)) * 4  # 800 bytes = 50 ms
    frames = adapter.send(PlayAudio(pcm)).replies
    assert frames == (
        b"\x10\x01\x40" + pcm[:320],
        b"\x10\x01\x40" + pcm[320:640],
        b"\x10\x00\xa0" + pcm[640:],
    )


def test_long_audio_is_split_within_the_length_field() -> None:
    frames = audio_frames(bytes(16000 * 2 * 3), 16000)  # 3 s at 16 kHz = 96000 bytes
    assert len(frames) == 150
    assert all(f[0] == 0x12 and int.from_bytes(f[1:3], "big") == 640 for f in frames)
    with pytest.raises(ValueError):
        audio_frames(b"\x00", 8000)


def test_marks_are_echoed_after_the_audio_is_sent() -> None:
    adapter = started()
    assert adapter.send(PlayAudio(b"", mark="m7")) == Translation(events=(PlaybackMark("m7"),))
    with_audio = adapter.send(PlayAudio(PCM_8K, mark="m8"))
    assert with_audio == Translation(events=(PlaybackMark("m8"),), replies=(SLIN_FRAME,))


def test_barge_in_and_informational_events_send_nothing() -> None:
    adapter = started()
    for event in (ClearAudio(), CallerHeard("алло", True), BotSaid("Здравствуйте", "greeting")):
        assert adapter.send(event) == Translation()


@pytest.mark.parametrize(
    "event", [TransferCall("billing", {"reason": "asked"}), Hangup("caller_finished")]
)
def test_transfer_and_hangup_end_the_stream_leg(event: TransferCall | Hangup) -> None:
    adapter = started()
    assert adapter.send(event) == Translation(replies=(b"\x00\x00\x00",), close=True)
    assert adapter.send(PlayAudio(PCM_8K)) == Translation()  # nothing after the hang-up


def test_nothing_is_sent_before_the_call_starts() -> None:
    adapter = AudioSocketAdapter()
    adapter.receive(UUID_FRAME)
    assert adapter.send(PlayAudio(PCM_8K, mark="m1")) == Translation()


def test_refusal_is_the_hangup_frame() -> None:
    error = ProtocolError("bad_frame", "unknown AudioSocket frame type 0x42")
    assert AudioSocketAdapter().refuse(error) == (HANGUP_FRAME,) == (b"\x00\x00\x00",)
