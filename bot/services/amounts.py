"""An amount of yuan as people type it: ``300``, ``300元``, ``大概一百块吧``, ``三百五``,
``2百五``, ``五十元左右``; the words around the number (a hedge, a unit, a particle) are
taken off, and what is left must be a number, in digits or Chinese numerals.

Its Chinese literals are patterns to recognise, not texts anyone is shown.
"""

from __future__ import annotations

import re
import unicodedata

from knowledge.normalize import cn_to_arabic

__all__ = ["parse_yuan"]

# Traditional forms of what follows, and the currency sign NFKC leaves full-width.
_SIMPLIFIED = str.maketrans({"兩": "两", "萬": "万", "塊": "块", "約": "约", "￥": "¥"})
# Words before the number: "about", "in all", a currency sign.
_BEFORE = re.compile(
    r"^(?:大概|大约|大致|约莫|约|差不多|估计|预计|可能|应该|一共|总共|"
    r"about|around|roughly|approximately|approx\.?|~|≈|¥|rmb|cny)\s*"
)
# Words after it: a unit of yuan, "or so", a closing particle or punctuation.
_AFTER = re.compile(
    r"\s*(?:块钱|块|元钱|元|圆|人民币|rmb|cny|yuan|左右|上下|的样子|吧|啦|呀|哦|"
    r"[。.!！~～]+)$"
)
# What must be left: digits and Chinese numerals (their value is read by cn_to_arabic).
_NUMBER = re.compile(r"[0-9零〇一二两三四五六七八九十百千万]+")


def parse_yuan(text: str) -> int | None:
    """The whole number of yuan ``text`` gives, or None when it gives no amount (other
    words, a range, a fraction, a vague "几百" or "一百多"). The caller checks the range:
    ``5千`` is 5000, not 5."""
    rest = unicodedata.normalize("NFKC", text).translate(_SIMPLIFIED).strip().casefold()
    while True:
        trimmed = _AFTER.sub("", _BEFORE.sub("", rest)).strip()
        if trimmed == rest:
            break
        rest = trimmed
    if not _NUMBER.fullmatch(rest):
        return None
    return cn_to_arabic(rest)
