"""Russian text normalisation for matching: case, ё, links, punctuation, numbers, fillers, stop words.

Pure functions; the lemmatiser is injected (see `Lemmatizer`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Protocol

_URL = re.compile(
    r"(?:https?://|www\.)\S+|\b[\w.-]+\.(?:ru|com|рф|net|org)(?:/\S*)?", re.IGNORECASE
)
# Phone numbers with separators («+7 916 123-45-67», «8 (800) 555 35 35») identify, they do not ask.
_PHONE = re.compile(r"(?<!\d)(?:\+7|8)[\s(-]*\d{3}[\s)-]*\d{3}[\s-]*\d{2}[\s-]*\d{2}(?!\d)")
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+\.[\w.]+\b")
_NUMBER = re.compile(r"\d+")
_NON_WORD = re.compile(r"[^\w\s]|_")
_SPACES = re.compile(r"\s+")

# Greetings, politeness and speech fillers: they carry no question. Multi-word ones first.
FILLER_PHRASES = (
    "доброго времени суток",
    "добрый день",
    "добрый вечер",
    "доброе утро",
    "молодой человек",
    "будьте добры",
    "будьте любезны",
    "скажите пожалуйста",
    "подскажите пожалуйста",
    "я хотел бы узнать",
    "я хотела бы узнать",
    "хотел бы узнать",
    "хотела бы узнать",
    "у меня вопрос",
    "такой вопрос",
    "вопрос такой",
    "можно вопрос",
    "вот такой вопрос",
    "как бы",
    "в общем",
    "это самое",
    "значит так",
    "слушайте пожалуйста",
)
FILLER_WORDS = frozenset(
    "алло але алле ало здравствуйте здрасте здрасьте здравствуй привет приветствую девушка "
    "подскажите скажите пожалуйста пожалуйста спасибо благодарю ну вот короче слушайте "
    "слушай извините простите э эм ээ эээ ммм мм кхм хм ой ага угу типа блин".split()
)
# Function words that carry no topic; kept out of the lexical score only.
STOP_WORDS = frozenset(
    "а и в во на к ко с со у о об от до по за из изо для при про без над под же ли бы б то "
    "что чтобы как так это этот эта эти тот та те там тут здесь вы вас вам ваш ваша ваше ваши "
    "я мне меня мой моя мое мои мы нас нам наш наша наше наши он она оно они его ее их им "
    "ему ей ним ней мной мною себя свой своя свое свои есть быть был была было были будет "
    "уже еще ещё вот ну тоже также или либо но да нет не ни если когда где куда почему "
    "зачем какой какая какое какие который которая которое которые можно нужно надо "
    "хочу хотел хотела хотим хотелось могу можете может мочь сейчас теперь просто очень "
    "все всё весь вся всего всех тогда потом".split()
)


class Lemmatizer(Protocol):
    """Maps a lowercase word to its dictionary form."""

    def lemma(self, word: str) -> str:
        """The dictionary form of `word`."""
        ...


class IdentityLemmatizer:
    """A lemmatiser that returns words unchanged (for tests of pure logic)."""

    def lemma(self, word: str) -> str:
        """Return `word` itself."""
        return word


def _default_number_words(number: int) -> str:
    from num2words import num2words

    return str(num2words(number, lang="ru"))


def normalize(text: str, number_words: Callable[[int], str] = _default_number_words) -> str:
    """Lowercase, ё→е, drop links and e-mails, short numbers to words, punctuation to spaces, fillers out."""
    text = text.lower().replace("ё", "е")
    text = _EMAIL.sub(" ", text)
    text = _URL.sub(" ", text)
    text = _PHONE.sub(" ", text)

    def spell(match: re.Match[str]) -> str:
        digits = match.group(0)
        # Order, contract and phone numbers identify, they do not ask: drop them.
        return f" {number_words(int(digits))} " if len(digits) <= 4 else " "

    text = _NUMBER.sub(spell, text)
    text = _NON_WORD.sub(" ", text)
    text = f" {_SPACES.sub(' ', text).strip()} "
    for phrase in FILLER_PHRASES:
        while f" {phrase} " in text:  # «добрый день добрый день»: every occurrence
            text = text.replace(f" {phrase} ", " ")
    words = [w for w in text.split() if w not in FILLER_WORDS]
    return " ".join(words)


def content_lemmas(normalized: str, lemmatizer: Lemmatizer) -> list[str]:
    """Lemmas of the words that carry meaning (stop words dropped), in order."""
    lemmas = []
    for word in normalized.split():
        if word in STOP_WORDS:
            continue
        lemma = lemmatizer.lemma(word)
        if lemma not in STOP_WORDS:
            lemmas.append(lemma)
    return lemmas
