"""silero-vad on onnxruntime (no torch): one model per process, one detector per call.

The ONNX model ships inside the `silero_vad` wheel (`silero_vad/data/silero_vad.onnx`, the
opset-16 model that takes both 8 kHz and 16 kHz). It is fed exactly as silero-vad's own
`OnnxWrapper` feeds it: float32 samples in [-1, 1], each window of 256 samples (8 kHz) or 512
(16 kHz) preceded by the last 32 / 64 samples of the previous window (zeros at the start), an
LSTM state tensor of shape (2, 1, 128) carried from window to window, and the sample rate as
an int64 scalar. The per-call part (state, context, unfinished window) lives in the detector,
so many detectors can share one `InferenceSession` from many threads.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnxruntime

from voicebot.audio import Resampler
from voicebot.errors import ModelMissingError, ModelStoreError

MODEL_FILE = "silero_vad.onnx"
MODEL_RATES = (8000, 16000)
WINDOW_SAMPLES = {8000: 256, 16000: 512}
CONTEXT_SAMPLES = {8000: 32, 16000: 64}
STATE_SHAPE = (2, 1, 128)


def packaged_model_path() -> Path:
    """The ONNX model inside the installed `silero_vad` package.

    Located without importing the package: its `__init__` imports torch, which the runtime does
    not need and which takes seconds and hundreds of MB to load.
    """
    spec = importlib.util.find_spec("silero_vad")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        path = Path(location) / "data" / MODEL_FILE
        if path.is_file():
            return path
    raise ModelMissingError(
        f"silero-vad model {MODEL_FILE} not found (package silero_vad "
        f"{'at ' + ', '.join(locations) if locations else 'not installed'}); "
        "install it with `pip install 'silero-vad>=5.1'`"
    )


class SileroVadModel:
    """The silero-vad ONNX model: one InferenceSession per process, shared by all calls."""

    def __init__(self, path: Path | None = None) -> None:
        """Load the model at `path` (default: the one packaged with silero-vad)."""
        self.path = path or packaged_model_path()
        if not self.path.is_file():
            raise ModelMissingError(f"silero-vad model not found at {self.path}")
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # errors only (no "removing unused initializer" noise)
        try:
            self._session = onnxruntime.InferenceSession(
                str(self.path), sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:
            raise ModelStoreError(f"cannot load silero-vad model {self.path}: {exc}") from exc
        names = {i.name for i in self._session.get_inputs()}
        if names != {"input", "state", "sr"}:
            raise ModelStoreError(
                f"{self.path} is not a silero-vad v5+ model with inputs input/state/sr "
                f"(has {sorted(names)}); use {MODEL_FILE}"
            )

    def initial_state(self) -> npt.NDArray[np.float32]:
        """A fresh recurrent state for one stream."""
        return np.zeros(STATE_SHAPE, dtype=np.float32)

    def probability(
        self, window: npt.NDArray[np.float32], state: npt.NDArray[np.float32], sample_rate: int
    ) -> tuple[float, npt.NDArray[np.float32]]:
        """Speech probability of one window (context samples + window samples, shape (1, n)).

        Returns the probability and the next state; nothing is kept here (thread-safe).
        """
        inputs: dict[str, Any] = {
            "input": window,
            "state": state,
            "sr": np.array(sample_rate, dtype=np.int64),
        }
        output, new_state = self._session.run(None, inputs)
        return float(output[0, 0]), np.asarray(new_state, dtype=np.float32)


class SileroSpeechDetector:
    """SpeechDetector for one call: PCM16 at the call's rate -> (seconds, probability) per window.

    8 kHz and 16 kHz audio goes to the model as it is; any other rate is resampled to 16 kHz.
    Every window lasts 32 ms; audio that does not fill a window waits for the next `feed`.
    """

    def __init__(self, model: SileroVadModel, sample_rate: int) -> None:
        """A detector for audio at `sample_rate` Hz using the shared `model`."""
        if sample_rate <= 0:
            raise ValueError(f"sample rate must be positive, got {sample_rate}")
        self.model = model
        self.sample_rate = sample_rate
        self.model_rate = sample_rate if sample_rate in MODEL_RATES else 16000
        self.window = WINDOW_SAMPLES[self.model_rate]
        self.window_seconds = self.window / self.model_rate
        self._context_size = CONTEXT_SAMPLES[self.model_rate]
        self.reset()

    def reset(self) -> None:
        """Forget the recurrent state, the context and any unfinished window."""
        self._state = self.model.initial_state()
        self._context = np.zeros((1, self._context_size), dtype=np.float32)
        self._pending = np.zeros(0, dtype=np.float32)
        self._resampler = (
            Resampler(self.sample_rate, self.model_rate)
            if self.model_rate != self.sample_rate
            else None
        )

    def feed(self, pcm: bytes) -> list[tuple[float, float]]:
        """Analyse the next audio; one (window_seconds, probability) pair per complete window."""
        if len(pcm) % 2:
            raise ValueError(f"PCM16 audio must have an even number of bytes, got {len(pcm)}")
        if self._resampler is not None:
            pcm = self._resampler.process(pcm)
        samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
        buffered = np.concatenate([self._pending, samples]) if len(self._pending) else samples
        results: list[tuple[float, float]] = []
        end = len(buffered) - len(buffered) % self.window
        for start in range(0, end, self.window):
            chunk = buffered[start : start + self.window].reshape(1, -1)
            window = np.concatenate([self._context, chunk], axis=1)
            probability, self._state = self.model.probability(window, self._state, self.model_rate)
            self._context = window[:, -self._context_size :]
            results.append((self.window_seconds, probability))
        self._pending = buffered[end:].copy()
        return results
