"""Shared fixtures: knowledge bases written from literals, a fake-backed matcher, the real model.

Unit tests of pure logic use `HashingEmbedder` and `IdentityLemmatizer` (same protocols as the
real engines). Integration tests use the real embedding model and lemmatiser, built once per
session; they are skipped when the model is not installed.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from playwright.sync_api import Browser

from voicebot.config import Settings
from voicebot.embedding import Embedder, HashingEmbedder
from voicebot.knowledge import KnowledgeBase, load_knowledge_base
from voicebot.matcher import Matcher
from voicebot.text import IdentityLemmatizer

REPO = Path(__file__).resolve().parents[1]
DEFAULT_KB = REPO / "knowledge_base"
MODELS_DIR = REPO / "models"
EMBEDDING_MODEL = "multilingual-e5-small-q4-ru"
MODEL_DIR = MODELS_DIR / "store" / EMBEDDING_MODEL
MODEL_MISSING_REASON = (
    f"embedding model not installed in {MODEL_DIR}; run "
    f"`voicebot models download {EMBEDDING_MODEL} --mirror ../shared/models`"
)
# Embedding and classifier caches are content-addressed (model id + text / training data), so the
# project's own git-ignored cache is safe to share and keeps the suite fast after the first run.
CACHE_DIR = Path(os.environ.get("VOICEBOT_TEST_CACHE_DIR", str(REPO / ".cache" / "voicebot")))

# The small hotline used by unit tests: every name here is asserted on somewhere.
SMALL_BOT: dict[str, Any] = {
    "name": "Тестовая линия",
    "language": "ru",
    "greeting": "Здравствуйте, это тестовая линия. Чем могу помочь?",
    "topics": {
        "billing": {"title": "Оплата и баланс"},
        "tech": {"title": "Техподдержка"},
        "complaints": {"title": "Жалобы", "priority": 2},
    },
    "thresholds": {"answer": 0.6, "clarify": 0.45, "margin": 0.04},
}
SMALL_FAQ: dict[str, list[dict[str, Any]]] = {
    "billing.yaml": [
        {
            "id": "balance-check",
            "topic": "billing",
            "title": "проверка баланса",
            "questions": [
                "как узнать баланс",
                "сколько денег на счету",
                "проверить остаток средств",
            ],
            "answer": "Баланс можно узнать в личном кабинете.",
        },
        {
            "id": "payment-methods",
            "topic": "billing",
            "title": "способы оплаты",
            "questions": [
                "как оплатить интернет",
                "где внести оплату",
                "способы оплаты услуг",
                "оплатить интернет картой",
            ],
            "answer": "Оплатить можно картой на сайте.",
        },
    ],
    "tech.yaml": [
        {
            "id": "internet-down",
            "topic": "tech",
            "title": "неработающий интернет",
            "questions": ["не работает интернет", "пропал интернет", "роутер горит красным"],
            "answer": "Перезагрузите роутер.",
        },
    ],
    "complaints.yaml": [
        {
            "id": "complaint",
            "topic": "complaints",
            "title": "жалоба",
            "questions": ["хочу оставить жалобу", "жалоба на мастера"],
            "answer": "Жалобу передам специалисту.",
            "escalate": True,
        },
    ],
}

WriteKb = Callable[..., Path]


def _write(path: Path, content: object) -> None:
    """Raw text as is; anything else dumped as YAML."""
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_text(
            yaml.safe_dump(content, allow_unicode=True, sort_keys=False), encoding="utf-8"
        )


@pytest.fixture
def write_kb(tmp_path: Path) -> WriteKb:
    """`write_kb(faq, bot=SMALL_BOT, name="kb")`: a KB directory from literals.

    `faq` maps file names under faq/ to entry lists (or raw YAML text); `bot` is bot.yaml's
    mapping (or raw text), or None for no bot.yaml. `faq=None` makes no faq directory.
    """

    def write(faq: Mapping[str, object] | None, bot: object = SMALL_BOT, name: str = "kb") -> Path:
        root = tmp_path / name
        root.mkdir(parents=True, exist_ok=True)
        if bot is not None:
            _write(root / "bot.yaml", bot)
        if faq is not None:
            (root / "faq").mkdir(exist_ok=True)
            for file_name, content in faq.items():
                _write(root / "faq" / file_name, content)
        return root

    return write


@pytest.fixture
def small_kb_dir(write_kb: WriteKb) -> Path:
    """The small hotline on disk."""
    return write_kb(SMALL_FAQ)


@pytest.fixture
def small_kb(small_kb_dir: Path) -> KnowledgeBase:
    """The small hotline, loaded."""
    return load_knowledge_base(small_kb_dir)


@pytest.fixture
def hashing_embedder() -> HashingEmbedder:
    """The deterministic fake embedder (counts its calls)."""
    return HashingEmbedder()


@pytest.fixture
def fake_matcher(
    small_kb: KnowledgeBase, hashing_embedder: HashingEmbedder, tmp_path: Path
) -> Matcher:
    """A matcher over the small hotline with the fake embedder and the identity lemmatiser."""
    return Matcher(small_kb, hashing_embedder, IdentityLemmatizer(), cache_dir=tmp_path / "cache")


# --- the real model (integration) -------------------------------------------------------------


@pytest.fixture(scope="session")
def real_settings() -> Settings:
    """Settings pointing at the repository's model store and the shared cache."""
    if not (MODEL_DIR / "modules.json").exists():
        pytest.skip(MODEL_MISSING_REASON)
    return Settings(models_dir=MODELS_DIR, cache_dir=CACHE_DIR, kb_dir=DEFAULT_KB)


@pytest.fixture(scope="session")
def real_embedder(real_settings: Settings) -> Embedder:
    """The real sentence-embedding model, loaded once per session."""
    from voicebot.composition import build_embedder

    return build_embedder(real_settings)


@pytest.fixture(scope="session")
def real_matcher(real_settings: Settings, real_embedder: Embedder) -> Matcher:
    """The real matcher (real embedder, pymorphy3) over the default knowledge base."""
    from voicebot.composition import build_matcher

    return build_matcher(real_settings, load_knowledge_base(DEFAULT_KB), embedder=real_embedder)


@pytest.fixture
def real_cli_env(
    real_settings: Settings, real_embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """CLI commands read Settings from the environment; point them at the real model and share
    the session's loaded embedder (the same real model, loaded once) instead of reloading it."""
    import voicebot.composition

    monkeypatch.setenv("VOICEBOT_MODELS_DIR", str(MODELS_DIR))
    monkeypatch.setenv("VOICEBOT_CACHE_DIR", str(CACHE_DIR))
    monkeypatch.setenv("VOICEBOT_KB_DIR", str(DEFAULT_KB))
    monkeypatch.setattr(voicebot.composition, "build_embedder", lambda settings: real_embedder)
    yield


# --- web pages in a real headless Chromium (Debian's `chromium`, driven by Playwright) ------

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",  # this machine's closed network refuses them anyway
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Chromium for one test module (Playwright's sync API must not outlive it: other modules
    run their own asyncio loops); skipped with the fix when it is not installed."""
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM}: apt-get install chromium (scripts/setup does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        launched.close()
