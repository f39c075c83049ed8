"""The composition root for the core: the only module besides the app factory that imports engines."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING

from voicebot.config import Settings
from voicebot.embedding import Embedder
from voicebot.knowledge import KnowledgeBase, Thresholds, load_knowledge_base
from voicebot.matcher import FusionSettings, Matcher
from voicebot.model_store import ModelStore, load_manifest

if TYPE_CHECKING:
    from voicebot.asr import RecognizerFactory
    from voicebot.call import CallEngines
    from voicebot.hold_line import HandoffDesk
    from voicebot.store import CallStore
    from voicebot.store.queue import QueueStore
    from voicebot.tts import SpeechOutput, Synthesizer

log = logging.getLogger("voicebot")


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


def build_speech_output(
    settings: Settings, language: str = "ru"
) -> tuple[SpeechOutput, str | None]:
    """The voice: a Piper voice when installed, else espeak-ng (with a warning to show).

    Russian text is normalised for speech (numbers, phones, dates, money, abbreviations);
    other languages are spoken as written."""
    from voicebot.engines.espeak import EspeakSynthesizer
    from voicebot.engines.piper import PiperSynthesizer, find_piper_voice
    from voicebot.tts import PhraseCache, SpeechOutput

    warning = None
    synthesizer: Synthesizer
    if settings.tts_voice_path is not None:
        synthesizer = PiperSynthesizer(settings.tts_voice_path)
    else:
        found = find_piper_voice(settings.store_dir, settings.manifest_path, settings.tts_voices)
        if found is not None:
            synthesizer = PiperSynthesizer(*found)
        else:
            synthesizer = EspeakSynthesizer(settings.espeak_voice)
            warning = (
                "no Piper voice installed: speaking with espeak-ng (robotic). Install one with "
                f"`voicebot models download {settings.tts_voices[0]}`"
            )
    cache = PhraseCache(settings.cache_dir / "speech", synthesizer)
    if language == "ru":
        return SpeechOutput(synthesizer, cache), warning
    return SpeechOutput(synthesizer, cache, normalize=str.strip), warning


def build_recognizers(settings: Settings) -> RecognizerFactory:
    """The Vosk model (fails fast with the download command when it is missing)."""
    from voicebot.engines.vosk import VoskModelFactory, find_vosk_model

    path = settings.asr_model_path or find_vosk_model(
        settings.store_dir, settings.manifest_path, settings.asr_model
    )
    return VoskModelFactory(path, name=path.name)


def build_call_engines(
    settings: Settings,
    *,
    recognizers: RecognizerFactory | None = None,
    kb: KnowledgeBase | None = None,
    calls: CallStore | None = None,
    queue: QueueStore | None = None,
    embedder: Embedder | None = None,
) -> CallEngines:
    """Everything calls share in one process: KB, matcher, policy, ASR, VAD, voice, the call
    store and the operator queue (the KB and stores are loaded or opened here unless given)."""
    from voicebot.call import CallEngines
    from voicebot.dialogue import DialoguePolicy
    from voicebot.engines.silero import SileroSpeechDetector, SileroVadModel
    from voicebot.store import CallStore, default_database_url
    from voicebot.store.queue import QueueStore

    kb = kb or load_knowledge_base(settings.kb_dir)
    recognizers = recognizers or build_recognizers(settings)
    matcher = build_matcher(settings, kb, embedder=embedder)
    speech, warning = build_speech_output(settings, kb.config.language)
    if warning:
        log.warning(warning)
    vad_model = SileroVadModel()
    database_url = settings.database_url or default_database_url(settings.data_dir)
    store = calls or CallStore(database_url)
    handoff = None
    policy = DialoguePolicy(kb)
    if settings.operator_queue:
        handoff = build_handoff_desk(settings, kb, store, queue or QueueStore(database_url))
        hours = handoff.hours
        policy = DialoguePolicy(
            kb, operators_working=lambda topic: hours.is_open(datetime.now(UTC), topic)
        )
    return CallEngines(
        matcher=matcher,
        policy=policy,
        recognizers=recognizers,
        new_detector=lambda rate: SileroSpeechDetector(vad_model, rate),
        speech=speech,
        recorder=store,
        handoff=handoff,
    )


def build_handoff_desk(
    settings: Settings, kb: KnowledgeBase, calls: CallStore, queue: QueueStore
) -> HandoffDesk:
    """The operator queue with the KB's hours and the card rules."""
    from voicebot.desk import build_desk
    from voicebot.handoff import load_vip_numbers

    vip = load_vip_numbers(settings.vip_list) if settings.vip_list else frozenset()
    return build_desk(
        kb,
        queue,
        calls.calls_from,
        lambda: datetime.now(UTC),
        vip_numbers=vip,
        mask_pii=settings.mask_pii,
        staffed=lambda: bool(queue.operators()),
        operator_results=queue.results_for_calls,
    )


def phrases_to_prepare(kb: KnowledgeBase) -> list[str]:
    """Everything the bot says from a knowledge base: answers, greeting and fixed prompts."""
    prompts = kb.config.prompts
    fixed = [
        getattr(prompts, name)
        for name in prompts.__dataclass_fields__
        if "{" not in getattr(prompts, name)
    ]
    return [
        kb.config.greeting,
        *fixed,
        *(entry.answer for entry in kb.entries),
        *queue_phrases(kb),
    ]


def queue_phrases(kb: KnowledgeBase) -> list[str]:
    """What the holding line can say: every wait phrase in its prompts, and the hours offers."""
    from voicebot.desk import working_hours
    from voicebot.wait_estimate import wait_phrase

    prompts = kb.config.prompts
    waits = dict.fromkeys(wait_phrase(s) for s in (None, *range(0, 2400, 30)))
    hours = working_hours(kb)
    topics = [None, *kb.config.topics]
    offers = dict.fromkeys(prompts.closed_offer.format(hours=hours.hours_phrase(t)) for t in topics)
    return [
        *(prompts.queue_joined.format(wait=w) for w in waits),
        *(prompts.queue_still_waiting.format(wait=w) for w in waits),
        *offers,
    ]


def check_models(settings: Settings) -> None:
    """Fail fast, before serving, when a model calls need is missing (the error names the fix)."""
    from voicebot.engines.vosk import find_vosk_model

    embedding_model_dir(settings)
    if settings.asr_model_path is None:
        find_vosk_model(settings.store_dir, settings.manifest_path, settings.asr_model)
