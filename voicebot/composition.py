"""The composition root for the core: the only module besides the app factory that imports engines."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from voicebot.config import Settings
from voicebot.embedding import Embedder
from voicebot.knowledge import KnowledgeBase, Thresholds
from voicebot.matcher import FusionSettings, Matcher
from voicebot.model_store import ModelStore, load_manifest


def embedding_model_dir(settings: Settings) -> Path:
    """The embedding model's directory; ModelMissingError with the fix command when absent."""
    if settings.embedding_model_path is not None:
        return settings.embedding_model_path
    store = ModelStore(settings.store_dir, load_manifest(settings.manifest_path))
    return store.path_of(settings.embedding_model)


def build_embedder(settings: Settings) -> Embedder:
    """Load the sentence-embedding engine (fails fast when the model is missing)."""
    from voicebot.engines.sentence_embedder import SentenceTransformerEmbedder

    if settings.torch_threads:
        import torch

        torch.set_num_threads(settings.torch_threads)
    return SentenceTransformerEmbedder(embedding_model_dir(settings))


def load_background() -> list[str]:
    """Generic out-of-scope Russian utterances shipped with the package (one per line)."""
    resource = files("voicebot") / "data" / "background_ru.txt"
    if not resource.is_file():
        return []
    return [
        line.strip() for line in resource.read_text(encoding="utf-8").splitlines() if line.strip()
    ]


def build_matcher(
    settings: Settings,
    kb: KnowledgeBase,
    *,
    embedder: Embedder | None = None,
    fusion: FusionSettings | None = None,
    thresholds: Thresholds | None = None,
) -> Matcher:
    """A matcher over `kb` with the real lemmatiser and embedder (the embedder may be shared)."""
    from voicebot.engines.morphology import PymorphyLemmatizer

    return Matcher(
        kb,
        embedder or build_embedder(settings),
        PymorphyLemmatizer(),
        cache_dir=settings.cache_dir,
        fusion=fusion,
        thresholds=thresholds,
        background=load_background(),
    )
