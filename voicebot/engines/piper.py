"""Piper voices (piper-tts, ONNX Runtime): the product's speech synthesiser."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

from voicebot.errors import ConfigError, ModelMissingError
from voicebot.model_store import ModelStatus, ModelStore, load_manifest


class PiperSynthesizer:
    """One loaded Piper voice; `synthesize` may be called from several threads at once.

    ONNX Runtime runs one inference per call with `threads` intra-op threads (default 1, so
    that concurrent calls share the CPU cores fairly instead of fighting over them); piper-tts
    serialises only the espeak-ng phonemiser. Durations are drawn at random by the voice
    (`noise_w_scale`), so two syntheses of one text differ slightly in length unless
    `noise_w_scale=0`; the phrase cache makes a phrase sound the same on every call anyway.
    """

    def __init__(
        self,
        model_path: Path,
        config_path: Path | None = None,
        *,
        length_scale: float | None = None,
        speaker_id: int | None = None,
        noise_scale: float | None = None,
        noise_w_scale: float | None = None,
        threads: int = 1,
    ) -> None:
        """Load the voice `model_path` (.onnx) with its config (default: `<model>.json`)."""
        import onnxruntime
        from piper import PiperVoice
        from piper.config import PiperConfig, SynthesisConfig

        config_path = config_path or model_path.with_name(model_path.name + ".json")
        for path in (model_path, config_path):
            if not path.is_file():
                raise ModelMissingError(
                    f"Piper voice file not found: {path}. Fix: `voicebot models download "
                    "ru_RU-irina-medium` or point VOICEBOT_TTS_VOICE_PATH at a voice's .onnx file "
                    "(its .onnx.json config next to it)"
                )
        config_bytes = config_path.read_bytes()
        try:
            config = PiperConfig.from_dict(json.loads(config_bytes))
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"bad Piper voice config {config_path}: {exc}") from exc
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
        try:
            session = onnxruntime.InferenceSession(
                str(model_path), sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise ConfigError(f"cannot load the Piper voice {model_path}: {exc}") from exc
        self._voice = PiperVoice(session=session, config=config)
        self._syn_config = SynthesisConfig(
            speaker_id=speaker_id,
            length_scale=length_scale,
            noise_scale=noise_scale,
            noise_w_scale=noise_w_scale,
        )
        self.model_path = model_path
        self.config_path = config_path
        settings = f"ls={length_scale},sid={speaker_id},ns={noise_scale},nw={noise_w_scale}"
        digest = hashlib.sha256(config_bytes).hexdigest()[:12]
        size = model_path.stat().st_size
        self._voice_id = f"piper:{model_path.stem}:{size}:{digest}:{settings}"
        self._sample_rate = int(config.sample_rate)

    @property
    def voice_id(self) -> str:
        """Model name, size, config digest and synthesis settings."""
        return self._voice_id

    @property
    def sample_rate(self) -> int:
        """The voice's rate (from its config; 22050 Hz for the medium voices)."""
        return self._sample_rate

    def synthesize(self, text: str) -> bytes:
        """Mono PCM16 of normalised `text` (Piper synthesises it sentence by sentence)."""
        if not text.strip():
            return b""
        chunks = self._voice.synthesize(text, self._syn_config)
        return b"".join(chunk.audio_int16_bytes for chunk in chunks)


def find_piper_voice(
    store_dir: Path, manifest_path: Path, names: Sequence[str]
) -> tuple[Path, Path] | None:
    """(model, config) of the first installed voice among `names` (all Russian Piper voices of
    the manifest when `names` is empty), or None when none is installed."""
    manifest = load_manifest(manifest_path)
    store = ModelStore(store_dir, manifest)
    candidates = list(names) or [
        m.name for m in manifest.models if m.kind == "tts" and m.language == "ru"
    ]
    for name in candidates:
        spec = manifest.get(name)
        if spec.kind != "tts":
            raise ConfigError(f"model {name!r} is a {spec.kind} model, not a voice")
        if store.status(name) != ModelStatus.INSTALLED:
            continue
        model = store.entry_path(name)
        config = model.with_name(model.name + ".json")
        if model.is_file() and config.is_file():
            return model, config
    return None
