"""Settings from the environment (prefix VOICEBOT_) with defaults that work from the repository root."""

from __future__ import annotations

from pathlib import Path

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

    @property
    def manifest_path(self) -> Path:
        """The model manifest."""
        return self.models_dir / "manifest.toml"

    @property
    def store_dir(self) -> Path:
        """Where downloaded models are unpacked (git-ignored)."""
        return self.models_dir / "store"
