"""espeak-ng (the Debian command): the fallback voice when no Piper voice is installed."""

from __future__ import annotations

import io
import shutil
import subprocess
import wave

from voicebot.errors import ConfigError, VoicebotError

INSTALL_HINT = (
    "install the Debian package `espeak-ng` (apt-get install espeak-ng), or install a Piper "
    "voice: `voicebot models download ru_RU-irina-medium`"
)


class SynthesisError(VoicebotError):
    """The voice failed to synthesise a phrase."""

    code = "synthesis_failed"


class EspeakSynthesizer:
    """espeak-ng run once per phrase (`--stdout` WAV); thread-safe, robotic but always there."""

    def __init__(
        self,
        voice: str = "ru",
        *,
        rate_wpm: int = 160,
        executable: str = "espeak-ng",
        timeout: float = 30.0,
    ) -> None:
        """Check that espeak-ng and `voice` exist (ConfigError with the fix otherwise)."""
        found = shutil.which(executable)
        if found is None:
            raise ConfigError(
                f"espeak-ng not found ({executable!r} is not on PATH): {INSTALL_HINT}"
            )
        self._command = [found, "-v", voice, "-s", str(rate_wpm), "--stdin", "--stdout"]
        self._timeout = timeout
        self._voice = voice
        self._rate_wpm = rate_wpm
        try:
            version = subprocess.run(
                [found, "--version"], capture_output=True, timeout=timeout, check=True
            ).stdout.decode("utf-8", "replace")
        except (OSError, subprocess.SubprocessError) as exc:
            raise ConfigError(f"espeak-ng does not run ({found}): {exc}") from exc
        self._version = version.split("Data at")[0].replace("eSpeak NG text-to-speech:", "").strip()
        self._sample_rate = 22050
        try:
            self._sample_rate, _ = self._run("а")
        except SynthesisError as exc:
            raise ConfigError(f"espeak-ng cannot speak with voice {voice!r}: {exc}") from exc

    @property
    def voice_id(self) -> str:
        """espeak-ng version, voice and speed."""
        return f"espeak-ng:{self._version}:{self._voice}:{self._rate_wpm}wpm"

    @property
    def sample_rate(self) -> int:
        """espeak-ng's rate (22050 Hz)."""
        return self._sample_rate

    def synthesize(self, text: str) -> bytes:
        """Mono PCM16 of normalised `text`."""
        if not text.strip():
            return b""
        rate, pcm = self._run(text)
        if rate != self._sample_rate:
            raise SynthesisError(f"espeak-ng changed its rate from {self._sample_rate} to {rate}")
        return pcm

    def _run(self, text: str) -> tuple[int, bytes]:
        try:
            done = subprocess.run(
                self._command,
                input=text.encode("utf-8"),
                capture_output=True,
                timeout=self._timeout,
                check=False,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            raise SynthesisError(f"espeak-ng failed: {exc}") from exc
        if done.returncode != 0:
            message = done.stderr.decode("utf-8", "replace").strip()
            raise SynthesisError(f"espeak-ng exited with {done.returncode}: {message}")
        try:
            with wave.open(io.BytesIO(done.stdout), "rb") as wav:
                if wav.getsampwidth() != 2 or wav.getnchannels() != 1:
                    raise SynthesisError("espeak-ng did not produce mono 16-bit audio")
                rate = wav.getframerate()
                # espeak-ng streams: its header claims ~2**31 frames; read what is there.
                pcm = wav.readframes(wav.getnframes())
        except (wave.Error, EOFError) as exc:
            raise SynthesisError(f"espeak-ng produced no valid WAV: {exc}") from exc
        return rate, pcm[: len(pcm) - len(pcm) % 2]
