"""Personal numbers in a text, however their digits are written.

A young person may type a phone or ID number in any digits (１３８, 一三八, 幺三八, ①③⑧),
parted in any way (138·1234·5678, 1 3 8 - 1 2 3 4 - 5 6 7 8), glued to words (小陆138…)
or to other numbers. :func:`read_numbers` reads each run of digits as one number or
several, in ASCII digits and in place, and :data:`NUMBER_PATTERNS` find the mobile,
landline, ID and bank card numbers in what it read. What is masked, and how, is
:mod:`bot.services.privacy`'s to say.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections import Counter
from collections.abc import Callable

__all__ = ["JOINED", "NUMBER_PATTERNS", "read_numbers"]

# Stands in for what parted the digits of one number (138·1234·5678, 一 三 八 …) once the
# digits are put together; part of the number's span, matched by no pattern.
JOINED = "\x01"
# Stands in for what parts the years or dates of a list (2019/2020/2021/2022) once read;
# matched by no pattern, so no card number is read across it.
_APART = "\x02"

# Digits written out one by one in Chinese (一三八…, 幺 for 1 as it is read aloud, 〇/零/○
# for 0, the banker's 壹贰叁, simplified or traditional), each one ASCII digit.
_NUMERALS = {
    **dict.fromkeys("〇零○", "0"),
    **dict.fromkeys("一幺壹", "1"),
    **dict.fromkeys("二两兩贰貳", "2"),
    **dict.fromkeys("三叁参參", "3"),
    **dict.fromkeys("四肆", "4"),
    **dict.fromkeys("五伍", "5"),
    **dict.fromkeys("六陆陸", "6"),
    **dict.fromkeys("七柒", "7"),
    **dict.fromkeys("八捌", "8"),
    **dict.fromkeys("九玖", "9"),
}
# Circled and other enclosed digits (①③⑧…), which are no decimal digits to Unicode.
_ENCLOSED = {
    **{chr(0x2460 + n): str(n + 1) for n in range(9)},  # ①-⑨
    **{chr(0x2776 + n): str(n + 1) for n in range(9)},  # ❶-❾
    **{chr(0x2780 + n): str(n + 1) for n in range(9)},  # ➀-➈
    **{chr(0x278A + n): str(n + 1) for n in range(9)},  # ➊-➒
    **{chr(0x24F5 + n): str(n + 1) for n in range(9)},  # ⓵-⓽
    **dict.fromkeys("⓪⓿🄋", "0"),
}
_NUMERALS |= _ENCLOSED
# What may part the digits of one number: spaces (a no-break, en, em, thin or zero-width
# space, a tab too), and a dot, dash (any of Unicode's, the minus sign, doubled as in
# 138——1234), underscore, slash, tilde, comma or the ideographic full stop (a dot typed
# with a Chinese input method) with a space on either side or none. Two spaces may part
# them as well.
_SPACES = " \t\u00a0" + "".join(map(chr, range(0x2000, 0x200C))) + "\u202f\u205f\u2060\ufeff"
_MARKS = "-.·・•‧∙⋅﹒_/~〜\u2010\u2011\u2012\u2013\u2014\u2015\u2043\u2212\ufe63,、。"
_GAP = rf"(?:[{_SPACES}]?[{re.escape(_MARKS)}]{{1,2}}[{_SPACES}]?|[{_SPACES}]{{1,2}})"
# A run of digits in any script (Chinese numerals, １２３, 𝟏𝟐𝟑, ١٢٣, ①②③), one gap at most
# between two. 十/百/千/万 end a run: 三百元, 十二月 and 二十三 are amounts and dates, never a
# number read out digit by digit.
_DIGIT = rf"(?:\d|[{''.join(_NUMERALS)}])"
_DIGIT_RUN = re.compile(rf"{_DIGIT}(?:{_GAP}?{_DIGIT})+")
_SEPARATOR = re.compile(_GAP)
# Commas part a list (2023、2024、2025, 1,380,000) more often than a number: groups parted by
# them make one number only when they are of three digits or more and not all as long.
_LIST_MARKS = frozenset(",、")
# An ID number's digits put together, whatever their groups (110101 2005 01 01 1234): 18,
# or 17 before the check character X. No list or date has its area code and birth date.
_ID_DIGITS = re.compile(
    r"[1-9][0-9]{5}(?:18|19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])[0-9]{3,4}"
)
# The digits of a number that can be told from digits alone: a mobile number (its country
# code with it) or an ID number (18, 17 before an X, or the old 15), then a landline number
# with its area code.
_SURE_NUMBERS = (
    re.compile(
        rf"(?:0086|86)?1[3-9][0-9]{{9}}|{_ID_DIGITS.pattern}"
        r"|[1-9][0-9]{7}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])[0-9]{3}"
    ),
    re.compile("0[1-9][0-9]{1,2}[2-9][0-9]{6,7}"),
)
# Chinese numerals are words too (陆 and 伍 are surnames, 老二, 老幺, 两个, 一直, 三点, 高三,
# 人参): up to this many glued to a number on either side may be a word, not digits.
_WORD_DIGITS = 3
_WORD_NUMERALS = frozenset(_NUMERALS) - frozenset(_ENCLOSED)
_WORD_NUMERAL_CHARS = "".join(sorted(_WORD_NUMERALS))
# How many digits a number glued to numeral words may have, the words with it: a mobile
# number's eleven to an ID number's eighteen and the words on either side.
_WORDED_MIN_DIGITS = 11
_WORDED_MAX_DIGITS = 18 + 2 * _WORD_DIGITS
# Chinese numerals next to digits of another script with nothing between them: where a
# number glued to numeral words may end (12345678陆13812345678, 12345678陆一三八…), as
# :func:`_part_at_words` and :func:`_part_at_script_change` decide.
_OTHER_DIGIT = rf"[\d{''.join(_ENCLOSED)}]"
_WORD_DIGIT = f"[{_WORD_NUMERAL_CHARS}]"
_GLUED_WORDS = re.compile(rf"(?<={_OTHER_DIGIT}){_WORD_DIGIT}+(?={_OTHER_DIGIT})")
_SCRIPT_CHANGE = re.compile(
    rf"(?<={_OTHER_DIGIT})(?={_WORD_DIGIT})|(?<={_WORD_DIGIT})(?={_OTHER_DIGIT})"
)
# How many digits a number told from its digits alone may have, most first (an ID number,
# a mobile number with its country code, a landline number), and a card number.
_SURE_SIZES = (18, 17, 15, 13, 12, 11, 10)
_CARD_SIZES = range(16, 20)
_OLD_ID = re.compile("[0-9]{15}")
# How an ID number's area code begins: its province's code. Read after other digits, an
# ID number's eighteen must begin so: dates in a row (2008.09-2012.07 2012.09) hold as
# many digits with a birth date in place, but begin with 19 or 20, which no province has.
_PROVINCES = re.compile("1[1-5]|2[1-3]|3[1-7]|4[1-6]|5[0-4]|6[1-5]|71|8[1-3]|91")
# A year, a year and a month, or a date, as digits (2026, 202605, 20260501).
_DATE = re.compile(r"(?:19|20)[0-9]{2}(?:(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])?)?")
# How a mobile number begins, or its country code.
_MOBILE_HEADS = frozenset({*(f"1{digit}" for digit in "3456789"), "86"})
# Shorter runs are left as written: 二〇二六 (a year), 三〇二 (a room), 一二三 (counting).
# No personal number is shorter (a QQ number has five digits).
_RUN_MIN_DIGITS = 5
# Words that say a phone number follows, up to six other characters before a run of
# digits (电话 2 1 3 8…, 我的手机号是 1 3 8…, call me: 1-3-8…, 加我微信 1 3 8…, 联系方式：…,
# QQ 1 3 8…), or a country code's plus (+86 1 3 8…, +86) 1 3 8…): a mobile number is read
# out of single digits going on past it, which without them are a list (see
# :func:`_read_on`). Traditional forms too, for a text not read in simplified characters.
_PHONE_CUE = re.compile(
    r"(?:(?:电话|電話|手机|手機|号码|號碼|联系|聯繫|聯系|打|拨|撥|致电|致電|短信|加我"
    r"|微信|威信|薇信|v信|扣扣|企鹅|企鵝"
    r"|(?<![a-z])(?:call|tel|phone|mobile|qq|wx|vx|wechat|weixin))[^0-9\n]{0,6}"
    r"|\+(?:86\)?[^0-9\n]{0,2})?)$",
    re.IGNORECASE,
)
_CUE_REACH = 12
# How many single digits a list read out goes on past a mobile number in it to be a
# list (see :func:`_read_on`).
_LIST_MORE = 2
# A word glued to a run's single last digit (3点, 2个号, 5号, 9am) or first one (第2, 高3),
# or a measure word after a space (1 班, 3 点后): the digit is the word's, a count or a
# time, not one more of a list read out (see :func:`_read_on`) nor of the number beside
# it. Traditional forms too, for a text not read in simplified characters.
_MEASURE_WORDS = (
    "点點个個号號班楼樓层層栋棟岁歲次年月日天周週元块塊分秒时時位名张張本条條页頁题題届屆"
)
_WORD_AFTER = re.compile(rf"[^\W\d_]|[{_SPACES}]{{1,2}}[{_MEASURE_WORDS}]")
_WORD_BEFORE = re.compile(r"[^\W\d_]")

# A mobile number as people group it: whole, or in two or three groups of three digits or
# more (138 1234 5678, 138 123 45678, 1381 234 5678, 138 12345678), as :func:`_one_number`
# reads groups; digits read out one by one are put together before. Not a list of short
# numbers that happens to add up to eleven digits after a 13 to 19 (分数 135 120 98 100).
_MOBILE_GROUPS = [
    (11,),
    *((first, 11 - first) for first in range(3, 9)),
    *(
        (first, second, 11 - first - second)
        for first in range(3, 6)
        for second in range(3, 9 - first)
    ),
]
# Or its last four or eight digits in pairs (138 1234 56 78, 138 12 34 56 78), the same
# pause between all its groups when read by :func:`_parts`. A list of a score of 130 to
# 199 and four of two digits (135 98 87 76 65) is read as a mobile number too: nothing
# tells the two apart, and a number shown is worse than a list hidden.
_MOBILES_IN_PAIRS = ((3, 4, 2, 2), (3, 2, 2, 2, 2))
_MOBILE = "(?=1[3-9])(?:{})".format(
    "|".join(
        "[ -]".join(f"[0-9]{{{size}}}" for size in sizes)
        for sizes in [*_MOBILE_GROUPS, *_MOBILES_IN_PAIRS]
    )
)
# Or its first three digits in brackets, as an area code is written ((138)1234-5678,
# （138）1234 5678): the brackets end no digit run, so its groups are read alone.
_BRACKETED_MOBILE = r"\(\s?1[3-9][0-9]\s?\)\s?[0-9]{4}[ -]?[0-9]{4}"
# What parts a bank card number's groups: a space or a dash, unless a whole mobile number
# follows it (a separate number).
_CARD_GAP = r"(?:[ -](?!1[3-9][0-9]{9}(?![0-9])))"
# Four years in a row, parted by a space or a dash, and no short group after them that
# would end a card number (2023 2024 2025 2026): a list of years. No card number begins
# with 19 or 20 (UnionPay 62, Visa 4, Mastercard 51-55 and 2221-2720, the old domestic 9).
_YEAR = "(?:19|20)[0-9]{2}"
_YEARS = rf"(?:{_YEAR}[ -]){{3}}{_YEAR}(?![0-9]|[ -][0-9]{{1,3}}(?![0-9]))"

NUMBER_PATTERNS: tuple[tuple[str, str], ...] = (
    # Order matters, as for the other kinds: an ID card holds phone-like digit runs.
    (
        "id_card",
        # 18 digits: area, birth date, sequence, check character (X); or the old 15. Parted
        # after the area and the birth date (and within it, 6-4-4-4), as people type it.
        # An X may follow a number put together (一…一二三X, 110101·2005·0101·123x) or a
        # space or other gap (110101 2005 0101 123 X).
        r"(?<![0-9])[1-9][0-9]{5}[\s-]?(?:18|19|20)[0-9]{2}[\s-]?(?:0[1-9]|1[0-2])"
        rf"(?:0[1-9]|[12][0-9]|3[01])[\s-]?[0-9]{{3}}(?:[0-9x]|{JOINED}*{_GAP}?x(?![a-z]))(?![0-9])"
        r"|(?<![0-9])[1-9][0-9]{7}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])[0-9]{3}(?![0-9])",
    ),
    # 16 to 19 digits, in groups of four when spaced; not a number and a mobile number
    # after it, whose lengths happen to add up (QQ 12345678 13812345678), nor years in a
    # row.
    (
        "bank_card",
        rf"(?<![0-9])(?!{_YEARS})[0-9]{{4}}(?:{_CARD_GAP}?[0-9]{{4}}){{3}}(?:{_CARD_GAP}?[0-9]{{1,3}})?(?![0-9])",
    ),
    (
        "phone",
        # The country code with it, however parted from the number, with a + or none
        # (+86·138…, 86 138…, 8613812345678).
        rf"(?<![0-9])(?:(?:\+|00)?86{_GAP}?|\(\+?86\)\s?)?(?:{_MOBILE}|{_BRACKETED_MOBILE})"
        r"(?![0-9])",
    ),
    (
        "landline",
        # A local number begins with 2 to 9; after an area code in brackets, which says
        # a phone number follows, with any digit (a made-up or mistyped one is hidden too).
        r"(?<![0-9])(?:0[0-9]{2,3}[ -]?[2-9]|\(\s?0[0-9]{2,3}\s?\)[ -]?[0-9])"
        r"(?:[0-9]{6,7}|[0-9]{2,3}[ -][0-9]{4})(?![0-9])",
    ),
)
"""The kinds of number told from their digits (and the bank card, which may be any), as
``(kind, pattern)`` in the order they are looked for; compiled ASCII and ignoring case."""
_NUMBER_KINDS = tuple(
    (kind, re.compile(pattern, re.ASCII | re.IGNORECASE)) for kind, pattern in NUMBER_PATTERNS
)

# The kinds of number told from their digits alone, and the bank card, which may be any.
_SURE_KINDS = tuple(
    pattern for kind, pattern in _NUMBER_KINDS if kind in ("id_card", "phone", "landline")
)
_BANK_CARD = next(pattern for kind, pattern in _NUMBER_KINDS if kind == "bank_card")
_ID_CARD = next(pattern for kind, pattern in _NUMBER_KINDS if kind == "id_card")


def read_numbers(text: str, in_address: Callable[[int, int], bool]) -> str:
    """The text with each run of digits read as the numbers in it are written.

    Args:
        text: Text folded to half-width characters (and simplified ones, where that keeps
            every character in its place).
        in_address: Whether a span of the text lies in an e-mail address or a WeChat id,
            whose digits are read whole by those patterns and left as written.

    Returns:
        The text, the same length (so spans found in it are the text's): each number's
        digits put together in ASCII, what parted them after them as :data:`JOINED`;
        Chinese numerals glued to a number as words, and everything else, as written.
    """
    return _DIGIT_RUN.sub(lambda match: _as_digits(match, in_address), text)


def _ascii_digit(char: str) -> str:
    return _NUMERALS.get(char) or str(unicodedata.decimal(char))


def _one_number(groups: list[str], separators: list[str]) -> bool:
    """Whether digits parted so are one number: read out one by one with the same pause
    (1 3 8 …, 一-三-八…), or in groups of three or more (138 1234 5678, 110101 2005…), or
    a mobile number's last digits in pairs with the same pause (138.1234.56.78,
    138.12.34.56.78). Not a list (1.5 2.5 3.5, 2026.05.01, 13 14 15, 1、2、3, 2023、2024、
    2025), unless it is a mobile or ID number read out so (138、1234、56、78, 1、3、8、1、2、
    3、4、5、6、7、8)."""
    spelled = all(len(group) == 1 for group in groups) or _in_pairs(groups)
    if any(_LIST_MARKS & set(separator) for separator in separators):
        if spelled and len(set(separators)) == 1:
            digits = _digits(groups)
            return bool(_SURE_NUMBERS[0].fullmatch(digits))
        lengths = {len(group) for group in groups}
        return min(lengths) >= 3 and len(lengths) > 1
    if spelled:
        return len(set(separators)) == 1
    return all(len(group) >= 3 for group in groups)


def _in_pairs(groups: list[str]) -> bool:
    """Whether groups are a mobile number's, its last four or eight digits in pairs (138 1234
    56 78, 138 12 34 56 78)."""
    return tuple(map(len, groups)) in _MOBILES_IN_PAIRS and bool(
        _SURE_NUMBERS[0].fullmatch("".join(map(_ascii_digit, "".join(groups))))
    )


def _parts(groups: list[str], separators: list[str]) -> list[tuple[int, int]]:
    """The parts of a run of digits that may each be one number, as ranges of its groups:
    groups of three digits or more in a row, or single digits with the same pause between
    them. A group of two is a part alone, so a short number beside a long one is no part
    of it (+86 138·1234·5678, 138·1234·5678 3点, 第2 一三八…); so is a whole mobile or ID
    number, a number of its own (QQ 一二三四五六七八 一三八一二三四五六七八), and one glued
    to numeral words (QQ 12345678 陆13812345678, see :func:`_worded_numbers`). A mobile
    number with its last digits in pairs, the same pause between all its groups, is one
    part (138·1234·56·78, 138·12·34·56·78)."""
    whole = [
        bool(_SURE_NUMBERS[0].fullmatch("".join(map(_ascii_digit, group)))) for group in groups
    ]
    digits = "".join(map(_ascii_digit, "".join(groups)))
    if any(shapes.fullmatch(digits) for shapes in _SURE_NUMBERS):
        ends: set[int] = set()
    else:
        ends = _worded_numbers(groups, digits)
    # Where a mobile number in pairs starts, and the group after its end.
    paired = {
        i: i + len(shape)
        for shape in _MOBILES_IN_PAIRS
        for i in range(len(groups) - len(shape) + 1)
        if _in_pairs(groups[i : i + len(shape)])
        and len(set(separators[i : i + len(shape) - 1])) == 1
    }
    parts: list[tuple[int, int]] = []
    first = 0
    for i in range(1, len(groups)):
        if first in paired:
            joined = i < paired[first]
        else:
            grouped = (
                len(groups[first]) >= 3
                and len(groups[i]) >= 3
                and not whole[i - 1]
                and not whole[i]
            )
            spelled = len(groups[first]) == len(groups[i]) == 1
            joined = (
                i not in paired
                and i not in ends
                and (grouped or (spelled and separators[i - 1] == separators[first]))
            )
        if not joined:
            parts.append((first, i))
            first = i
    parts.append((first, len(groups)))
    return parts


def _worded_numbers(groups: list[str], digits: str) -> set[int]:
    """Where the numbers glued to numeral words in a run of digits start and end, as
    indices of its groups (``digits``: the run's digits in ASCII). A group alone, or groups
    beginning with numeral words glued to digits of another script or ending so (QQ
    12345678 陆13812345678, QQ 12345678 陆138 1234 5678, QQ 12345678 13812345678两个号),
    that are a mobile, ID or landline number once the words are left off, as
    :func:`_numeral_words` leaves them off. Read with the number before them, they made no
    number at all. Only for a run that is no such number itself: within one, the words
    are its digits."""
    ends: set[int] = set()
    lead = [len(group) - len(group.lstrip(_WORD_NUMERAL_CHARS)) for group in groups]
    trail = [len(group) - len(group.rstrip(_WORD_NUMERAL_CHARS)) for group in groups]
    # Groups beginning, or ending, with numeral words glued to digits of another script.
    opens = [0 < words < len(group) for words, group in zip(lead, groups, strict=True)]
    closes = [0 < words < len(group) for words, group in zip(trail, groups, strict=True)]
    if (
        not any(opens)
        and not any(closes)
        and not any(
            words and len(group) >= _WORDED_MIN_DIGITS
            for words, group in zip(lead, groups, strict=True)
        )
    ):
        return ends
    before = _offsets(groups)
    first = 0
    while first < len(groups):
        reach = first
        for last in range(first + 1, len(groups) + 1):
            start, end = before[first], before[last]
            if end - start > _WORDED_MAX_DIGITS:
                break
            if end - start < _WORDED_MIN_DIGITS:
                continue
            if last == first + 1:
                fronts, backs = _word_cuts(lead[first], 0), _word_cuts(trail[first], 0)
            elif not (opens[first] or closes[last - 1]):
                continue
            else:
                fronts = _word_cuts(lead[first], len(groups[first]))
                backs = _word_cuts(trail[last - 1], len(groups[last - 1]))
            if any(
                front + back and shapes.fullmatch(digits, start + front, end - back)
                for front in fronts
                for back in backs
                for shapes in _SURE_NUMBERS
            ):
                reach = last
        if reach > first:
            ends |= {first, reach}
            first = reach
        else:
            first += 1
    return ends


def _word_cuts(words: int, size: int) -> set[int]:
    """How many numeral words may be left off a number's end, ``words`` of them there: up
    to :data:`_WORD_DIGITS`, or all of them before digits of another script. With
    ``size``, the group's length, only words glued to digits of another script."""
    if size and words in (0, size):
        return {0}
    return {*range(min(words, _WORD_DIGITS) + 1), words}


def _numeral_words(run: str) -> tuple[int, int]:
    """Where the number in a run of digits starts and ends, when Chinese numerals glued
    to it are words (小陆13812345678, 老二一三八…, 13812345678两个号): the run read whole is
    no mobile, ID or landline number, but is one once up to :data:`_WORD_DIGITS` numerals
    (or all of them, before digits of another script) are left off either end. The run's
    own start and end otherwise; mobile and ID numbers before landline numbers, then the
    fewest numerals left off."""
    at = [i for i, char in enumerate(run) if char in _NUMERALS or char.isdecimal()]
    digits = "".join(_ascii_digit(run[i]) for i in at)
    words = [run[i] in _WORD_NUMERALS for i in at]
    lead = next((k for k, word in enumerate(words) if not word), len(at))
    trail = next((k for k, word in enumerate(reversed(words)) if not word), len(at))
    cuts = sorted(
        (front + back, front, back)
        for front in {*range(min(lead, _WORD_DIGITS) + 1), lead}
        for back in {*range(min(trail, _WORD_DIGITS) + 1), trail}
        if front + back < len(at)
    )
    for shapes in _SURE_NUMBERS:
        for _, front, back in cuts:
            if shapes.fullmatch(digits, front, len(at) - back):
                return at[front], at[len(at) - back - 1] + 1
    return 0, len(run)


def _as_digits(match: re.Match[str], in_address: Callable[[int, int], bool]) -> str:
    """A long run of digits in ASCII, the same length (the spans stay in place): each
    number's digits put together, its separators after them as :data:`JOINED`; Chinese
    numerals glued to a number as words are left as written."""
    run = match.group(0)
    if in_address(*match.span()):
        # Part of an address the e-mail and WeChat patterns read whole.
        return run
    start, end = match.span()
    text = match.string
    cued = bool(_PHONE_CUE.search(text, max(0, start - _CUE_REACH), start))
    # Read without a digit glued to a word at either end too, and so when that hides more
    # (1 3 8 1 2 3 4 5 6 7 8 3点后 is a mobile number and a time, not twelve digits).
    fronts, backs = _word_digit_cuts(run, text, start, end)
    readings = [
        run[:front] + _read_run(run[front:back], cued=cued) + run[back:]
        for front in fronts
        for back in backs
    ]
    return max(readings, key=_hidden)


def _word_digit_cuts(run: str, text: str, start: int, end: int) -> tuple[list[int], list[int]]:
    """Where a run of digits (``start`` to ``end`` in ``text``) may be read from and to: its
    start and end, and past a single first or last digit glued to a word (第2 1 3 8…, …7 8
    3点后, …7 8 1 班; see :data:`_WORD_AFTER`), with the pause beside it."""
    groups = _SEPARATOR.split(run)
    separators = _SEPARATOR.findall(run)
    fronts, backs = [0], [len(run)]
    if not separators:
        return fronts, backs
    if len(groups[0]) == 1 and start and _WORD_BEFORE.match(text, start - 1):
        fronts.append(1 + len(separators[0]))
    if len(groups[-1]) == 1 and _WORD_AFTER.match(text, end):
        backs.append(len(run) - 1 - len(separators[-1]))
    return fronts, backs


def _digits(groups: list[str]) -> str:
    """The ASCII digits of groups, put together."""
    return "".join(_ascii_digit(char) for group in groups for char in group)


def _offsets(groups: list[str]) -> list[int]:
    """How many digits come before each group (and after the last)."""
    return list(itertools.accumulate(map(len, groups), initial=0))


def _starts(groups: list[str], separators: list[str]) -> list[int]:
    """Where each group starts in the run it was split from."""
    starts = [0]
    for group, separator in zip(groups, separators, strict=False):
        starts.append(starts[-1] + len(group) + len(separator))
    return starts


def _written(groups: list[str], separators: list[str]) -> str:
    """Groups in ASCII digits with ``separators`` between them."""
    written = [_ascii_digit(char) for char in groups[0]]
    for separator, group in zip(separators, groups[1:], strict=True):
        written += [separator, *map(_ascii_digit, group)]
    return "".join(written)


def _read_run(run: str, *, apart: bool = True, cued: bool = False) -> str:
    """:func:`_as_digits` for a run, or for a part of one; ``apart``: look for a number
    glued to others when the run read whole holds none (see :func:`_part_at_numbers`);
    ``cued``: a phone number is said to follow (see :data:`_PHONE_CUE`)."""
    groups = _SEPARATOR.split(run)
    separators = _SEPARATOR.findall(run)
    digits = _digits(groups)
    if len(digits) < _RUN_MIN_DIGITS:
        return run
    start, end = _numeral_words(run)
    # Numerals read out among numerals with one pause between all are no words beside a
    # number but more of a list (答案 一 三 二 四 二 三 一 四 二 三 一 二; see
    # :func:`_read_on`); beside digits of another script they are (1 3 8 … 8 一直).
    words_apart = (start, end) != (0, len(run))
    if words_apart and (
        cued or not _spelled_list(groups, separators) or not set(groups) <= _WORD_NUMERALS
    ):
        worded = run[:start] + _read_run(run[start:end], cued=cued) + run[end:]
        # The numerals may be a card number's digits all the same, the number left when
        # they are words one that hides nothing (六二二二_二八零零_…_三四 holds an old ID
        # number's fifteen after 六二二; see :func:`_hidden`): then the run is read whole.
        whole = _read_groups(run, groups, separators, digits)
        return whole if _hidden(worded) == 0 < _hidden(whole) else worded
    reading = _read_groups(run, groups, separators, digits)
    if not apart or any(shapes.fullmatch(digits) for shapes in _SURE_NUMBERS):
        return reading
    # The run may hold a number glued to numeral words or to other digits, which read
    # whole made the run too long for any number, or a shorter one that took some of its
    # digits: read apart, the run is read so when more of it is hidden.
    readings = [
        reading,
        _part_at_words(run),
        _part_at_script_change(run),
        _part_at_numbers(run, groups, separators, cued=cued),
    ]
    return max((found for found in readings if found is not None), key=_hidden)


def _read_groups(run: str, groups: list[str], separators: list[str], digits: str) -> str:
    """:func:`_read_run` for a run read whole, its groups and their digits given."""
    if separators and _id_groups(groups, separators) and _ID_DIGITS.fullmatch(digits):
        # An ID number, its birth date parted too (110101.2005.01.01.1234).
        return digits + JOINED * sum(map(len, separators))
    if _read_out_number(groups, separators):
        # Digits read out one by one in a number's groups (1 3 8 - 1 2 3 4 - 5 6 7 8).
        return digits + JOINED * sum(map(len, separators))
    # Groups of ASCII digits parted by one space or dash are left as written: the patterns
    # read them so (138 1234 5678), and two numbers side by side stay two (QQ 12345678
    # 13812345678). Digits read out one by one are put together all the same.
    as_read = run.isascii() and set(separators) <= {" ", "-"}
    pieces: list[str] = []
    starts = _starts(groups, separators)
    parts = _with_card_ends(_parts(groups, separators), groups, separators)
    for first, last in _with_read_out_numbers(parts, groups, separators):
        part, between = groups[first:last], separators[first : last - 1]
        part_digits = _digits(part)
        if first:
            pieces.append(separators[first - 1])
        text = run[starts[first] : starts[last - 1] + len(groups[last - 1])]
        if len(part) < len(groups) and _numeral_words(text) != (0, len(text)):
            # A number with a numeral word glued to it, beside another.
            pieces.append(_read_run(text))
        elif between and not as_read and _card_end(part, between):
            pieces.append(part_digits + JOINED * sum(map(len, between)))
        elif (
            between
            and len(part_digits) in _CARD_SIZES
            and _dated(part)
            and (last == len(groups) or len(groups[last]) > 3)
            and not _ID_DIGITS.fullmatch(part_digits)
        ):
            # Years or dates in a row (2019/2020/2021/2022, 20260501-20260507): no card
            # number begins with 19 or 20. A short group after them may end a card's
            # number all the same, as for :data:`_YEARS`.
            pieces.append(_written(part, [_APART * len(sep) for sep in between]))
        elif (
            between
            and len(part_digits) >= _RUN_MIN_DIGITS
            and (_one_number(part, between) or _read_out_number(part, between))
            and not (as_read and len(part[0]) > 1)
        ):
            pieces.append(part_digits + JOINED * sum(map(len, between)))
        else:
            pieces.append(_written(part, between))
    return "".join(pieces)


def _with_card_ends(
    parts: list[tuple[int, int]], groups: list[str], separators: list[str]
) -> list[tuple[int, int]]:
    """:func:`_parts` with a group of one to three digits after a card number's sixteen
    put with them when :func:`_card_end` says it ends the card; a part alone, it was shown
    after the card's label (卡号 [银行卡]/1)."""
    merged: list[tuple[int, int]] = []
    for first, last in parts:
        if (
            merged
            and last == first + 1
            and _card_end(groups[merged[-1][0] : last], separators[merged[-1][0] : first])
        ):
            merged[-1] = (merged[-1][0], last)
        else:
            merged.append((first, last))
    return merged


def _card_end(groups: list[str], separators: list[str]) -> bool:
    """Whether groups are a card number's sixteen digits in fours (or eights) and a last
    group of one to three digits (6222/0212/3456/7890/1, 6222.0212.3456.7890.12), which
    the bank card pattern reads after a space or a dash. Years in a row are a card so too
    (卡号 2019/2020/2021/2022/1), as for :data:`_YEARS`. Not parted by list marks:
    2023、2024、2025、2026、1 is a list."""
    *fours, end = groups
    return (
        bool(fours)
        and sum(map(len, fours)) == 16
        and all(len(four) % 4 == 0 for four in fours)
        and len(end) <= 3
        and not _LIST_MARKS & set("".join(separators))
    )


def _with_read_out_numbers(
    parts: list[tuple[int, int]], groups: list[str], separators: list[str]
) -> list[tuple[int, int]]:
    """``parts`` with single digits read out in a number's groups, another pause between
    the groups, put together when :func:`_read_out_number` says they are one number
    (QQ 12345678 1 3 8 - 1 2 3 4 - 5 6 7 8): :func:`_parts` parts them where the pause
    changes, and read alone, the number was shown beside another. Only all the single
    digits in a row together, as for a run of them alone."""
    merged: list[tuple[int, int]] = []
    stretch: list[tuple[int, int]] = []
    for part in [*parts, (len(groups), len(groups))]:
        first, last = part
        if first < len(groups) and all(len(group) == 1 for group in groups[first:last]):
            stretch.append(part)
            continue
        if len(stretch) > 1 and _read_out_number(
            groups[stretch[0][0] : stretch[-1][1]], separators[stretch[0][0] : stretch[-1][1] - 1]
        ):
            stretch = [(stretch[0][0], stretch[-1][1])]
        merged += stretch
        stretch = []
        if first < len(groups):
            merged.append(part)
    return merged


def _read_out_number(groups: list[str], separators: list[str]) -> bool:
    """Whether groups are one number's digits read out one by one in its groups, another
    pause between the groups (see :func:`_read_out_in_groups`)."""
    read_out = _read_out_in_groups(groups, separators)
    return read_out is not None and _one_number(*read_out)


def _read_out_in_groups(
    groups: list[str], separators: list[str]
) -> tuple[list[str], list[str]] | None:
    """Single digits read out one by one within groups and another pause between the
    groups (1 3 8 - 1 2 3 4 - 5 6 7 8, 1-3-8 1-2-3-4 5-6-7-8), as the groups (each its
    digits as written, put together) and the pauses between them, for :func:`_one_number`
    to tell whether they are one number. The pause within the groups is the one that parts
    the most digits, and no list mark. None when the run is not so read: a group of more
    than one digit, or one pause throughout."""
    if any(len(group) != 1 for group in groups) or len(set(separators)) < 2:
        return None
    ((within, _),) = Counter(separators).most_common(1)
    if _LIST_MARKS & set(within):
        return None
    joined, between = [groups[0]], []
    for separator, group in zip(separators, groups[1:], strict=True):
        if separator == within:
            joined[-1] += group
        else:
            joined.append(group)
            between.append(separator)
    return joined, between


def _dated(groups: list[str]) -> bool:
    """Whether groups are years or dates in a row (2019 2020 2021 2022, 20260501 20260507,
    2026.0501-2026.0507): each a year, a year and a month, or a date, in one group or in
    more."""
    digits = _digits(groups)
    at = _offsets(groups)
    # The ends of groups that a list of dates from the first one reaches.
    reached = {0}
    for first, start in enumerate(at[:-1]):
        if start not in reached:
            continue
        for end in at[first + 1 :]:
            if end - start > len("20260501"):
                break
            if _DATE.fullmatch(digits, start, end):
                reached.add(end)
    return len(digits) in reached


def _id_groups(groups: list[str], separators: list[str]) -> bool:
    """Whether groups may be an ID number's however their digits fall: not a list, and
    no single digit but a last one before the check character (1101 0120 0801 0112 3X)."""
    return not any(_LIST_MARKS & set(separator) for separator in separators) and all(
        len(group) > 1 for group in groups[:-1]
    )


def _part_at_numbers(
    run: str, groups: list[str], separators: list[str], *, cued: bool = False
) -> str | None:
    """:func:`_read_run` for a run holding a mobile, ID or landline number in groups
    after or before other digits (学号 2023 110101 2008 01 01 1234, 2023.138.1234.5678):
    read whole, the digits made no number, and the number's groups were not all read by
    the patterns. The number's groups are put together, the rest read alone. A mobile or
    landline number so only when the run is no card number's length (1234.5678.1381.2345
    .678 is one card), and no list going on past it (:func:`_listed_on`,
    :func:`_read_on`) unless ``cued``: a phone word comes just before the run. Then its
    digits may also be read out in groups that run on past it (vx 1-3-8 1-2-3-4
    5-6-7-8-9), which without the word may be a list in groups (1 3 2 4 - 2 3 1 4 - 2 3
    1 2). None when the run holds no such number."""
    digits = _digits(groups)
    # Where each group's digits start, and which group starts at a digit.
    at = _offsets(groups)
    starting = {offset: k for k, offset in enumerate(at)}
    card = len(digits) in _CARD_SIZES
    numbers: list[tuple[int, int]] = []
    first = 0
    while first < len(groups) - 1:
        # What the number may be, told from its first digits and its birth date's century
        # (fewer patterns tried on a long run of digits that holds none).
        head = digits[at[first] : at[first] + 2]
        may_be_id = digits[at[first] + 6 : at[first] + 8] in ("18", "19", "20")
        may_be_phone = not card and (head[0] == "0" or head in _MOBILE_HEADS)
        for size in _SURE_SIZES if may_be_id or may_be_phone else ():
            last = starting.get(at[first] + size, 0)
            if last - first < 2 or last - first == len(groups):
                continue
            part, between = groups[first:last], separators[first : last - 1]
            if not cued and _listed_on(groups, separators, first, last):
                continue
            if (
                may_be_id
                and _PROVINCES.match(digits, at[first])
                and _ID_DIGITS.fullmatch(digits, at[first], at[last])
                and (_id_groups(part, between) or _one_number(part, between))
            ):
                break
            if (
                may_be_phone
                and any(shapes.fullmatch(digits, at[first], at[last]) for shapes in _SURE_NUMBERS)
                and (cued or not _read_on(groups, separators, first, last))
                and (_one_number(part, between) or (cued and _read_out_number(part, between)))
            ):
                break
        else:
            first += 1
            continue
        numbers.append((first, last))
        first = last
    if not numbers:
        return None
    starts = _starts(groups, separators)
    read: list[str] = []
    done = 0
    for first, last in [*numbers, (len(groups), len(groups))]:
        if first > done:
            # The groups between two numbers, read alone.
            text = run[starts[done] : starts[first - 1] + len(groups[first - 1])]
            read += [separators[done - 1] if done else "", _read_run(text, apart=False)]
        if first < len(groups):
            between = separators[first : last - 1]
            read += [
                separators[first - 1] if first else "",
                digits[at[first] : at[last]] + JOINED * sum(map(len, between)),
            ]
        done = last
    return "".join(read)


def _listed_on(groups: list[str], separators: list[str], first: int, last: int) -> bool:
    """Whether groups ``first`` to ``last`` are digits or pairs parted by a list mark that
    parts the groups beside them too: a list going on (1、3、8、1、2、3、4、5、6、7、8、9),
    not a number read out, which ends where the pause changes."""
    between = set(separators[first : last - 1])
    if not (_LIST_MARKS & set("".join(between))) or max(map(len, groups[first:last])) > 2:
        return False
    beside = separators[first - 1 : first] + separators[last - 1 : last]
    return bool(between & set(beside))


def _read_on(groups: list[str], separators: list[str], first: int, last: int) -> bool:
    """Whether groups ``first`` to ``last`` are single digits with one pause that go on
    for at least :data:`_LIST_MORE` single digits beside them with the same pause: a list
    read out (an answer key, 1 3 2 4 2 3 1 4 2 3 1 2 4 3), not a mobile or landline number
    read out, which ends where the digits or the pause change (QQ 12345678 1 3 8…).

    The trade-off: some eleven digits in a row of such a list often begin as a mobile
    number does (a 1, then 3 to 9: about one answer key of 1 to 4 in eight from each
    digit on), while a number read out digit by digit with two more digits beside it and
    the same pause is rare; so the list is shown, unless a phone word comes just before
    the run (电话 2 1 3 8 1 2 3 4 5 6 7 8 9 0: the number is read out of it and hidden).
    One digit more is not enough (1 3 8 1 2 3 4 5 6 7 8 9: a number and a stray digit,
    or a list; hidden), nor are digits that are another number read out (two mobile
    numbers in a row), nor one glued to a word (3点, 2个号: see :func:`_word_digit_cuts`). So
    is an ID number read out of a list: its area code and birth date are no chance (see
    :func:`_part_at_numbers`)."""
    if not _spelled_list(groups[first:last], separators[first : last - 1]):
        return False
    pause = separators[first]
    # As far as tells whether another number or enough digits go on either side (a long
    # list read to its ends from every digit on would take time growing with its square).
    reach = max(_SURE_SIZES) + _LIST_MORE
    before, after = first, last
    while (
        before > max(0, first - reach)
        and len(groups[before - 1]) == 1
        and separators[before - 1] == pause
    ):
        before -= 1
    while (
        after < min(len(groups), last + reach)
        and len(groups[after]) == 1
        and separators[after - 1] == pause
    ):
        after += 1
    more_before, more_after = _digits(groups[before:first]), _digits(groups[last:after])
    # Digits beside the number that begin with (or, before it, end with) another number
    # are no list going on.
    if any(
        shapes.fullmatch(more_before, len(more_before) - size)
        for size in _SURE_SIZES
        for shapes in _SURE_NUMBERS
        if size <= len(more_before)
    ):
        more_before = ""
    if any(
        shapes.fullmatch(more_after, 0, size)
        for size in _SURE_SIZES
        for shapes in _SURE_NUMBERS
        if size <= len(more_after)
    ):
        more_after = ""
    return len(more_before) + len(more_after) >= _LIST_MORE


def _spelled_list(groups: list[str], separators: list[str]) -> bool:
    """Whether groups are single digits with one pause between all (1 3 2 4, 一-三-二)."""
    return len(set(separators)) == 1 and all(len(group) == 1 for group in groups)


def _part_at_words(run: str) -> str | None:
    """:func:`_read_run` for a run with numeral words glued between digits of another
    script that part two numbers (QQ 12345678陆13812345678): read with the words as
    digits, the run made no number at all. The words part the run where the digits on
    either side, read alone up to the next such words, are a mobile, ID or landline
    number, or a card number with a number of five digits or more on the other side.
    Elsewhere they are digits (卡号62220212三4567890123, 卡号6222021234567890一23). None
    when no words part the run."""
    words = [match.span() for match in _GLUED_WORDS.finditer(run)]
    if not words:
        return None
    bounds = [0, *itertools.chain.from_iterable(words), len(run)]
    pieces = [run[bounds[k] : bounds[k + 1]] for k in range(0, len(bounds), 2)]
    readings = [_read_run(piece) for piece in pieces]
    sure = [_holds_sure_number(reading) for reading in readings]
    card = [bool(_BANK_CARD.search(reading)) for reading in readings]
    # How many digits come before each piece.
    before = list(itertools.accumulate((_count_digits(piece) for piece in pieces), initial=0))
    cuts = [
        span
        for k, span in enumerate(words)
        if sure[k]
        or sure[k + 1]
        or (card[k] and before[-1] - before[k + 1] >= _RUN_MIN_DIGITS)
        or (card[k + 1] and before[k + 1] >= _RUN_MIN_DIGITS)
    ]
    if not cuts:
        return None
    # The pieces' readings by where they start and end, for text between two cuts.
    known = {(bounds[2 * k], bounds[2 * k + 1]): reading for k, reading in enumerate(readings)}
    edges = [0, *itertools.chain.from_iterable(cuts), len(run)]
    parts = [run[start:end] for start, end in itertools.pairwise(edges)]
    read = [
        part if k % 2 else known.get(span) or _read_run(part)
        for k, (part, span) in enumerate(zip(parts, itertools.pairwise(edges), strict=True))
    ]
    return _glued(parts, read)


def _part_at_script_change(run: str) -> str | None:
    """:func:`_read_run` for a run whose digits of one script run on into a number in
    another that begins or ends with numeral words (QQ 12345678陆一三八一二三四五六七八,
    一三八一二三四五六七八两12345678): the two are read apart when the numerals read
    alone are a mobile, ID or landline number with the words left as written. Only where
    the script changes once: a run that changes more mixes scripts digit by digit, and
    nothing tells where one number ends. None when the run is not parted."""
    changes = [match.start() for match in _SCRIPT_CHANGE.finditer(run)]
    if len(changes) != 1:
        return None
    (change,) = changes
    head, tail = run[:change], run[change:]
    if run[change] in _WORD_NUMERALS:
        read_tail = _read_run(tail)
        words = len(read_tail) - len(read_tail.lstrip(_WORD_NUMERAL_CHARS))
        if not words or not _holds_sure_number(read_tail):
            return None
        parts = [head, tail[:words], tail[words:]]
        return _glued(parts, [_read_run(head), tail[:words], read_tail[words:]])
    read_head = _read_run(head)
    words = len(read_head) - len(read_head.rstrip(_WORD_NUMERAL_CHARS))
    if not words or not _holds_sure_number(read_head):
        return None
    parts = [head[:-words], head[-words:], tail]
    return _glued(parts, [read_head[:-words], head[-words:], _read_run(tail)])


def _glued(parts: list[str], read: list[str]) -> str:
    """The reading of a run parted at numeral words: ``parts`` alternate between text
    read (``read``, the same lengths) and the words, left as written. Words that are the
    digits of the number after or before them (QQ 13000000000零一12345678: 零一12345678)
    join both numbers; glued, only one span can hold them, so the first number's takes
    the other as :data:`JOINED` (both hidden, masking the text again changes nothing)."""
    for k in range(1, len(parts) - 1, 2):
        before, words, after = parts[k - 1], parts[k], parts[k + 1]
        if _holds_sure_number(read[k + 1]) and _holds_sure_number(read[k - 1]):
            continue
        if not _holds_sure_number(read[k + 1]) and _holds_sure_number(_read_run(words + after)):
            if _ends_in_number(read[k - 1]):
                read[k] = JOINED * len(words)
                read[k + 1] = JOINED * len(after)
        elif not _holds_sure_number(read[k - 1]):
            joined = _read_run(before + words)
            if _holds_sure_number(joined) and _ends_in_number(joined):
                read[k - 1], read[k] = joined[: len(before)], joined[len(before) :]
                read[k + 1] = JOINED * len(after)
    return "".join(read)


def _hidden(reading: str) -> int:
    """How many digits of text read by :func:`_read_run` the kinds of number hide. An old
    ID number's fifteen digits count for none: none has been issued since 2004 (no
    minor's), and fifteen digits with a month and a day in them are more often a number
    beside another (QQ 987654321一一一130 00000000 is no old ID number and a mobile's
    first digits, but a QQ and a mobile number)."""
    hidden = [False] * len(reading)
    for kind in (*_SURE_KINDS, _BANK_CARD):
        for match in kind.finditer(reading):
            if kind is not _ID_CARD or not _OLD_ID.fullmatch(match.group()):
                hidden[match.start() : match.end()] = [True] * (match.end() - match.start())
    return sum(hide and char in "0123456789" for hide, char in zip(hidden, reading, strict=True))


def _holds_sure_number(reading: str) -> bool:
    """Whether text read by :func:`_read_run` holds a mobile, ID or landline number."""
    return any(kind.search(reading) for kind in _SURE_KINDS)


def _ends_in_number(reading: str) -> bool:
    """Whether text read by :func:`_read_run` ends in a mobile, ID or landline number
    (its parting marks after it too)."""
    end = len(reading.rstrip(JOINED))
    return any(match.end() == end for kind in _SURE_KINDS for match in kind.finditer(reading))


def _count_digits(text: str) -> int:
    """How many digits a text holds, in any script :data:`_DIGIT_RUN` reads."""
    return sum(char in _NUMERALS or char.isdecimal() for char in text)
