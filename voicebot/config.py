"""Settings from the environment (prefix VOICEBOT_) with defaults that work from the repository root."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything configurable; read once at start-up and passed down."""

    model_config = SettingsConfigDict(env_prefix="VOICEBOT_", extra="ignore")

    kb_dir: Path = Path("knowledge_base")
    models_dir: Path = Path("models")
    embedding_model: str = "multilingual-e5-small-q4-ru"
    # A sentence-transformers directory used as is, instead of the model store.
    embedding_model_path: Path | None = None
    cache_dir: Path = Path(".cache/voicebot")
    # Torch CPU threads for the embedding model (None: torch's default).
    torch_threads: int | None = None
    # Speech recognition: a Vosk model from the store, or a Vosk model folder used as is.
    asr_model: str = "vosk-model-small-ru-0.22"
    asr_model_path: Path | None = None
    # Speech output: the first installed Piper voice of this list, or a voice file used as is;
    # without one, the espeak-ng voice `espeak_voice` (with a warning at start-up).
    tts_voices: tuple[str, ...] = (
        "ru_RU-irina-medium",
        "ru_RU-denis-medium",
        "ru_RU-dmitri-medium",
        "ru_RU-ruslan-medium",
    )
    tts_voice_path: Path | None = None
    espeak_voice: str = "ru"
    # Where calls are recorded: a SQLAlchemy URL (SQLite file in data_dir by default).
    database_url: str | None = None
    data_dir: Path = Path(".data")
    # The PBX WebSocket bridge.
    bridge_host: str = "127.0.0.1"
    bridge_port: int = 8080
    bridge_token: str = ""
    # The operator queue: escalated calls wait in it (hearing the estimated wait, with a callback
    # on request) until an operator takes them in the console. Off: transfer at once.
    operator_queue: bool = True
    vip_list: Path | None = None  # a CSV/text file of VIP callers' numbers
    mask_pii: Literal["none", "partial", "full"] = "partial"  # the caller's words on the card
    # The operator console (/console): cookies over https only, extra Origins allowed besides
    # the Host's own, and the header a reverse proxy puts the client's address in.
    console_secure_cookie: bool = False
    console_allowed_origins: tuple[str, ...] = ()
    console_client_address_header: str | None = None
    reports_timezone: str = "Europe/Moscow"  # reports bucket hours and days in this zone
    # Asterisk AudioSocket (TCP, no authentication of its own: keep it on a private network).
    audiosocket_host: str = "127.0.0.1"
    audiosocket_port: int | None = None  # e.g. 9092; unset: no AudioSocket server
    twilio_workflow_sid: str = ""  # Twilio TaskRouter workflow for transfers (else <Enqueue>)
    jambonz_sip_uri: str | None = None  # jambonz transfers dial this, e.g. sip:{queue}@pbx

    @property
    def manifest_path(self) -> Path:
        """The model manifest."""
        return self.models_dir / "manifest.toml"

    @property
    def store_dir(self) -> Path:
        """Where downloaded models are unpacked (git-ignored)."""
        return self.models_dir / "store"
