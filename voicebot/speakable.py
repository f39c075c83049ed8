"""Russian text normalisation for speech: what a hotline answer says, written as a voice reads it.

`speakable(text)` turns digits, phone numbers, dates, times, money, percentages, units,
abbreviations, symbols, URLs, e-mails and Latin words into Russian words; the result has no
digits and no Latin letters. Numbers take the case their preposition or noun asks for
(«до ста метров», «в течение пятнадцати минут», «на пяти устройствах») and the gender of the
noun they count («одна минута», «две недели»), decided by small rules, not a parser.

Latin is never passed to the voice. Piper's Russian voices phonemise with espeak-ng's `ru`
voice, which switches to English phonemes for Latin words; the Russian models were not trained
on those. So Latin words are rewritten in Cyrillic: first a lexicon of words and brands as
Russians say them (Wi-Fi -> «вай-фай», App Store -> «эп стор»), then abbreviations in capitals
spelled with English letter names as Russians say them (HDMI -> «эйч ди эм ай»), then every
other word read letter by letter with Russian transliteration rules, which turns transliterated
Russian back into Russian (seversvyaz -> «северсвяз», help -> «хелп»). Web and e-mail addresses
are read part by part: «lk.seversvyaz.ru» -> «эл ка точка северсвяз точка ру», «@» -> «собака».

`split_sentences(text)` cuts a text into sentences for synthesis one sentence at a time.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final, Literal

from num2words import num2words

__all__ = ["cardinal", "latin_word", "ordinal", "speakable", "split_sentences"]

Case = Literal["nom", "gen", "dat", "acc", "ins", "prep"]
Gender = Literal["m", "f", "n"]

_N2W_CASE: Final[dict[Case, str]] = {
    "nom": "nominative",
    "gen": "genitive",
    "dat": "dative",
    "acc": "accusative",
    "ins": "instrumental",
    "prep": "prepositional",
}
_CASES: Final[tuple[Case, ...]] = ("nom", "gen", "dat", "acc", "ins", "prep")

# --------------------------------------------------------------------------- number words

_LEADING_ONE = re.compile(
    r"^(?:один|одна|одно|одну|одной|одного|одному|одним|одном|одною)\s+(?=тысяч|миллион|миллиард)"
)


_NULL = re.compile(r"^нол(?=[яюеё])")


def cardinal(n: int, case: Case = "nom", gender: Gender = "m") -> str:
    """A cardinal number in words («две тысячи», «двадцати одной»); «тысяча», not «одна тысяча»."""
    if n < 0:
        return "минус " + cardinal(-n, case, gender)
    if n % 1000 == 0:
        gender = "m"  # the gender belongs to the last group; num2words misapplies it otherwise
    words = num2words(n, lang="ru", case=_N2W_CASE[case], gender=gender, animate=False)
    words = _LEADING_ONE.sub("", str(words))
    return _NULL.sub("нул", words) if n == 0 and case != "nom" and case != "acc" else words


def ordinal(n: int, case: Case = "nom", gender: Gender = "m", plural: bool = False) -> str:
    """An ordinal number in words («двадцать восьмого», «второй»)."""
    words = num2words(
        n, lang="ru", to="ordinal", case=_N2W_CASE[case], gender=gender, plural=plural
    )
    return str(words)


def _digits_group(group: str) -> str:
    """A group of a phone or account number: leading zeros as «ноль», the rest as a number."""
    if len(group) == 4:
        return _digits_group(group[:2]) + " " + _digits_group(group[2:])
    zeros = len(group) - len(group.lstrip("0"))
    words = ["ноль"] * zeros
    if group.lstrip("0"):
        words.append(cardinal(int(group)))
    return " ".join(words)


def _dictate(digits: str) -> str:
    """A long digit string read in groups of three (the last two groups 2+2 when needed)."""
    groups = [digits[i : i + 3] for i in range(0, len(digits), 3)]
    if len(groups) > 1 and len(groups[-1]) == 1:
        last = groups[-2] + groups[-1]
        groups[-2:] = [last[:2], last[2:]]
    return " ".join(_digits_group(g) for g in groups)


# --------------------------------------------------------------------------- nouns


@dataclass(frozen=True)
class _Noun:
    """A noun's forms in the six cases, singular and plural (nom, gen, dat, acc, ins, prep)."""

    gender: Gender
    singular: tuple[str, str, str, str, str, str]
    plural: tuple[str, str, str, str, str, str]

    def form(self, case: Case, plural: bool = False) -> str:
        """The form in `case`."""
        forms = self.plural if plural else self.singular
        return forms[_CASES.index(case)]

    def after(self, n: int, case: Case) -> str:
        """The form that follows the number `n` in `case` («рубль», «рубля», «рублей»)."""
        if n % 10 == 1 and n % 100 != 11:
            return self.form(case)
        if case in ("nom", "acc"):
            if n % 10 in (2, 3, 4) and n % 100 not in (12, 13, 14):
                return self.form("gen")
            return self.form("gen", plural=True)
        return self.form(case, plural=True)


def _noun(gender: Gender, sg: str, pl: str) -> _Noun:
    s, p = sg.split(), pl.split()
    return _Noun(gender, (s[0], s[1], s[2], s[3], s[4], s[5]), (p[0], p[1], p[2], p[3], p[4], p[5]))


# `name gender stem: six singular endings / six plural endings` (nom gen dat acc ins prep; "-" is
# no ending) or a shared pattern instead of the endings.
_NOUN_PATTERNS: Final = {
    "M1": "- а у - ом е / ы ов ам ы ами ах",
    "MB": "- а у - ом е / ы - ам ы ами ах",
    "MA": "- а у - ом е / а ов ам а ами ах",
    "F1": "а ы е у ой е / ы - ам ы ами ах",
}
_NOUN_TABLE = """
рубль m рубл: ь я ю ь ём е / и ей ям и ями ях
копейка f копе: йка йки йке йку йкой йке / йки ек йкам йки йками йках
доллар m доллар: M1
евро n евро: - - - - - - / - - - - - -
процент m процент: M1
час m час: M1
минута f минут: F1
секунда f секунд: F1
день m д: ень ня ню ень нём не / ни ней ням ни нями нях
месяц m месяц: - а у - ем е / ы ев ам ы ами ах
год m : год года году год годом годе / годы лет годам годы годами годах
тысяча f тысяч: а и е у ей е / и - ам и ами ах
миллион m миллион: M1
миллиард m миллиард: M1
метр m метр: M1
километр m километр: M1
сантиметр m сантиметр: M1
миллиметр m миллиметр: M1
килограмм m килограмм: M1
штука f штук: а и е у ой е / и - ам и ами ах
градус m градус: M1
мегабит m мегабит: MB
гигабит m гигабит: MB
мегабайт m мегабайт: MB
гигабайт m гигабайт: MB
терабайт m терабайт: MB
улица f улиц: а ы е у ей е / ы - ам ы ами ах
дом m дом: MA
квартира f квартир: F1
город m город: MA
проспект m проспект: M1
переулок m переул: ок ка ку ок ком ке / ки ков кам ки ками ках
площадь f площад: ь и и ь ью и / и ей ям и ями ях
корпус m корпус: MA
строение n строени: е я ю е ем и / я й ям я ями ях
офис m офис: M1
этаж m этаж: - а у - ом е / и ей ам и ами ах
область f област: ь и и ь ью и / и ей ям и ями ях
район m район: M1
"""
_GENDERS: Final[dict[str, Gender]] = {"m": "m", "f": "f", "n": "n"}


def _parse_nouns(table: str) -> dict[str, _Noun]:
    nouns: dict[str, _Noun] = {}
    for line in table.strip().splitlines():
        head, endings = line.split(":")
        name, gender, *stem = head.split()
        endings = _NOUN_PATTERNS.get(endings.strip(), endings)
        singular, plural = (
            " ".join("".join(stem) + e.strip("-") for e in half.split())
            for half in endings.split("/")
        )
        nouns[name] = _noun(_GENDERS[gender], singular, plural)
    return nouns


_NOUNS: Final[dict[str, _Noun]] = _parse_nouns(_NOUN_TABLE)

# --------------------------------------------------------------------------- context: case, gender

_GEN_PREPS: Final = frozenset(
    "до от из с со около более менее больше меньше свыше старше младше после для без кроме у "
    "вместо против ради среди возле вокруг мимо течение протяжении продолжение порядка сверх "
    "вследствие ввиду вроде максимум минимум".split()
)
_ACC_PREPS: Final = frozenset("за через про сквозь спустя по под".split())
_DAT_PREPS: Final = frozenset("к ко согласно благодаря вопреки навстречу подобно".split())
_INS_PREPS: Final = frozenset("между над перед".split())
_PREP_PREPS: Final = frozenset("о об обо при".split())
_IN_ON: Final = frozenset("в во на".split())
_PREPOSITIONS: Final = _GEN_PREPS | _ACC_PREPS | _DAT_PREPS | _INS_PREPS | _PREP_PREPS | _IN_ON

_WORD_BEFORE = re.compile(r"([A-Za-zА-Яа-яЁё]+)[ \t]*$")
_WORDS_AFTER = re.compile(r"[ \t]+([А-Яа-яЁё]+)(?:[ \t]+([А-Яа-яЁё]+))?(?:[ \t]+([А-Яа-яЁё]+))?")


def _prev_word(text: str, start: int) -> str:
    """The word right before `start` (lowercase), or "" after punctuation or at the start."""
    found = _WORD_BEFORE.search(text[max(0, start - 40) : start])
    return found.group(1).lower() if found else ""


def _next_words(text: str, end: int) -> list[str]:
    """Up to three words right after `end` (lowercase), stopping at punctuation."""
    found = _WORDS_AFTER.match(text, end)
    return [w.lower() for w in found.groups() if w] if found else []


def _case_from(prev: str, following: Sequence[str], n: int | None = None) -> Case:
    """The case a number takes after the word `prev`, before the words `following`."""
    for word in following[:2]:
        if word.endswith(("ами", "ями", "ыми", "ими", "ьми")):
            return "ins"
        if word.endswith(("ах", "ях")):
            return "prep"
        if not _adjective_like(word):
            break
    if prev in _GEN_PREPS:
        return "gen"
    if prev in _DAT_PREPS:
        return "dat"
    if prev in _INS_PREPS:
        return "ins"
    if prev in _PREP_PREPS:
        return "prep"
    if prev in _ACC_PREPS:
        return "acc"
    if prev in _IN_ON:
        one = n is not None and n % 10 == 1 and n % 100 != 11
        noun = _first_noun(following)
        if one and noun.endswith(("е", "и")) and not noun.endswith(("ие", "ые")):
            return "prep"  # «на 1 устройстве», «в 1 линии»
        return "acc"
    one = n is not None and n % 10 == 1 and n % 100 != 11
    if one and _first_noun(following).endswith(("у", "ю")):
        return "acc"  # «1 минуту»
    return "nom"


_ADJ_SKIP = (
    "ых",
    "их",
    "ые",
    "ие",
    "ого",
    "его",
    "ому",
    "ему",
    "ыми",
    "ими",
    "ым",
    "им",
    "ой",
    "ей",
    "ом",
    "ем",
)
_ADJ_F = ("ая", "яя", "ую", "юю")
_ADJ_N = ("ое", "ее")
_ADJ_M = ("ый", "ий")


def _adjective_like(word: str) -> bool:
    return len(word) > 3 and word.endswith(_ADJ_SKIP + _ADJ_F + _ADJ_N + _ADJ_M)


def _first_noun(words: Sequence[str]) -> str:
    for i, word in enumerate(words):
        if not _adjective_like(word) or i == len(words) - 1:
            return word
    return ""


_FEMININE_STEMS: Final = tuple(
    "минут секунд недел копе цифр заявк штук ноч тысяч сотн карт кнопк приставк лини верси "
    "скорост част строк букв страниц квартир комнат услуг скидк опци попытк единиц позици ошибк "
    "жалоб претензи программ подписк категори функци смен сумм станци точк улиц книг фраз "
    "причин сторон площад област".split()
)
_NEUTER_STEMS: Final = tuple(
    "мест устройств числ окн сообщени уведомлени утр подключени дел слов письм приложени "
    "обращени заявлени евро колес лет ведр".split()
)
_MASCULINE_STEMS: Final = tuple("дн ден рубл час раз год месяц канал мегабит гигабит".split())


def _gender(words: Sequence[str], noun_case: Case) -> Gender:
    """The gender of the noun a number counts, from its form (`noun_case`) and small lexicons."""
    for i, word in enumerate(words[:3]):
        if word.startswith(_FEMININE_STEMS):
            return "f"
        if word.startswith(_NEUTER_STEMS):
            return "n"
        if word.startswith(_MASCULINE_STEMS):
            return "m"
        last = i == len(words[:3]) - 1
        if len(word) > 3:
            if word.endswith(_ADJ_F):
                return "f"
            if word.endswith(_ADJ_N):
                return "n"
            if word.endswith(_ADJ_M):
                return "m"
            if word.endswith(_ADJ_SKIP) and not last:
                continue
        return _gender_by_ending(word, noun_case)
    return "m"


def _gender_by_ending(word: str, noun_case: Case) -> Gender:
    if noun_case == "nom":
        if word.endswith(("а", "я")):
            return "f"
        return "n" if word.endswith(("о", "е", "ё")) else "m"
    if noun_case == "acc":
        if word.endswith(("у", "ю")):
            return "f"
        return "n" if word.endswith(("о", "е")) else "m"
    if noun_case == "gen":
        return "f" if word.endswith(("ы", "и")) else "m"
    if noun_case == "dat":
        return "m" if word.endswith(("у", "ю")) else "f"
    if noun_case == "ins":
        return "f" if word.endswith(("ой", "ей", "ою", "ею")) else "m"
    return "m"


def _noun_case(n: int, case: Case) -> Case:
    """The case of the noun after `n` (nom/acc 2-4 take the genitive singular)."""
    if n % 10 in (2, 3, 4) and n % 100 not in (12, 13, 14) and case in ("nom", "acc"):
        return "gen"
    return case


def _number_in_context(n: int, text: str, start: int, end: int) -> str:
    """`n` in words, in the case and gender its neighbours ask for."""
    following = _next_words(text, end)
    case = _case_from(_prev_word(text, start), following, n)
    return _agreeing(n, case, following)


def _agreeing(n: int, case: Case, following: Sequence[str]) -> str:
    gender: Gender = "m"
    if n % 10 in (1, 2) and n % 100 not in (11, 12):
        gender = _gender(following, _noun_case(n, case))
    if following and following[0].startswith(("сут", "суток")) and n in (1, 2, 3, 4):
        return _plural_only(n, case)
    return cardinal(n, case, gender)


def _plural_only(n: int, case: Case) -> str:
    """Numbers with plural-only nouns («одни сутки», «двое суток»)."""
    if n == 1:
        return {"nom": "одни", "acc": "одни", "gen": "одних", "dat": "одним", "ins": "одними"}.get(
            case, "одних"
        )
    collective = {2: "двое", 3: "трое", 4: "четверо"}[n]
    return collective if case in ("nom", "acc") else cardinal(n, case)


# --------------------------------------------------------------------------- Latin


def _pairs(table: str) -> dict[str, str]:
    """`key=value` items separated by `;` (values may hold spaces)."""
    items = (item.split("=") for item in table.replace("\n", " ").split(";") if item.strip())
    return {key.strip(): value.strip() for key, value in items}


_LATIN_LEXICON: Final[dict[str, str]] = _pairs("""
wi-fi=вай-фай; wifi=вай-фай; app=эп; apps=эпс; store=стор; appstore=эп стор; google=гугл;
play=плей; rustore=рустор; source=сорс; business=бизнес; online=онлайн; email=имейл;
e-mail=имейл; mail=мейл; gmail=джимейл; www=дабл ю дабл ю дабл ю; com=ком; ru=ру; org=орг;
net=нет; info=инфо; su=эс ю; smart=смарт; tv=ти ви; android=андроид; iphone=айфон; ipad=айпэд;
ios=ай о эс; apple=эпл; samsung=самсунг; xiaomi=сяоми; huawei=хуавей; honor=хонор;
yandex=яндекс; telegram=телеграм; whatsapp=вотсап; viber=вайбер; vk=вэ ка; youtube=ютуб;
windows=виндоус; wan=ван; lan=лан; router=роутер; reset=ресет; input=инпут; pin=пин; puk=пук;
ok=окей; okay=окей; wps=вэ пэ эс; hd=эйч ди; full=фул; pro=про; max=макс; mini=мини;
plus=плюс; web=веб; site=сайт; speed=спид; test=тест; help=хелп; support=сапорт; lk=эл ка;
my=май; id=ай ди; sim=сим; esim=и сим; sms=эс эм эс; mms=эм эм эс; usb=ю эс би; dns=ди эн эс;
mac=мак; login=логин; password=пасворд; admin=админ; home=хоум; office=офис; game=гейм;
games=геймс; box=бокс; cloud=клауд; chat=чат; bot=бот; mobile=мобайл; service=сервис;
wink=винк; kion=кион; okko=окко; ivi=иви; start=старт; premier=премьер; rutube=рутуб;
sber=сбер; sberbank=сбербанк; tinkoff=тинькофф; mir=мир; visa=виза; mastercard=мастеркард;
paypal=пэйпал; qr=кью ар; nfc=эн эф си; gpon=джи пон; ethernet=эзернет; internet=интернет;
menu=меню; settings=сеттингс; enter=энтер; power=пауэр; off=офф; on=он
""")
_LATIN_LETTERS: Final[dict[str, str]] = _pairs(
    "a=эй; b=би; c=си; d=ди; e=и; f=эф; g=джи; h=эйч; i=ай; j=джей; k=кей; l=эл; m=эм; n=эн; "
    "o=оу; p=пи; q=кью; r=ар; s=эс; t=ти; u=ю; v=ви; w=дабл ю; x=икс; y=уай; z=зед"
)
# Russian transliteration read backwards, longest first.
_TRANSLIT: Final[tuple[tuple[str, str], ...]] = tuple(
    (latin, cyrillic)
    for latin, cyrillic in (
        pair.split("=")
        for pair in (
            "shch=щ sch=щ tch=ч zh=ж kh=х ch=ч sh=ш ts=ц tz=ц ya=я yu=ю yo=ё ye=е ja=я ju=ю ee=и "
            "oo=у ph=ф th=т ck=к qu=кв x=кс w=в q=к j=дж h=х a=а b=б d=д f=ф g=г i=и k=к l=л m=м "
            "n=н o=о p=п r=р s=с t=т u=у v=в z=з"
        ).split()
    )
)
_LATIN_VOWELS = "aeiouy"


def _spell_latin(word: str) -> str:
    return " ".join(_LATIN_LETTERS[c] for c in word.lower() if c in _LATIN_LETTERS)


def _transliterate(word: str) -> str:
    """A Latin word read with Russian transliteration rules («seversvyaz» -> «северсвяз»)."""
    word = word.lower()
    out: list[str] = []
    i = 0
    while i < len(word):
        c = word[i]
        nxt = word[i + 1] if i + 1 < len(word) else ""
        prev = word[i - 1] if i else ""
        if c == "c":
            out.append("с" if nxt in ("e", "i", "y") else "к")
            i += 1
            continue
        if c == "e":
            out.append("э" if i == 0 else "е")
            i += 1
            continue
        if c == "y" and word[i : i + 2] not in ("ya", "yu", "yo", "ye"):
            out.append("й" if prev in _LATIN_VOWELS else "и")
            i += 1
            continue
        for latin, cyrillic in _TRANSLIT:
            if word.startswith(latin, i):
                out.append(cyrillic)
                i += len(latin)
                break
        else:
            i += 1  # not a Latin letter we know: dropped
    return "".join(out)


_CAMEL = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])")


def latin_word(word: str) -> str:
    """One Latin word (letters, maybe hyphens) in Cyrillic, as a Russian voice should read it."""
    lower = word.lower()
    if lower in _LATIN_LEXICON:
        return _LATIN_LEXICON[lower]
    if "-" in word:
        return " ".join(latin_word(part) for part in word.split("-") if part)
    if word.isupper() and len(word) > 1:
        return _spell_latin(word)
    parts = _CAMEL.findall(word)
    if len(parts) > 1:
        return " ".join(latin_word(part) for part in parts)
    if len(word) == 1:
        return _spell_latin(word)
    if not any(c in _LATIN_VOWELS for c in lower):
        return _spell_latin(word)
    return _transliterate(word)


# --------------------------------------------------------------------------- Cyrillic acronyms

_CYRILLIC_LETTERS: Final[dict[str, str]] = _pairs(
    "А=а; Б=бэ; В=вэ; Г=гэ; Д=дэ; Е=е; Ё=ё; Ж=жэ; З=зэ; И=и; Й=и краткое; К=ка; Л=эл; М=эм; "
    "Н=эн; О=о; П=пэ; Р=эр; С=эс; Т=тэ; У=у; Ф=эф; Х=ха; Ц=цэ; Ч=че; Ш=ша; Щ=ща; "
    "Ъ=твёрдый знак; Ы=ы; Ь=мягкий знак; Э=э; Ю=ю; Я=я"
)
_CYRILLIC_ACRONYMS: Final[dict[str, str]] = _pairs("""
СМС=эс эм эс; ТВ=тэ вэ; ИНН=и эн эн; СБП=эс бэ пэ; ИП=и пэ; ЛК=эл ка; РФ=эр эф; ПИН=пин;
МТС=эм тэ эс; ЖКХ=жэ ка ха; НДС=эн дэ эс; СНИЛС=снилс; ОГРН=о гэ эр эн; КПП=ка пэ пэ;
ГИБДД=гэ и бэ дэ дэ; МФЦ=эм эф цэ; ТСЖ=тэ эс жэ; УК=у ка; ООО=о о о; ЗАО=зао; ПАО=пао;
ОАО=о а о; МВД=эм вэ дэ; ЦОД=цод; ВОЛС=волс; ПК=пэ ка; ЕГЭ=егэ; ВУЗ=вуз; СИМ=сим;
ПДФ=пэ дэ эф; АТС=а тэ эс; ФИО=эф и о
""")
_CAPS_WORDS: Final = frozenset(
    "ДА НЕТ ВЫ МЫ ОН ОНА ОНО ОНИ НЕ НИ ВСЕ ВСЁ ЭТО ЧТО КАК ГДЕ ТАМ ТУТ ВОТ ИЛИ ЕЩЁ ЕЩЕ УЖЕ "
    "ДЛЯ ПРИ ПОД НАД БЕЗ ИЗ ОТ ДО НА ПО ЗА КО СО ВО ОБ ЕГО ЕЁ ИХ ВАС ВАМ НАС НАМ МНЕ ТАК".split()
)
_RU_VOWELS = "АЕЁИОУЫЭЮЯ"


def _cyrillic_acronym(word: str) -> str:
    if word in _CYRILLIC_ACRONYMS:
        return _CYRILLIC_ACRONYMS[word]
    if word in _CAPS_WORDS or (len(word) > 3 and any(c in _RU_VOWELS for c in word)):
        return word.lower()
    return " ".join(_CYRILLIC_LETTERS[c] for c in word)


# --------------------------------------------------------------------------- the steps

_NUM = r"\d{1,3}(?:[ \u00a0\u202f\u2009]\d{3})+(?!\d)|\d+"
_MONTHS: Final = (
    "января",
    "февраля",
    "марта",
    "апреля",
    "мая",
    "июня",
    "июля",
    "августа",
    "сентября",
    "октября",
    "ноября",
    "декабря",
)
_MONTH_RE = "|".join(_MONTHS)


def _int(digits: str) -> int:
    return int(re.sub(r"\D", "", digits))


_TLD = r"(?:ru|su|com|net|org|info|biz|io|me|pro|online|site|app|tv|by|kz|uk|de|eu)"
_EMAIL = re.compile(r"(?<![\w.@])[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_URL = re.compile(
    r"(?<![\w.@/])(?:https?://)?(?:[A-Za-z0-9-]+\.)+"
    + _TLD
    + r"(?![\w-])(?:/[A-Za-z0-9_\-./?=&%#]*[A-Za-z0-9_/])?"
    + r"|(?<![\w.@/])(?:[а-яё0-9-]+\.)+рф(?![\w-])",
    re.IGNORECASE,
)
_URL_SYMBOLS: Final[dict[str, str]] = _pairs(
    ".=точка; @=собака; /=слэш; -=дефис; _=нижнее подчёркивание; ?=вопрос; &=и; %=процент; "
    "+=плюс; #=решётка"
)
_URL_TOKEN = re.compile(r"[A-Za-z]+|[а-яё]+|\d+|.", re.IGNORECASE)


def _address(found: re.Match[str]) -> str:
    """A web or e-mail address read part by part."""
    raw = re.sub(r"^https?://", "", found.group(0), flags=re.IGNORECASE).rstrip("/")
    words: list[str] = []
    for token in _URL_TOKEN.findall(raw):
        if token.isdigit():
            words.append(_digits_group(token) if len(token) < 4 else _dictate(token))
        elif token.isascii() and token.isalpha():
            words.append(latin_word(token))
        elif token.isalpha():
            words.append(token.lower() if token.lower() != "рф" else "эр эф")
        elif token in _URL_SYMBOLS:
            words.append(_URL_SYMBOLS[token])
    return " ".join(words)


def _addresses(text: str) -> str:
    return _URL.sub(_address, _EMAIL.sub(_address, text))


_PHONE = re.compile(
    r"(?<![\d+])(?P<cc>\+7|8)[ \t-]*\(?(?P<a>\d{3})\)?[ \t-]*(?P<b>\d{3})"
    r"[ \t-]*(?P<c>\d{2})[ \t-]*(?P<d>\d{2})(?!\d)"
    r"|(?<![\d+])\+(?P<icc>\d{1,3})[ \t-]*\(?(?P<ia>\d{1,4})\)?(?P<irest>(?:[ \t-]*\d{2,4}){2,4})(?!\d)"
    r"|(?<![\d.,:-])(?P<lb>\d{3})-(?P<lc>\d{2})-(?P<ld>\d{2})(?![\d-])"
)


def _phone(found: re.Match[str]) -> str:
    if found.group("cc"):
        cc = found.group("cc")
        head = "плюс семь" if cc == "+7" else "восемь"
        groups = [found.group(k) for k in "abcd"]
        return " ".join([head, *(_digits_group(g) for g in groups)])
    if found.group("icc"):
        groups = [found.group("ia"), *re.findall(r"\d+", found.group("irest"))]
        return " ".join(
            ["плюс", cardinal(int(found.group("icc"))), *(_digits_group(g) for g in groups)]
        )
    return " ".join(_digits_group(found.group(k)) for k in ("lb", "lc", "ld"))


def _phones(text: str) -> str:
    return _PHONE.sub(_phone, text)


def _date_case(text: str, start: int) -> Case:
    """Case of a date: its preposition's; without one, nominative after punctuation, else genitive."""
    prev = _prev_word(text, start)
    if not prev:
        return "nom"
    if prev in _IN_ON or prev in _ACC_PREPS:
        return "acc"
    if prev in _PREPOSITIONS:
        return _case_from(prev, ())
    return "gen"


def _day_month_year(day: int, month: int, year: int | None, case: Case) -> str:
    words = [ordinal(day, case, "n"), _MONTHS[month - 1]]
    if year is not None:
        words += [ordinal(year, "gen"), "года"]
    return " ".join(words)


_NUMERIC_DATE = re.compile(
    r"(?<![\d.,])(\d{1,2})[./](\d{1,2})[./](\d{4}|\d{2})(?![\d])(?:[ \t]*(?:г\.|года(?![а-яё])))?"
)
_WORD_DATE = re.compile(
    r"(?<![\d.,])(\d{1,2})(?:-?(?:го|е|ое))?(?:[ \t]*(?P<sep>[–—-]|по|до)[ \t]*(\d{1,2})(?:-?(?:го|е|ое))?)?"
    r"[ \t]+(" + _MONTH_RE + r")(?![а-яё])(?:[ \t]+(\d{4})(?:[ \t]*(?:г\.|года(?![а-яё])))?)?",
    re.IGNORECASE,
)


def _numeric_date(found: re.Match[str]) -> str:
    day, month, year_text = int(found.group(1)), int(found.group(2)), found.group(3)
    if not (1 <= day <= 31 and 1 <= month <= 12):
        return found.group(0)
    year = int(year_text) + (2000 if len(year_text) == 2 else 0)
    return _day_month_year(day, month, year, _date_case(found.string, found.start()))


def _word_date(found: re.Match[str]) -> str:
    case = _date_case(found.string, found.start())
    month = _MONTHS.index(found.group(4).lower()) + 1
    year = int(found.group(5)) if found.group(5) else None
    first = int(found.group(1))
    if found.group(3) is None:
        return _day_month_year(first, month, year, case)
    sep = found.group("sep")
    second_case: Case = "gen" if sep == "до" else ("acc" if sep == "по" else case)
    joiner = f" {sep} " if sep in ("по", "до") else "-"
    return (
        ordinal(first, case, "n")
        + joiner
        + _day_month_year(int(found.group(3)), month, year, second_case)
    )


_DAY_NUMBER = re.compile(
    r"(?<![\d.,])(\d{1,2})(?:-?(?:го|е|ое|му))?[ \t]+(числ(?:о|а|у|ом|е))(?![а-яё])"
)
_CHISLO_CASE: Final[dict[str, Case]] = {
    "числа": "gen",
    "числу": "dat",
    "числом": "ins",
    "числе": "prep",
}


def _day_number(found: re.Match[str]) -> str:
    noun = found.group(2)
    case = _CHISLO_CASE.get(noun, "nom")
    if noun == "число" and _prev_word(found.string, found.start()) in _IN_ON | _ACC_PREPS:
        case = "acc"
    return f"{ordinal(int(found.group(1)), case, 'n')} {noun}"


_SHORT_DATE = re.compile(
    r"(?<![\d.,])(\d{1,2})\.(0[1-9]|1[0-2])(?![\d]|[.,]\d)(?![ \t]*(?:руб|р\.|₽|%|коп|\$|€|[A-Za-z]))"
)
_SHORT_DATE_AFTER: Final = frozenset("до с со по от к ко на после начиная дата".split())


def _short_date(found: re.Match[str]) -> str:
    """«до 10.01» -> «до десятого января» (only after a preposition: else it may be a number)."""
    day, month = int(found.group(1)), int(found.group(2))
    prev = _prev_word(found.string, found.start())
    if prev not in _SHORT_DATE_AFTER or not 1 <= day <= 31:
        return found.group(0)
    return _day_month_year(day, month, None, _date_case(found.string, found.start()))


def _dates(text: str) -> str:
    text = _NUMERIC_DATE.sub(_numeric_date, text)
    text = _SHORT_DATE.sub(_short_date, text)
    text = _WORD_DATE.sub(_word_date, text)
    return _DAY_NUMBER.sub(_day_number, text)


_TIME = r"([01]?\d|2[0-4]):([0-5]\d)"
_RANGE_TIME = r"([01]?\d|2[0-4])(?::([0-5]\d)|\.(00|15|30|45))"  # «с 8.00 до 20.00» too
_TIME_RANGE = re.compile(
    r"(?:(?<![А-Яа-яЁё])(?P<prep>[сС]о?)[ \t]+)?(?<![\d:])"
    + _RANGE_TIME
    + r"[ \t]*(?:[–—-]|[ \t]до[ \t])[ \t]*"
    + _RANGE_TIME
    + r"(?![\d:])"
)
_TIME_ONE = re.compile(r"(?<![\d:.,])" + _TIME + r"(?![\d:])")


def _clock(hours: int, minutes: int, case: Case, with_hours_word: bool) -> str:
    """A time of day: «девять часов», «девяти тридцати», «девять ноль пять»."""
    words = [cardinal(hours, case)]
    if minutes:
        words.append(
            "ноль " + cardinal(minutes, case) if minutes < 10 else cardinal(minutes, case, "f")
        )
    elif with_hours_word:
        words.append(_NOUNS["час"].after(hours, case))
    return " ".join(words)


def _time_range(found: re.Match[str]) -> str:
    h1, h2 = int(found.group(2)), int(found.group(5))
    m1 = int(found.group(3) or found.group(4))
    m2 = int(found.group(6) or found.group(7))
    prep = found.group("prep") or "с"
    first = _clock(h1, m1, "gen", with_hours_word=False)
    second = _clock(h2, m2, "gen", with_hours_word=True)
    return f"{prep} {first} до {second}"


def _time_one(found: re.Match[str]) -> str:
    hours, minutes = int(found.group(1)), int(found.group(2))
    case = _case_from(_prev_word(found.string, found.start()), ())
    return _clock(hours, minutes, case, with_hours_word=True)


def _times(text: str) -> str:
    return _TIME_ONE.sub(_time_one, _TIME_RANGE.sub(_time_range, text))


_ORDINAL_SUFFIX = re.compile(
    r"(?<![\d.,])(\d+)-(ыми|ими|ого|его|ому|ему|ый|ий|ой|го|му|ым|им|ом|ем|ая|яя|ую|юю|ое|ее|ых|их"
    r"|ёх|ех|ух|мя|ти|ми|й|м|я|ю|е|х)(?![а-яё])"
)


def _ordinal_forms(table: str) -> dict[str, tuple[Case, Gender, bool]]:
    """`suffixes:case,gender[,pl]` items -> what an ordinal's written suffix says."""
    cases: dict[str, Case] = {c: c for c in _CASES}
    forms: dict[str, tuple[Case, Gender, bool]] = {}
    for item in table.split():
        suffixes, grammar = item.split(":")
        case, gender, *plural = grammar.split(",")
        for suffix in suffixes.split("/"):
            forms[suffix] = (cases[case], _GENDERS[gender], bool(plural))
    return forms


_ORDINAL_FORMS: Final = _ordinal_forms(
    "й/ый/ий/ой:nom,m го/ого/его:gen,m му/ому/ему:dat,m м/ым/им:ins,m ом/ем:prep,m "
    "я/ая/яя:nom,f ю/ую/юю:acc,f е/ое/ее:nom,n х/ых/их:gen,m,pl ми/ыми/ими:ins,m,pl"
)


def _cardinal_suffix(n: int, suffix: str) -> bool:
    """Whether «3-х», «5-ти», «2-мя» write a cardinal («трёх»), not an ordinal («90-х»)."""
    if suffix in ("ёх", "ех", "ух", "мя", "ти"):
        return True
    if suffix == "ми":
        return n >= 5
    return suffix == "х" and n % 10 in (2, 3, 4) and n % 100 not in (12, 13, 14) and n < 100


def _ordinal_suffix(found: re.Match[str]) -> str:
    n, suffix = int(found.group(1)), found.group(2)
    prev = _prev_word(found.string, found.start())
    if _cardinal_suffix(n, suffix):
        case: Case = "ins" if suffix == "мя" else _case_from(prev, ())
        if case not in ("dat", "ins", "prep"):
            case = "prep" if prev in _IN_ON else "gen"
        return cardinal(n, case)
    located = prev in _IN_ON | _PREP_PREPS
    case, gender, plural = _ORDINAL_FORMS[suffix]
    if suffix in ("м", "х", "ых", "их") and located:
        case = "prep"
    if suffix in ("й", "ой") and prev in _PREPOSITIONS:  # «на 1-й линии», «до 2-й попытки»
        following = _next_words(found.string, found.end())
        if following and following[0].endswith(("и", "е", "ой", "ей")):
            case, gender = _case_from(prev, following), "f"
            if case in ("nom", "acc"):
                case = "prep"
    if suffix in ("е", "ое", "ее") and prev in _IN_ON | _ACC_PREPS:
        case = "acc"
    return ordinal(n, case, gender, plural)


def _ordinal_suffixes(text: str) -> str:
    return _ORDINAL_SUFFIX.sub(_ordinal_suffix, text)


_YEAR = re.compile(
    r"(?<![\d.,])(\d{4})(?:-?(?:го|м|й))?[ \t]*(гг\.|г\.|года|году|годом|годе|год)(?![а-яё])"
)
_YEAR_NOUN_CASE: Final[dict[str, Case]] = {
    "года": "gen",
    "годом": "ins",
    "годе": "prep",
    "год": "nom",
}


def _year(found: re.Match[str]) -> str:
    n, noun = int(found.group(1)), found.group(2)
    prev = _prev_word(found.string, found.start())
    located = prev in ("в", "во", "о", "об", "при")
    case: Case
    if noun in ("г.", "гг."):
        case = "prep" if located else _case_from(prev, ())
    elif noun == "году":
        case = "prep" if located else "dat"
    else:
        case = _YEAR_NOUN_CASE[noun]
        if noun == "год" and prev in _IN_ON | _ACC_PREPS:
            case = "acc"
    word = "году" if case == "prep" else _NOUNS["год"].form(case)
    return f"{ordinal(n, case)} {word}"


def _years(text: str) -> str:
    return _YEAR.sub(_year, text)


_MONEY = re.compile(
    r"(?<![\d.,])(?P<int>" + _NUM + r")(?:[.,](?P<frac>\d{1,2})(?!\d))?[ \t]*"
    r"(?P<mult>тыс\.|тысяч[а-я]*|млн\.?|миллион[а-я]*|млрд\.?|миллиард[а-я]*)?[ \t]*"
    r"(?P<cur>руб\.?(?![а-яё])|рубл[а-яё]*|р\.|₽|RUB(?![A-Za-z])|\$|долл\.|доллар[а-я]*|USD|€|евро|EUR)"
    r"(?:[ \t]*(?P<kop>\d{1,2})[ \t]*(?P<kopw>коп\.?(?![а-яё])|копе[а-яё]*|к\.))?(?![а-яё])"
    r"|(?<![\d.,])(?P<konly>\d{1,2})[ \t]*(?P<konlyw>коп\.?(?![а-яё])|копе[а-яё]*)(?![а-яё])",
    re.IGNORECASE,
)
_CASE_OF_FORM: Final[tuple[tuple[str, Case], ...]] = (
    ("ами", "ins"),
    ("ями", "ins"),
    ("ах", "prep"),
    ("ях", "prep"),
    ("ам", "dat"),
    ("ям", "dat"),
    ("ём", "ins"),
    ("ом", "ins"),
    ("ой", "ins"),
)


def _case_of_written(word: str, n: int) -> Case | None:
    """A case that the written form of a counted noun proves (oblique forms only)."""
    word = word.lower().rstrip(".")
    for ending, case in _CASE_OF_FORM:
        if word.endswith(ending) and len(word) > 4:
            return case
    if n % 10 == 1 and n % 100 != 11 and word.endswith(("ю", "е")) and len(word) > 4:
        return "dat" if word.endswith("ю") else "prep"
    return None


def _currency(cur: str) -> str:
    cur = cur.lower()
    if cur.startswith(("руб", "р.", "₽")):
        return "рубль"
    if cur.startswith(("$", "долл", "usd")):
        return "доллар"
    return "евро"


def _money(found: re.Match[str]) -> str:
    words = _money_words(found)
    if found.group(0).endswith(".") and _ENDS_SENTENCE.match(found.string, found.end()):
        words += "."  # «500 руб.» closed the sentence
    return words


_ENDS_SENTENCE = re.compile(r"[ \t]*(?:$|\n|[А-ЯЁA-Z«\"])")


def _money_words(found: re.Match[str]) -> str:
    text, start = found.string, found.start()
    if found.group("konly"):
        kop = int(found.group("konly"))
        case = _case_from(_prev_word(text, start), ())
        return f"{cardinal(kop, case, 'f')} {_NOUNS['копейка'].after(kop, case)}"
    whole = _int(found.group("int"))
    frac = found.group("frac")
    kop = int(found.group("kop")) if found.group("kop") else 0
    if frac:
        kop = int(frac.ljust(2, "0"))
    currency = _NOUNS[_currency(found.group("cur"))]
    case = _case_of_written(found.group("cur"), whole) or _case_from(_prev_word(text, start), ())
    mult = (found.group("mult") or "").lower()
    if mult:
        if mult.startswith("тыс"):
            big = _NOUNS["тысяча"]
        elif mult.startswith("млрд") or "ард" in mult:
            big = _NOUNS["миллиард"]
        else:
            big = _NOUNS["миллион"]
        words = [cardinal(whole, case, big.gender), big.after(whole, case)]
        words.append(currency.form("gen", plural=True))  # «пять тысяч рублей», in every case
    elif whole or not kop:
        words = [cardinal(whole, case, currency.gender), currency.after(whole, case)]
    else:
        words = []  # «0,50 руб.» -> «пятьдесят копеек»
    if kop:
        words += [cardinal(kop, case, "f"), _NOUNS["копейка"].after(kop, case)]
    return " ".join(words)


_CURRENCY_FIRST = re.compile(r"([$€₽])[ \t]*(\d[\d \u00a0]*(?:[.,]\d+)?)")


def _moneys(text: str) -> str:
    text = _CURRENCY_FIRST.sub(lambda m: f"{m.group(2).rstrip()} {m.group(1)}", text)
    return _MONEY.sub(_money, text)


_UNITS: Final[dict[str, tuple[str, str]]] = {
    # abbreviation -> (noun, a rate after it such as " в секунду")
    key: (value.split("+")[0], value.split("+")[1] if "+" in value else "")
    for key, value in _pairs(
        "%=процент; мин.=минута; мин=минута; сек.=секунда; сек=секунда; ч.=час; час.=час; "
        "мес.=месяц; дн.=день; км=километр; м=метр; см=сантиметр; мм=миллиметр; кг=килограмм; "
        "шт.=штука; шт=штука; °=градус; °c=градус; мбит/с=мегабит+ в секунду; "
        "гбит/с=гигабит+ в секунду; мб/с=мегабит+ в секунду; мбит=мегабит; гбит=гигабит; "
        "мб=мегабайт; гб=гигабайт; тб=терабайт; тыс.=тысяча; млн=миллион; млн.=миллион; "
        "млрд=миллиард; млрд.=миллиард; км/ч=километр+ в час"
    ).items()
}
_UNIT = re.compile(
    r"(?<![\d.,])(?P<int>" + _NUM + r")(?:[.,](?P<frac>\d+))?[ \t]*"
    r"(?P<unit>%|°[CС]?|[Мм]бит/с|[Гг]бит/с|[Мм]б/с|км/ч|мин\.?|сек\.?|час\.|ч\.|мес\.|дн\.|шт\.?|тыс\.|млн\.?|млрд\.?"
    r"|км|мм|см|кг|м|[Мм]бит|[Гг]бит|[МмГгТт][Бб])(?![А-Яа-яЁёA-Za-z/])",
)


def _fraction(whole: int, frac: str, case: Case, gender: Gender) -> str:
    """A decimal number: «два с половиной», «три целых две десятых»."""
    if frac == "5" and whole == 1:
        if case in ("nom", "acc"):
            return "полторы" if gender == "f" else "полтора"
        return "полутора"
    if frac == "5" and whole > 1:
        return f"{cardinal(whole, case, gender)} с половиной"
    frac = frac[:3]
    denominators = {1: "десят", 2: "сот", 3: "тысячн"}
    part = int(frac)
    one_ending = "ой" if case not in ("nom", "acc") else "ая"
    whole_word = "цел" + (one_ending if whole % 10 == 1 and whole % 100 != 11 else "ых")
    frac_word = denominators[len(frac)] + (
        one_ending if part % 10 == 1 and part % 100 != 11 else "ых"
    )
    return f"{cardinal(whole, case, 'f')} {whole_word} {cardinal(part, case, 'f')} {frac_word}"


def _noun_after_fraction(noun: _Noun, whole: int, frac: str, case: Case) -> str:
    """«два с половиной часа», «двух с половиной процентов», «трёх целых двух десятых метра»."""
    if frac == "5" and whole == 1:  # «полтора часа», «полутора часов»
        return noun.form("gen") if case in ("nom", "acc") else noun.form(case, plural=True)
    return noun.after(whole, case) if frac == "5" and whole > 1 else noun.form("gen")


def _unit(found: re.Match[str]) -> str:
    key = found.group("unit").lower()
    if key.startswith("°"):
        key = "°c" if len(key) > 1 else "°"
    noun_name, rate = _UNITS[key]
    noun = _NOUNS[noun_name]
    whole = _int(found.group("int"))
    case = _case_from(_prev_word(found.string, found.start()), ())
    frac = found.group("frac")
    if frac:
        words = _fraction(whole, frac, case, noun.gender)
        return f"{words} {_noun_after_fraction(noun, whole, frac, case)}{rate}"
    return f"{cardinal(whole, case, noun.gender)} {noun.after(whole, case)}{rate}"


def _units(text: str) -> str:
    return _UNIT.sub(_unit, text)


_RANGE = re.compile(r"(?<![\d.,])(" + _NUM + r")[ \t]*[–—-][ \t]*(" + _NUM + r")(?![\d.,]\d)")
_NUMBER = re.compile(
    r"(?<![\d])(?P<int>" + _NUM + r")(?:,(?P<frac>\d+)|\.(?P<dfrac>\d+)(?![.\d]))?"
)
_DICTATE_AFTER: Final = frozenset(
    "номер номера номеру номером договора договор договору счёта счета счёт счет кода код "
    "инн id пин карты заявки".split()
)


def _range(found: re.Match[str]) -> str:
    text = found.string
    a, b = _int(found.group(1)), _int(found.group(2))
    prev = _prev_word(text, found.start())
    if prev in _DICTATE_AFTER:  # «номер 123-456» is an identifier, not a range
        return f"{_digits_group(found.group(1))} {_digits_group(found.group(2))}"
    following = _next_words(text, found.end())
    case = _case_from(prev, following, b)
    return f"{_agreeing(a, case, following)}-{_agreeing(b, case, following)}"


def _number(found: re.Match[str]) -> str:
    text, start, end = found.string, found.start(), found.end()
    digits = found.group("int")
    prev = _prev_word(text, start)
    frac = found.group("frac") or found.group("dfrac")
    if (
        not frac
        and " " not in digits
        and (
            (prev in _DICTATE_AFTER and len(digits) > 3)
            or len(digits) > 6
            or digits.startswith("0")
        )
    ):
        return _dictate(digits) if len(digits) > 3 else _digits_group(digits)
    n = _int(digits)
    following = _next_words(text, end)
    case = _case_from(prev, following, n)
    if frac and not frac.strip("0"):  # «2.0» -> «два ноль»
        return " ".join([_agreeing(n, case, following), *["ноль"] * len(frac)])
    words = (
        _fraction(n, frac, case, _gender(following, "gen"))
        if frac
        else _agreeing(n, case, following)
    )
    glued = end < len(text) and text[end].isalpha()
    return words + (" " if glued else "")


_SLASHED = re.compile(r"(?<![\d./])(\d+)/(\d+)(?![\d/])")


def _slashed(found: re.Match[str]) -> str:
    """«24/7» -> «двадцать четыре на семь»; «5/3» (a house number) -> «пять дробь три»."""
    a, b = int(found.group(1)), int(found.group(2))
    return f"{cardinal(a)} {'на' if (a, b) == (24, 7) else 'дробь'} {cardinal(b)}"


def _numbers(text: str) -> str:
    text = re.sub(r"№[ \t]*", "номер ", text)
    text = _SLASHED.sub(_slashed, text)
    text = _RANGE.sub(_range, text)
    return _NUMBER.sub(_number, text)


@dataclass(frozen=True)
class _Abbreviation:
    pattern: re.Pattern[str]
    words: str
    noun: str = ""  # declined after a preposition («на ул.» -> «на улице»)
    can_end: bool = False  # may end a sentence («и т. д.»): keeps the full stop before a capital


def _abbr(pattern: str, words: str, noun: str = "", can_end: bool = False) -> _Abbreviation:
    start = "" if pattern.startswith("/") else r"(?<![А-Яа-яЁё])"
    return _Abbreviation(re.compile(start + pattern), words, noun, can_end)


_ABBREVIATIONS: Final[tuple[_Abbreviation, ...]] = (
    _abbr(r"в т\.[ \t]?ч\.", "в том числе"),
    _abbr(r"т\.[ \t]?е\.", "то есть"),
    _abbr(r"т\.[ \t]?д\.", "так далее", can_end=True),
    _abbr(r"т\.[ \t]?п\.", "тому подобное", can_end=True),
    _abbr(r"т\.[ \t]?к\.", "так как"),
    _abbr(r"т\.[ \t]?н\.", "так называемый"),
    _abbr(r"др\.", "другие", can_end=True),
    _abbr(r"пр\.(?=[ \t]*$|[ \t]*[,;)])", "прочее", can_end=True),
    _abbr(r"см\.", "смотрите"),
    _abbr(r"напр\.", "например"),
    _abbr(r"тел\.", "телефон"),
    _abbr(r"моб\.", "мобильный"),
    _abbr(r"доб\.", "добавочный"),
    _abbr(r"им\.", "имени"),
    _abbr(r"обл\.", "область", noun="область", can_end=True),
    _abbr(r"р-н(?![а-яё])", "район", noun="район"),
    _abbr(r"(?:пр-т|просп\.)", "проспект", noun="проспект"),
    _abbr(r"пр\.", "проспект", noun="проспект"),
    _abbr(r"пер\.", "переулок", noun="переулок"),
    _abbr(r"пл\.", "площадь", noun="площадь"),
    _abbr(r"наб\.", "набережная"),
    _abbr(r"ш\.", "шоссе"),
    _abbr(r"ул\.", "улица", noun="улица"),
    _abbr(r"д\.", "дом", noun="дом"),
    _abbr(r"кв\.", "квартира", noun="квартира"),
    _abbr(r"корп\.", "корпус", noun="корпус"),
    _abbr(r"стр\.", "строение", noun="строение"),
    _abbr(r"эт\.", "этаж", noun="этаж"),
    _abbr(r"оф\.", "офис", noun="офис"),
    _abbr(r"г\.(?=[ \t]*[А-ЯЁ])", "город", noun="город"),
    _abbr(r"г\.", "год", can_end=True),
    _abbr(r"/[ \t]?мес\.?", " в месяц", can_end=True),
    _abbr(r"/[ \t]?сут\.?", " в сутки", can_end=True),
    _abbr(r"/[ \t]?мин\.?", " в минуту", can_end=True),
    _abbr(r"/[ \t]?ч\.?(?![а-яё])", " в час", can_end=True),
    _abbr(r"руб\.", "рублей", can_end=True),
    _abbr(r"коп\.", "копеек", can_end=True),
    _abbr(r"мин\.", "минут", can_end=True),
    _abbr(r"сек\.", "секунд", can_end=True),
    _abbr(r"мес\.", "месяцев", can_end=True),
    _abbr(r"тыс\.", "тысяч", can_end=True),
    _abbr(r"млн\.?", "миллионов", can_end=True),
    _abbr(r"млрд\.?", "миллиардов", can_end=True),
    _abbr(r"чел\.", "человек", can_end=True),
    _abbr(r"шт\.", "штук", can_end=True),
    _abbr(r"ч\.(?=[ \t]*(?:$|[а-яё]))", "часов", can_end=True),
)
_ADDRESS_CASE: Final[dict[str, Case]] = {
    "в": "prep",
    "во": "prep",
    "на": "prep",
    "о": "prep",
    "об": "prep",
    "при": "prep",
    "по": "dat",
    "к": "dat",
    "ко": "dat",
    "до": "gen",
    "от": "gen",
    "у": "gen",
    "около": "gen",
    "возле": "gen",
    "с": "gen",
    "со": "gen",
    "из": "gen",
    "для": "gen",
    "за": "ins",
    "перед": "ins",
    "между": "ins",
}


def _abbreviations(text: str) -> str:
    for abbreviation in _ABBREVIATIONS:

        def expand(found: re.Match[str], a: _Abbreviation = abbreviation) -> str:
            words = a.words
            if a.noun:
                case = _ADDRESS_CASE.get(_prev_word(found.string, found.start()))
                if case is not None:
                    words = _NOUNS[a.noun].form(case)
            rest = found.string[found.end() :]
            if (
                a.can_end
                and found.group(0).endswith(".")
                and re.match(r"[ \t]*(?:$|\n|[А-ЯЁA-Z«\"])", rest)
            ):
                words += "."
            return words

        text = abbreviation.pattern.sub(expand, text)
    return text


_LATIN_TOKEN = re.compile(
    r"(?<![A-Za-z])[A-Za-z]+(?:['’][a-z]+)?(?:-[A-Za-z]+)*(?P<hy>-(?=[А-Яа-яЁё]))?"
)
_CYR_ACRONYM = re.compile(r"(?<![А-Яа-яЁё])[А-ЯЁ]{2,}(?![а-яё])(?P<hy>-(?=[А-Яа-яЁё]))?")
_DIGIT_LETTER = re.compile(r"(?<=\d)(?=[A-Za-zА-Яа-яЁё])(?![а-яё]{1,3}\b)|(?<=[A-Za-z])(?=\d)")


_SIGN = re.compile(r"(?<!\d[ \t])(?:(?<=[ \t(])|^)[-−](?=\d)", re.MULTILINE)


def _signs(text: str) -> str:
    """A minus sign before a number («-150 руб.», «−5 °C») -> «минус»."""
    return _SIGN.sub("минус ", text)


def _split_digits_from_letters(text: str) -> str:
    return _DIGIT_LETTER.sub(" ", text)


def _latin(text: str) -> str:
    def word(found: re.Match[str]) -> str:
        token = found.group(0).removesuffix("-") if found.group("hy") else found.group(0)
        spoken = latin_word(re.sub(r"['’]", "", token))
        return spoken + (" " if found.group("hy") else "")

    return _LATIN_TOKEN.sub(word, text)


def _cyrillic_acronyms(text: str) -> str:
    def word(found: re.Match[str]) -> str:
        token = found.group(0).removesuffix("-") if found.group("hy") else found.group(0)
        return _cyrillic_acronym(token) + (" " if found.group("hy") else "")

    return _CYR_ACRONYM.sub(word, text)


_SYMBOLS: Final[tuple[tuple[str, str], ...]] = (
    (r"\s*\+\s*(?=[А-Яа-яЁё])", " плюс "),
    (r"\+", " плюс "),
    (r"%", " процентов"),
    (r"\s*&\s*", " и "),
    (r"\s*=\s*", " равно "),
    (r"[~≈]\s*", "примерно "),
    (r"\*", " звёздочка "),
    (r"#", " решётка "),
    (r"@", " собака "),
    (r"\$", " долларов"),
    (r"€", " евро"),
    (r"₽", " рублей"),
    (r"°", " градусов"),
    (r"\s*×\s*", " на "),
    (r"(?<=\s)[–—-](?=\s)", "—"),
    (r"–", "—"),
    (r"[/\\|_<>\[\]{}^`]", " "),
)
_SPACES = re.compile(r"[ \t\u00a0\u202f\u2009]+")


def _symbols(text: str) -> str:
    for pattern, words in _SYMBOLS:
        text = re.sub(pattern, words, text)
    return text


def _leftover_digits(text: str) -> str:
    return re.sub(r"\d+", lambda m: " " + _dictate(m.group(0)) + " ", text)


def _tidy(text: str) -> str:
    text = _SPACES.sub(" ", text)
    text = re.sub(r" +([,.!?:;»)…])", r"\1", text)
    text = re.sub(r"([«(]) +", r"\1", text)
    text = re.sub(r"\s*\n\s*", "\n", text)
    return text.strip()


_STEPS: Final[tuple[Callable[[str], str], ...]] = (
    _addresses,
    _phones,
    _dates,
    _times,
    _split_digits_from_letters,
    _signs,
    _ordinal_suffixes,
    _years,
    _moneys,
    _units,
    _abbreviations,
    _numbers,
    _latin,
    _cyrillic_acronyms,
    _symbols,
    _leftover_digits,
)


def speakable(text: str) -> str:
    """`text` as a Russian voice should read it: numbers, symbols, abbreviations and Latin in words."""
    text = _SPACES.sub(" ", text.replace("\r", ""))
    for step in _STEPS:
        text = step(text)
    return _tidy(text)


# --------------------------------------------------------------------------- sentences

_SENTENCE_END = re.compile(r"(?<=[.!?…])[»\")]*\s+(?=[«\"(]?[А-ЯЁA-Z0-9—–-])|\n+")
_NO_SPLIT_AFTER = re.compile(
    r"(?:^|[\s(«])(?:[А-ЯЁA-Z]|ул|д|кв|г|тел|им|пр|пер|просп|корп|стр|эт|оф|обл|см|напр|доб|моб"
    r"|т\.[ \t]?[екнч]|руб|коп|тыс|мин|сек|ч|мес|шт)\.$"
)


def split_sentences(text: str) -> list[str]:
    """The sentences of `text`, in order, each with its final punctuation (no empty ones)."""
    pieces: list[str] = []
    pending = ""
    position = 0
    for found in _SENTENCE_END.finditer(text):
        chunk = text[position : found.start()] + text[found.start() : found.end()].rstrip()
        position = found.end()
        pending += chunk
        if found.group(0).startswith("\n") or not _NO_SPLIT_AFTER.search(pending.rstrip('»")')):
            pieces.append(pending.strip())
            pending = ""
        else:
            pending += " "
    pending += text[position:]
    if pending.strip():
        pieces.append(pending.strip())
    return [piece for piece in pieces if piece]
