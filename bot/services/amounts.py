"""An amount of yuan as people type it: ``300``, ``300元``, ``大概一百块吧``, ``三百五``,
``2百五``, ``五十元左右``; the words around the number (a hedge, a unit, a particle) are
taken off, and what is left must be a number, in digits or Chinese numerals.

Its Chinese literals are patterns to recognise, not texts anyone is shown.
"""

from __future__ import annotations

import re
import unicodedata

from knowledge.normalize import cn_to_arabic, to_simplified

__all__ = ["parse_yuan"]

# No amount takes more words than this; a longer text is no amount (and NFKC can make
# thousands of digits of a few characters: ⑳ is "20").
_LONGEST = 40
# The currency sign NFKC leaves full-width.
_SIMPLIFIED = str.maketrans({"￥": "¥"})
# Words before the number: "about", "in all", a currency sign.
_BEFORE = re.compile(
    r"^(?:大概|大约|大致|约莫|约|差不多|估计|预计|可能|应该|一共|总共|"
    r"about|around|roughly|approximately|approx\.?|~|≈|¥|rmb|cny)\s*"
)
# Words after it: a unit of yuan, "or so", "exactly", a closing particle or thanks, and
# punctuation or emoji.
_AFTER = re.compile(
    r"\s*(?:块钱|块|元钱|元|圆|人民币|rmb|cny|yuan|左右|上下|的样子|整|的|吧|啦|呀|哦|啊|"
    r"呢|哈|嘛|谢谢|thanks|thank you|[^\w\s+]+)$"
)
# What must be left: digits and Chinese numerals (their value is read by cn_to_arabic).
_NUMBER = re.compile(r"[0-9零〇一二两三四五六七八九十百千万]+")


def parse_yuan(text: str) -> int | None:
    """The whole number of yuan ``text`` gives, or None when it gives no amount (other
    words, a range, a fraction, a vague "几百" or "一百多"). The caller checks the range:
    ``5千`` is 5000, not 5."""
    if len(text) > _LONGEST:
        return None
    simplified = to_simplified(text)
    rest = unicodedata.normalize("NFKC", simplified).translate(_SIMPLIFIED).strip().casefold()
    while True:
        trimmed = _AFTER.sub("", _BEFORE.sub("", rest)).strip()
        if trimmed == rest:
            break
        rest = trimmed
    if not _NUMBER.fullmatch(rest):
        return None
    return cn_to_arabic(rest)
