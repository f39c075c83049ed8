"""Russian lemmatisation with pymorphy3."""

from __future__ import annotations


class PymorphyLemmatizer:
    """Dictionary forms of Russian words, memoised per instance."""

    def __init__(self) -> None:
        """Load pymorphy3's Russian dictionaries."""
        import pymorphy3

        self._analyzer = pymorphy3.MorphAnalyzer(lang="ru")
        self._memo: dict[str, str] = {}

    def lemma(self, word: str) -> str:
        """The most probable dictionary form, with ё written as е."""
        found = self._memo.get(word)
        if found is None:
            found = str(self._analyzer.parse(word)[0].normal_form).replace("ё", "е")
            self._memo[word] = found
        return found
