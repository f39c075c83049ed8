"""What a caller's words reveal: phones, contract/account numbers, addresses, amounts, dates,
signs of a complaint; spoken numbers turned into digits; PII masking for the operator's card.

Vosk writes numbers as words («восемь девятьсот шестнадцать ...»); the vosk-api maintainers
advise post-processing the text (alphacep/vosk-api#315, #1349), so every extractor first runs
`spoken_to_digits`. Russian numbers: 10-digit national numbers, trunk prefix 8, country code +7
(Wikipedia, "Telephone numbers in Russia"): `normalize_phone` makes +7/8/10-digit forms agree.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

MaskMode = Literal["none", "partial", "full"]
MASK_MODES: tuple[MaskMode, ...] = ("none", "partial", "full")

# --- spoken numbers ----------------------------------------------------------------------------

# kind: u units, n 10-19, t tens, h hundreds, s scales; a word's value is its place in its row.
_WORD_ROWS = (
    ("u", 1, "ноль один два три четыре пять шесть семь восемь девять"),
    (
        "n",
        1,
        "десять одиннадцать двенадцать тринадцать четырнадцать пятнадцать шестнадцать "
        "семнадцать восемнадцать девятнадцать",
    ),
    ("t", 10, "- - двадцать тридцать сорок пятьдесят шестьдесят семьдесят восемьдесят девяносто"),
    ("h", 100, "- сто двести триста четыреста пятьсот шестьсот семьсот восемьсот девятьсот"),
)
_WORD_EXTRA = {
    "нуль": ("u", 0), "одна": ("u", 1), "одно": ("u", 1), "одну": ("u", 1), "две": ("u", 2),
    "тысяча": ("s", 1000), "тысячи": ("s", 1000), "тысяч": ("s", 1000), "тысячу": ("s", 1000),
    "миллион": ("s", 10**6), "миллиона": ("s", 10**6), "миллионов": ("s", 10**6),
}  # fmt: skip
# What may follow inside one number: «сто двадцать три», not «двадцать пятнадцать».
_NEXT = {"h": "tnu", "t": "u", "n": "", "u": "", "s": "htnu"}
_HALF = frozenset({"полтора", "полторы"})
_WORD = re.compile(r"[а-яё]+", re.IGNORECASE)
_SCALED_DIGITS = re.compile(
    r"(?<![\d,.])(\d+(?:[.,]\d+)?)\s*(тысяч\w*|тыс\.?|миллион\w*|млн\.?)(?!\w)", re.IGNORECASE
)


def _number_words() -> dict[str, tuple[str, int]]:
    words = dict(_WORD_EXTRA)
    for kind, step, row in _WORD_ROWS:
        words.update(
            (w, (kind, i * step + (10 if kind == "n" else 0))) for i, w in enumerate(row.split())
        )
    words.pop("-", None)
    return words


def _key(word: str) -> str:
    return word.lower().replace("ё", "е")


def _parse_run(words: Sequence[str], table: dict[str, tuple[str, int]]) -> list[int]:
    """Numbers said in a row: «восемь девятьсот шестнадцать» -> [8, 916]."""
    numbers: list[int] = []
    total, group, allowed, scale = 0, 0, "", 0
    started = False

    def flush() -> None:
        nonlocal total, group, allowed, scale, started
        if started:
            numbers.append(total + group)
        total, group, allowed, scale, started = 0, 0, "", 0, False

    index = 0
    while index < len(words):
        word = _key(words[index])
        if word in _HALF:  # «полторы тысячи» (_run_at only lets it in before a scale word)
            flush()
            scale = table[_key(words[index + 1])][1]
            total, allowed, started = scale * 3 // 2, _NEXT["s"], True
            index += 2
            continue
        kind, value = table[word]
        if kind == "s":
            if started and (scale == 0 or value < scale):
                total, group = total + max(group, 1) * value, 0
            else:
                flush()
                total, started = value, True
            scale, allowed = value, _NEXT["s"]
        elif kind == "u" and value == 0:
            flush()
            numbers.append(0)
        elif started and kind in allowed:
            group, allowed = group + value, _NEXT[kind]
        else:
            flush()
            group, allowed, started = value, _NEXT[kind], True
        index += 1
    flush()
    return numbers


def spoken_to_digits(text: str, *, min_digits: int = 1) -> str:
    """Number words as digits, numbers said in a row separated by spaces («плюс семь девятьсот
    шестнадцать» -> «+7 916»); a run is kept as words when it gives fewer than `min_digits`."""
    table = _number_words()
    tokens = list(_WORD.finditer(text))
    out: list[str] = []
    last = 0
    index = 0
    while index < len(tokens):
        run = _run_at(tokens, index, text, table)
        word = _key(tokens[index].group())
        if not run or (
            word in table and table[word][0] == "s" and _after_digits(text, index, tokens)
        ):
            index += max(run, 1)  # «5 тысяч» is left to the extractors' _SCALED_DIGITS
            continue
        start, end = tokens[index].start(), tokens[index + run - 1].end()
        plus = (
            index > 0
            and _key(tokens[index - 1].group()) == "плюс"
            and _gap_is_space(text, tokens[index - 1].end(), start)
        )
        if plus:
            start = tokens[index - 1].start()
        numbers = _parse_run([t.group() for t in tokens[index : index + run]], table)
        if sum(len(str(n)) for n in numbers) >= min_digits:
            digits = " ".join(str(n) for n in numbers)
            out.append(text[last:start] + ("+" if plus else "") + digits)
            last = end
        index += run
    out.append(text[last:])
    return "".join(out)


def _scaled(number: str, scale: str) -> str:
    factor = 1_000_000 if scale.lower().startswith(("мил", "млн")) else 1000
    whole, _, fraction = number.replace(",", ".").partition(".")
    value = int(whole) * factor + (int(fraction) * factor // 10 ** len(fraction) if fraction else 0)
    return str(value)


def _after_digits(text: str, index: int, tokens: Sequence[re.Match[str]]) -> bool:
    return bool(re.search(r"\d\s*$", text[: tokens[index].start()]))


def _gap_is_space(text: str, start: int, end: int) -> bool:
    return text[start:end].isspace()


def _run_at(
    tokens: Sequence[re.Match[str]], index: int, text: str, table: dict[str, tuple[str, int]]
) -> int:
    """How many tokens from `index` form a run of number words (0 if none)."""
    count = 0
    while index + count < len(tokens):
        token = tokens[index + count]
        word = _key(token.group())
        if count and not _gap_is_space(text, tokens[index + count - 1].end(), token.start()):
            break
        following = tokens[index + count + 1] if index + count + 1 < len(tokens) else None
        if (
            word in _HALF
            and following is not None
            and _gap_is_space(text, token.end(), following.start())
            and table.get(_key(following.group()), ("", 0))[0] == "s"
        ):
            count += 2
        elif word in table:
            count += 1
        else:
            break
    return count


def _digits_text(text: str) -> str:
    """The text extractors read: every spoken number and «5 тыс.» as digits."""
    return spoken_to_digits(_SCALED_DIGITS.sub(lambda m: _scaled(m.group(1), m.group(2)), text))


# --- phone numbers ----------------------------------------------------------------------------

_DIGIT_RUN = re.compile(r"(?<![\d*])(\+\s?)?\(?\d(?:[\s()\-]{0,3}\d)+(?![\d*])")
_GROUP = re.compile(r"\d+")
# A bare 10-digit mobile number (9XX ...) counts as a phone only after words like these.
_PHONE_CONTEXT = re.compile(r"телефон|мобильн|сотов|перезвон|номер для связи", re.IGNORECASE)


def _is_phone(digits: str, plus: bool, context: str) -> bool:
    if plus:  # E.164: a country code and at most 15 digits
        return 11 <= len(digits) <= 15
    if len(digits) == 11:
        return digits[0] in "78"
    return len(digits) == 10 and digits[0] == "9" and bool(_PHONE_CONTEXT.search(context))


def _phone_spans(text: str) -> Iterator[tuple[int, int, str]]:
    """(start, end, digits) of each phone number; a run of digit groups may hold several."""
    for run in _DIGIT_RUN.finditer(text):
        groups = list(_GROUP.finditer(run.group()))
        i = 0
        while i < len(groups):
            for j in range(len(groups), i, -1):
                digits = "".join(g.group() for g in groups[i:j])
                plus = i == 0 and run.group(1) is not None
                start = run.start() if plus else run.start() + groups[i].start()
                if _is_phone(digits, plus, text[max(0, start - 30) : start]):
                    yield start, run.start() + groups[j - 1].end(), digits
                    i = j
                    break
            else:
                i += 1


def normalize_phone(number: str) -> str:
    """Digits only, Russian numbers as 7XXXXXXXXXX: «+7 916 ...», «8 916 ...», «916 ...» and
    «sip:+7916...@pbx» agree; other numbers keep their digits."""
    user = re.sub(r"^(?:sips?|tel):", "", number.strip().split("@", 1)[0], flags=re.IGNORECASE)
    digits = re.sub(r"\D", "", user)
    if len(digits) == 11 and digits[0] == "8":
        return "7" + digits[1:]
    if len(digits) == 10 and not user.lstrip().startswith("+"):
        return "7" + digits
    return digits


def format_phone(number: str) -> str:
    """A number as the operator reads it: «+7 916 123-45-67» for Russian ones."""
    digits = normalize_phone(number)
    if not digits:  # «anonymous», «unknown»: as the PBX gave it
        return number
    if len(digits) == 11 and digits[0] == "7":
        return f"+7 {digits[1:4]} {digits[4:7]}-{digits[7:9]}-{digits[9:]}"
    return f"+{digits}" if len(digits) > 10 else digits


# --- accounts, amounts, addresses, dates --------------------------------------------------------

_ACCOUNT = re.compile(
    r"(?:договор\w*|лицев\w* сч[её]т\w*|сч[её]т\w*|номер\w*|л/с)\D{0,12}?(\d[\d\s-]{4,14}\d)",
    re.IGNORECASE,
)
_AMOUNT = re.compile(
    r"(\d[\d\s]*(?:[.,]\d+)?)\s*(?:руб\w*|₽|р\.)(?:\s*(\d{1,2})\s*коп\w*)?", re.IGNORECASE
)
_STREET_TYPES = (
    (r"улиц[аеуы]|ул\.|ул(?=\s)", "ул."),
    (r"проспект\w?|пр-т|просп\.", "просп."),
    (r"переул(?:ок|ке|ка)|пер\.", "пер."),
    (r"бульвар\w?|б-р", "б-р"),
    (r"шоссе", "ш."),
    (r"площад[ьи]|пл\.", "пл."),
    (r"набережн(?:ая|ой|ую)|наб\.", "наб."),
    (r"проезд\w?", "пр."),
    (r"микрорайон\w?|мкр\.?", "мкр."),
)
_NAME = r"(?!(?:дом|д|кв|квартира|корпус|корп|строение|стр)\b)[а-яё][а-яё-]*"
_ADDRESS = re.compile(
    rf"(?<![а-яё])(?P<type>{'|'.join(f'(?:{p})' for p, _ in _STREET_TYPES)})\s*"
    rf"(?P<name>{_NAME}(?:\s+{_NAME}(?=[,\s]+(?:дом\b|д\.|д\s*\d|\d)))?)"
    r"(?:(?:[,\s]+(?:дом|д\.?)\s*|\s+)(?P<house>\d+[а-я]?(?:/\d+)?)(?!\s*(?:руб|р\.|₽)))?"
    r"(?:[,\s]+(?:корпус|корп\.?|к\.)\s*(?P<block>\d+))?"
    r"(?:[,\s]+(?:строение|стр\.?)\s*(?P<building>\d+))?"
    r"(?:[,\s]+(?:квартира|кв\.?)\s*(?P<flat>\d+))?",
    re.IGNORECASE,
)
_MONTHS = (
    "января февраля марта апреля мая июня июля августа сентября октября ноября декабря".split()
)
_ORDINALS = {
    "перв": 1, "втор": 2, "трет": 3, "четверт": 4, "пят": 5, "шест": 6, "седьм": 7, "восьм": 8,
    "девят": 9, "десят": 10, "одиннадцат": 11, "двенадцат": 12, "тринадцат": 13,
    "четырнадцат": 14, "пятнадцат": 15, "шестнадцат": 16, "семнадцат": 17, "восемнадцат": 18,
    "девятнадцат": 19, "двадцат": 20, "тридцат": 30,
}  # fmt: skip
_ORDINAL = (
    r"(?:(?P<tens>двадцать|тридцать)\s+)?"
    rf"(?P<stem>{'|'.join(sorted(_ORDINALS, key=len, reverse=True))})"
    r"(?:ьего|ого|ое|ье|ий|ый|ой|ьему|ому|ом)"
)
_DAY = rf"(?:(?P<num>\d{{1,2}})(?:-?(?:го|е|ое|ого))?|{_ORDINAL})"
_DAY_MONTH = re.compile(
    rf"(?<![\w.]){_DAY}\s+(?P<month>{'|'.join(_MONTHS)})(?:\s+(?P<year>\d{{4}}))?(?!\w)",
    re.IGNORECASE,
)
_DAY_OF_MONTH = re.compile(
    rf"(?<![\w.])(?:(?P<prep>с|со|до|по|к)\s+)?{_DAY}\s+числа(?!\w)", re.IGNORECASE
)
_NUMERIC_DATE = re.compile(
    r"(?<![\d.,])(\d{1,2})\.(\d{1,2})(?:\.(\d{4}|\d{2}))?(?![\d,]|\.\d|\s*(?:руб|р\.|₽))"
)
_RELATIVE_DATE = re.compile(
    r"(?<!\w)(?:позавчера|вчера|сегодня|послезавтра|завтра"
    r"|на (?:прошлой|этой|позапрошлой) неделе|в (?:прошлом|этом) месяце)(?!\w)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Entities:
    """Things an operator would otherwise ask for again (as found; phones as digits)."""

    phones: tuple[str, ...] = ()
    accounts: tuple[str, ...] = ()
    amounts: tuple[str, ...] = ()
    addresses: tuple[str, ...] = ()
    dates: tuple[str, ...] = ()


def _account_spans(text: str, taken: Sequence[tuple[int, int]]) -> Iterator[tuple[int, int, str]]:
    for found in _ACCOUNT.finditer(text):
        start, end = found.span(1)
        if not any(s < end and start < e for s, e in taken):
            yield start, end, re.sub(r"\D", "", found.group(1))


def _amounts(text: str) -> Iterator[tuple[int, int, str]]:
    for found in _AMOUNT.finditer(text):
        value = re.sub(r"\s", "", found.group(1))
        if found.group(2):
            value = f"{value},{int(found.group(2)):02d}"
        yield found.start(1), found.end(), value


def _address(found: re.Match[str]) -> str | None:
    name = found.group("name")
    if not found.group("house") and not name[:1].isupper():
        return None  # «на улице холодно»: a street needs a house number or a capitalised name
    kind = next(a for p, a in _STREET_TYPES if re.fullmatch(p, found.group("type"), re.IGNORECASE))
    parts = [f"{kind} {' '.join(w[:1].upper() + w[1:] for w in name.split())}"]
    labels = (("house", "д."), ("block", "корп."), ("building", "стр."), ("flat", "кв."))
    parts += [f"{label} {found.group(key)}" for key, label in labels if found.group(key)]
    return ", ".join(parts)


def _day(found: re.Match[str]) -> int:
    if found.group("num"):
        return int(found.group("num"))
    tens = {"двадцать": 20, "тридцать": 30}.get((found.group("tens") or "").lower(), 0)
    return tens + _ORDINALS[_key(found.group("stem"))]


def _dates(original: str, digits: str) -> list[str]:
    found: list[str] = []
    # Ordinal words are read in the original text only: in the digits text «двадцать первого»
    # reads «20 первого».
    for text, ordinals in ((original, True), (digits, False)):
        for match in _DAY_MONTH.finditer(text):
            if ordinals or match.group("num"):
                year = f" {match.group('year')}" if match.group("year") else ""
                found.append(f"{_day(match)} {match.group('month').lower()}{year}")
        for match in _DAY_OF_MONTH.finditer(text):
            if ordinals or match.group("num"):
                prep = f"{match.group('prep').lower()} " if match.group("prep") else ""
                found.append(f"{prep}{_day(match)}-го числа")
    for match in _NUMERIC_DATE.finditer(original):
        day, month, year = int(match.group(1)), int(match.group(2)), match.group(3)
        if 1 <= day <= 31 and 1 <= month <= 12:
            found.append(f"{day:02d}.{month:02d}" + (f".{year}" if year else ""))
    found += [m.group().lower() for m in _RELATIVE_DATE.finditer(original)]
    return found


def find_entities(texts: Sequence[str]) -> Entities:
    """Phones, contract/account numbers, addresses, sums of money and dates in `texts`, spoken
    numbers included; each kind deduplicated in order of appearance."""
    phones: list[str] = []
    accounts: list[str] = []
    amounts: list[str] = []
    addresses: list[str] = []
    dates: list[str] = []
    for original in texts:
        text = _digits_text(original)
        found_phones = list(_phone_spans(text))
        found_amounts = list(_amounts(text))
        phones += [digits for _, _, digits in found_phones]
        amounts += [value for _, _, value in found_amounts]
        taken = [(s, e) for s, e, _ in found_phones + found_amounts]
        accounts += [digits for _, _, digits in _account_spans(text, taken)]
        addresses += [a for a in map(_address, _ADDRESS.finditer(text)) if a]
        dates += _dates(original, text)
    accounts = [a for a in accounts if a not in phones and a not in amounts]
    return Entities(
        *(tuple(dict.fromkeys(x)) for x in (phones, accounts, amounts, addresses, dates))
    )


# --- masking ------------------------------------------------------------------------------------


def mask_digits(text: str, *, head: int = 0, tail: int = 2) -> str:
    """Digits replaced by «*» except the first `head` and the last `tail`; separators kept."""
    count = sum(c.isdigit() for c in text)
    seen = 0
    out = []
    for char in text:
        if char.isdigit():
            seen += 1
            out.append(char if seen <= head or seen > count - tail else "*")
        else:
            out.append(char)
    return "".join(out)


def mask_phone(shown: str, digits: str) -> str:
    """«+7 916 ***-**-67»: country/trunk digit and area code kept, then only the last two."""
    head = {11: 4, 10: 3}.get(len(digits), 0)
    return mask_digits(shown, head=head, tail=2)


def mask_account(shown: str, digits: str) -> str:
    """«****3456»: the last four digits of a long number, the last two of a short one."""
    return mask_digits(shown, tail=4 if len(digits) >= 8 else 2)


def mask_pii(text: str, mode: MaskMode) -> str:
    """Phone and contract/account numbers in `text` masked: `partial` keeps the last digits
    (see mask_phone, mask_account), `full` puts «[телефон]» / «[номер]» in their place."""
    if mode == "none":
        return text
    spans = [(s, e, d, "phone") for s, e, d in _phone_spans(text)]
    taken = [(s, e) for s, e, _, _ in spans] + [(s, e) for s, e, _ in _amounts(text)]
    spans += [(s, e, d, "account") for s, e, d in _account_spans(text, taken)]
    out: list[str] = []
    last = 0
    for start, end, digits, kind in sorted(spans):
        shown = text[start:end]
        if mode == "full":
            shown = "[телефон]" if kind == "phone" else "[номер]"
        else:
            shown = (mask_phone if kind == "phone" else mask_account)(shown, digits)
        out += [text[last:start], shown]
        last = end
    return "".join([*out, text[last:]])


# --- complaint and anger ------------------------------------------------------------------------

_COMPLAINT = re.compile(
    r"(?<!\w)(?:жалоб\w*|пожал(?:оваться|уюсь|уемся|овался|овалась)|претензи\w*"
    r"|безобрази\w*|возмутительн\w*|возмущ\w*|издевательств\w*|издеваетесь|хамств\w*|нахамил\w*"
    r"|обнаглел\w*|беспредел\w*|кошмар\w*|ужасн?\w*|надоел\w*|достали|достало|задолбал\w*"
    r"|сколько\s+(?:можно|(?:еще\s+|мне\s+)?ждать)|в\s+который\s+раз"
    r"|(?:втор|трет|четверт|пят|шест|десят)\w*\s+раз\s+(?:уже\s+)?звон\w*"
    r"|звон\w*\s+(?:уже\s+)?(?:(?:втор|трет|четверт|пят|десят)\w*|котор\w*|\d+-?\w*)\s+"
    r"(?:раз\w*|день|дня|дней|недел\w*)|звон\w*\s+уже\s+(?:целую\s+)?(?:неделю|месяц)"
    r"|сил\s+(?:моих\s+|больше\s+)?нет|верните\s+(?:мои\s+)?деньги|в\s+суд|роспотребнадзор\w*"
    r"|прокуратур\w*|блин|черт|чертов\w*|офигел\w*|охренел\w*|хрен\w*)(?!\w)|!{2,}",
    re.IGNORECASE,
)


def complaint_signs(texts: Sequence[str], limit: int = 6) -> tuple[str, ...]:
    """Words that sound like a complaint or anger («безобразие», «третий раз звоню», «!!»),
    as the caller said them, each once, at most `limit`."""
    found: list[str] = []
    for text in texts:
        folded = _key(text)
        source = text if len(folded) == len(text) else folded
        found += [source[m.start() : m.end()] for m in _COMPLAINT.finditer(folded)]
    unique = dict.fromkeys(f.lower() if not f.startswith("!") else "!!" for f in found)
    return tuple(unique)[:limit]


# --- as the operator reads them -------------------------------------------------------------

ENTITY_LABELS = {
    "phones": "телефон",
    "accounts": "номер договора/счёта",
    "amounts": "сумма",
    "addresses": "адрес",
    "dates": "дата",
}


def shown_entities(
    entities: Entities, mode: MaskMode, *, formatted: bool = True
) -> dict[str, list[str]]:
    """Each kind's values as shown (keys as ENTITY_LABELS): phones formatted «+7 916 123-45-67»
    unless not `formatted`, amounts in roubles; phones and accounts partially masked in `full`
    mode (the caller's words are masked completely there)."""
    phones = [format_phone(p) if formatted else p for p in entities.phones]
    accounts = list(entities.accounts)
    if mode == "full":
        phones = [mask_phone(s, p) for s, p in zip(phones, entities.phones, strict=True)]
        accounts = [mask_account(a, a) for a in accounts]
    return {
        "phones": phones,
        "accounts": accounts,
        "amounts": [f"{a} руб." for a in entities.amounts],
        "addresses": list(entities.addresses),
        "dates": list(entities.dates),
    }


def entity_lines(shown: dict[str, list[str]]) -> list[str]:
    """«телефон +7 916 123-45-67», «сумма 300 руб.», ... from shown_entities."""
    return [f"{ENTITY_LABELS[kind]} {value}" for kind, values in shown.items() for value in values]


def shown_words(text: str, mode: MaskMode) -> str:
    """A caller's utterance as the card shows it: dictated numbers (5+ digits) as digits, then
    phone and account numbers masked per `mode`."""
    return mask_pii(spoken_to_digits(text, min_digits=5), mode)
