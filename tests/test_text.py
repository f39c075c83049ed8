"""Russian text normalisation for matching: pure functions tested with literals."""

from __future__ import annotations

from typing import ClassVar

import pytest

from voicebot.text import IdentityLemmatizer, content_lemmas, normalize


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Алло, девушка! Здравствуйте, у меня интернет не работает...",
            "у меня интернет не работает",
        ),
        ("Добрый день, скажите пожалуйста, как оплатить?", "как оплатить"),
        ("Доброго времени суток, будьте добры, баланс", "баланс"),
        ("ну вот как бы в общем интернет короче пропал", "интернет пропал"),
        ("эээ ммм ну тариф", "тариф"),
        ("алло алло", ""),
    ],
)
def test_fillers_and_greetings_are_removed(text: str, expected: str) -> None:
    assert normalize(text) == expected


def test_filler_phrase_inside_a_word_sequence_is_kept_when_not_a_whole_phrase() -> None:
    # «как бы» is a filler, «как быть» is a question.
    assert normalize("как быть с оплатой") == "как быть с оплатой"


def test_yo_becomes_ye_and_case_is_lowered() -> None:
    assert normalize("Ещё раз: ВСЁ плохо, Ёлки") == "еще раз все плохо елки"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("зайдите на https://lk.sever.ru/pay и оплатите", "зайдите на и оплатите"),
        ("сайт www.sever.ru не открывается", "сайт не открывается"),
        ("lk.severs.ru/login не открывается", "не открывается"),
        ("пишите на help@sever.ru письмо", "пишите на письмо"),
        ("мой ящик ivan.petrov+1@mail.com не получает", "мой ящик не получает"),
    ],
)
def test_links_and_emails_are_dropped(text: str, expected: str) -> None:
    assert normalize(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("тариф за 500 рублей на 2 месяца", "тариф за пятьсот рублей на два месяца"),
        ("списали 1000", "списали одна тысяча"),
        ("0 каналов", "ноль каналов"),
    ],
)
def test_short_numbers_become_words(text: str, expected: str) -> None:
    assert normalize(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("договор 123456789 не найден", "договор не найден"),
        ("счет 12345", "счет"),
        ("звоню с 89161234567", "звоню с"),
    ],
)
def test_long_numbers_are_dropped(text: str, expected: str) -> None:
    assert normalize(text) == expected


def test_number_words_are_injectable() -> None:
    assert normalize("тариф 7 и 42", number_words=lambda n: f"n{n}") == "тариф n7 и n42"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Интернет не работает!!!", "интернет не работает"),
        ("wi-fi не_работает", "wi fi не работает"),
        ("«тариф» (новый), — какой?", "тариф новый какой"),
        ("  много   пробелов \t и\nстрок ", "много пробелов и строк"),
        ("", ""),
        (" ... !!! ", ""),
    ],
)
def test_punctuation_and_spaces(text: str, expected: str) -> None:
    assert normalize(text) == expected


def test_repeated_filler_phrase_is_removed_every_time() -> None:
    assert normalize("добрый день добрый день интернет не работает") == "интернет не работает"


def test_phone_number_with_separators_is_dropped() -> None:
    assert normalize("+7 916 123-45-67 перезвоните") == "перезвоните"


class SuffixLemmatizer:
    """A literal lemmatiser: a fixed table, words outside it unchanged."""

    TABLE: ClassVar[dict[str, str]] = {"счету": "счет", "узнал": "узнать", "нету": "нет"}

    def lemma(self, word: str) -> str:
        """The table's form of `word`, else `word`."""
        return self.TABLE.get(word, word)


def test_content_lemmas_drop_stop_words_and_keep_order() -> None:
    words = content_lemmas("как узнать мой баланс на счету", IdentityLemmatizer())

    assert words == ["узнать", "баланс", "счету"]


def test_content_lemmas_apply_the_lemmatizer_and_drop_lemmas_that_are_stop_words() -> None:
    words = content_lemmas("я узнал что на счету денег нету", SuffixLemmatizer())

    assert words == ["узнать", "счет", "денег"]


def test_content_lemmas_of_empty_text() -> None:
    assert content_lemmas("", IdentityLemmatizer()) == []
