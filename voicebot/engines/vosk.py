"""Streaming speech recognition with Vosk (Kaldi): one model per process, one recogniser per call.

`VoskModelFactory` loads a Vosk model folder once; `new_recognizer` makes a `VoskRecognizer`
(one `KaldiRecognizer`) per call. Recognisers share the model and may run in different threads
at the same time; one recogniser is used by one call at a time.

Confidence. With `max_alternatives > 0` Vosk returns an n-best list whose `confidence` is each
hypothesis' total log-likelihood (acoustic plus 0.9 x graph score, in nats), not a probability.
A softmax over the n-best scores gives each hypothesis' posterior within the list. The
transcript's `confidence` is the posterior of the best text (summed over n-best paths with that
text); a word's confidence is the posterior mass of the hypotheses holding that word at that time.
Measured on 118 Korean espeak-ng utterances through the telephone path (8 kHz, n-best 3; 40 came
out with CER <= 0.25), the best-text posterior separates right from wrong results with ROC AUC
0.83, the mean word confidence only 0.74, and Vosk's own MBR word confidences (mean, with
`max_alternatives=0`) 0.75; so the transcript uses the posterior. It saturates at 1.0 when the
lattice holds a single path. With `max_alternatives=0` Vosk returns the MBR one-best with
per-word confidences; then the transcript's confidence is their mean and there are no
alternatives.

`phrases` (hints from the knowledge base) are ignored: Vosk's only biasing mechanism is a
runtime grammar, which restricts recognition to the listed words and would make every question
outside the list unrecognisable.
"""

from __future__ import annotations

import json
import math
import re
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import vosk

from voicebot.audio import Resampler
from voicebot.errors import ModelMissingError, VoicebotError
from voicebot.events import Transcript
from voicebot.model_store import ModelStore, fix_command, load_manifest

DEFAULT_MODEL = "vosk-model-small-ru-0.22"
DEFAULT_SAMPLE_RATE = 16000

_SAMPLE_FREQUENCY = re.compile(r"^\s*--sample-frequency\s*=\s*([0-9.]+)", re.MULTILINE)


class RecognitionError(VoicebotError):
    """The speech engine failed while decoding audio."""

    code = "asr_failed"


def is_vosk_model_dir(path: Path) -> bool:
    """True if `path` looks like an unpacked Vosk model (has `am/` or `final.mdl`)."""
    return (path / "am").is_dir() or (path / "final.mdl").is_file()


def model_sample_rate(model_dir: Path) -> int:
    """The model's native rate: `--sample-frequency` of `conf/mfcc.conf`, else 16000."""
    conf = model_dir / "conf" / "mfcc.conf"
    try:
        text = conf.read_text(encoding="utf-8")
    except OSError:
        return DEFAULT_SAMPLE_RATE
    found = _SAMPLE_FREQUENCY.search(text)
    return int(float(found.group(1))) if found else DEFAULT_SAMPLE_RATE


def find_vosk_model(store_dir: Path, manifest_path: Path, name: str = DEFAULT_MODEL) -> Path:
    """The folder of an installed Vosk model (the one holding `am/` or `final.mdl`)."""
    store = ModelStore(store_dir, load_manifest(manifest_path))
    root = store.path_of(name)  # ModelMissingError with the fix when absent or damaged
    candidates = [root, *sorted(p for p in root.iterdir() if p.is_dir())]
    for candidate in candidates:
        if is_vosk_model_dir(candidate):
            return candidate
    raise ModelMissingError(
        f"model {name!r} in {root} is not a Vosk model folder (no am/ or final.mdl). "
        f"Fix: {fix_command(store.manifest.get(name))}"
    )


# --- results ----------------------------------------------------------------------------------


def _posteriors(scores: Sequence[float]) -> list[float]:
    """Softmax of log-likelihood scores (nats)."""
    top = max(scores)
    weights = [math.exp(s - top) for s in scores]
    total = sum(weights)
    return [w / total for w in weights]


def _word_posteriors(
    best: Sequence[dict[str, Any]],
    hypotheses: Sequence[Sequence[dict[str, Any]]],
    posteriors: Sequence[float],
) -> list[float]:
    """Each best word's confidence: posterior mass of the hypotheses with it at the same time."""
    confidences = []
    for word in best:
        middle = (float(word["start"]) + float(word["end"])) / 2
        mass = sum(
            posterior
            for words, posterior in zip(hypotheses, posteriors, strict=True)
            if any(
                w["word"] == word["word"] and float(w["start"]) <= middle <= float(w["end"])
                for w in words
            )
        )
        confidences.append(min(1.0, mass))
    return confidences


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def parse_result(raw: str) -> Transcript:
    """A final Transcript from Vosk's result JSON (n-best or MBR form)."""
    data = json.loads(raw)
    alternatives = data.get("alternatives")
    if alternatives is None:  # max_alternatives == 0: MBR one-best with word confidences
        text = str(data.get("text", "")).strip()
        mbr_words = tuple((str(w["word"]), float(w["conf"])) for w in data.get("result", ()))
        confidence = _mean([c for _w, c in mbr_words]) if text else 0.0
        return Transcript(text, True, confidence, (), mbr_words if text else ())
    ranked = sorted(alternatives, key=lambda a: -float(a.get("confidence", 0.0)))
    if not ranked or not str(ranked[0].get("text", "")).strip():
        return Transcript("", True, 0.0)
    posteriors = _posteriors([float(a.get("confidence", 0.0)) for a in ranked])
    hypotheses = [list(a.get("result", ())) for a in ranked]
    text = str(ranked[0]["text"]).strip()
    word_confidences = _word_posteriors(hypotheses[0], hypotheses, posteriors)
    words = tuple((str(w["word"]), c) for w, c in zip(hypotheses[0], word_confidences, strict=True))
    texts = [str(a.get("text", "")).strip() for a in ranked]
    confidence = min(1.0, sum(p for t, p in zip(texts, posteriors, strict=True) if t == text))
    lower = tuple(dict.fromkeys(t for t in texts[1:] if t and t != text))
    return Transcript(text, True, confidence, lower, words)


def parse_partial(raw: str) -> str:
    """The text of Vosk's partial result JSON."""
    return str(json.loads(raw).get("partial", "")).strip()


# --- the engine -------------------------------------------------------------------------------


class VoskRecognizer:
    """One call's streaming recogniser: PCM16 at the call's rate in, transcripts out."""

    def __init__(
        self,
        kaldi: vosk.KaldiRecognizer,
        model_rate: int,
        input_rate: int,
        release: Callable[[vosk.KaldiRecognizer], None] | None = None,
    ) -> None:
        """A recogniser on a (reset) Kaldi recogniser for audio at `input_rate`."""
        self.input_rate = input_rate
        self.model_rate = model_rate
        self._kaldi = kaldi
        self._release = release
        self._resampler = Resampler(input_rate, model_rate)
        self._partial = ""

    def close(self) -> None:
        """Reset and hand the Kaldi recogniser back to the factory's pool of warm ones."""
        release, self._release = self._release, None
        if release is not None:
            self._kaldi.Reset()
            release(self._kaldi)

    def accept(self, pcm: bytes) -> Transcript | None:
        """Feed audio; a partial when its text changed, a final at Vosk's endpoint, else None.

        Partials carry no confidence (0.0). An endpoint that heard nothing gives an empty final
        only if a partial was reported before it (so the caller can clear it), else None.
        """
        audio = self._resampler.process(pcm)
        if not audio:
            return None
        if self._feed(audio):
            reported = self._partial
            self._partial = ""
            result = parse_result(self._kaldi.Result())
            return result if result.text or reported else None
        partial = parse_partial(self._kaldi.PartialResult())
        if partial == self._partial:
            return None
        self._partial = partial
        return Transcript(partial, final=False, confidence=0.0)

    def finish(self) -> Transcript:
        """The final transcript of the utterance so far (text "" if none); resets for the next."""
        tail = self._resampler.flush()  # also resets the resampler's filter
        if tail:
            self._feed(tail)
        result = parse_result(self._kaldi.FinalResult())
        self._kaldi.Reset()
        self._partial = ""
        return result

    def _feed(self, audio: bytes) -> bool:
        try:
            return bool(self._kaldi.AcceptWaveform(audio))
        except Exception as exc:  # vosk raises a bare Exception
            raise RecognitionError(f"Vosk failed to decode audio: {exc}") from exc


class VoskModelFactory:
    """A Vosk model loaded once (per process); makes one `VoskRecognizer` per call."""

    def __init__(
        self,
        model_dir: Path,
        *,
        name: str,
        max_alternatives: int = 3,
        pool_size: int = 8,
        prewarm: int = 2,
    ) -> None:
        """Load the model in `model_dir`; `max_alternatives` n-best texts (0: MBR one-best).

        Vosk builds its decoding graph lazily inside each recogniser: a fresh one decodes about
        four times slower than a used one (bench/asr.py). Finished calls therefore hand their
        recogniser back (reset) to a pool of up to `pool_size`; `prewarm` are made at load.
        """
        if max_alternatives < 0:
            raise ValueError(f"max_alternatives must be >= 0, got {max_alternatives}")
        if not is_vosk_model_dir(model_dir):
            raise ModelMissingError(
                f"Vosk model {name!r} not found: {model_dir} has no am/ or final.mdl"
            )
        self._name = name
        self.model_dir = model_dir
        self.max_alternatives = max_alternatives
        self.sample_rate = model_sample_rate(model_dir)
        vosk.SetLogLevel(-1)
        try:
            self._model = vosk.Model(str(model_dir))
        except Exception as exc:  # vosk raises a bare Exception
            raise ModelMissingError(
                f"cannot load Vosk model {name!r} from {model_dir} (damaged?): {exc}"
            ) from exc

        self.pool_size = pool_size
        self._idle: list[vosk.KaldiRecognizer] = []
        self._lock = threading.Lock()
        silence = bytes(self.sample_rate * 2)  # one second
        for _ in range(min(prewarm, pool_size)):
            kaldi = self._new_kaldi()
            kaldi.AcceptWaveform(silence)
            kaldi.Reset()
            self._idle.append(kaldi)

    @property
    def name(self) -> str:
        """The model's name, for logs and /readyz."""
        return self._name

    @property
    def idle(self) -> int:
        """Warm recognisers waiting in the pool."""
        return len(self._idle)

    def new_recognizer(self, input_rate: int, phrases: Sequence[str] = ()) -> VoskRecognizer:
        """A recogniser for audio at `input_rate`; `phrases` are ignored (see module doc)."""
        with self._lock:
            kaldi = self._idle.pop() if self._idle else None
        if kaldi is None:
            kaldi = self._new_kaldi()
        return VoskRecognizer(kaldi, self.sample_rate, input_rate, self._give_back)

    def _new_kaldi(self) -> vosk.KaldiRecognizer:
        kaldi = vosk.KaldiRecognizer(self._model, float(self.sample_rate))
        kaldi.SetMaxAlternatives(self.max_alternatives)
        kaldi.SetWords(True)
        return kaldi

    def _give_back(self, kaldi: vosk.KaldiRecognizer) -> None:
        with self._lock:
            if len(self._idle) < self.pool_size:
                self._idle.append(kaldi)
