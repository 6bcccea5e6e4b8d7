"""Minors' personal data: find it, mask it, and pseudonyms for staff screens.

Many of our users are minors. Whatever they write is masked before other people
(cadres, reviewers, donors) see it, and cadres see a pseudonym rather than a name unless
the young person agrees otherwise. Everything here is a pure function on text.

Masking errs towards hiding: an order number that happens to look like a bank card is
hidden too. It must not hide the numbers a question is about, though: years (a list of
them too: no card number begins with 19 or 20), amounts, ages, dates, ticket numbers and
the service lines (12355, 110, 120, 119, 12348, 12333) are never long enough or never
introduced the way personal data is.

How digits are read (any script, parted any way) and which of them make a mobile,
landline, ID or bank card number is :mod:`bot.services.personal_numbers`; this module
adds the other kinds, decides what is masked, and masks it.
"""

from __future__ import annotations

import bisect
import hashlib
import hmac
import itertools
import re
from collections.abc import Callable, Mapping

from bot.services.personal_numbers import JOINED, NUMBER_PATTERNS, read_numbers
from knowledge.normalize import to_simplified

__all__ = ["MASK_KINDS", "find_personal_data", "mask_personal_data", "pseudonym"]

# Full-width ASCII (what Chinese input methods often type: １３８，＠) and the ideographic
# space map one to one onto ASCII, so spans found in the folded text fit the original.
_HALF_WIDTH = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}
# Stands in for text already claimed by a kind; no pattern matches it (nor is it one of
# the stand-ins :func:`read_numbers` writes).
_BLANK = "\x00"

_NUM = "[0-9零〇一二两三四五六七八九十百]+"
# What ends a name run back from a place or school word: a pause, or a word before one.
_NAME_STOP = r"\s\x00在住是到去于的从往近旁离我你他她家,.:;!?()，。：；！？、"
# A place name runs back from 路/小区 to the nearest word that cannot be part of it, so
# 我家住在人民路12号 hides 人民路12号 and 北京市朝阳区建国路1号 keeps the district.
_PLACE_STOP = _NAME_STOP + "区市县镇乡省"
_PLACE_NAME = rf"[^{_PLACE_STOP}]{{0,10}}"
_ADDRESS_UNIT = "号楼|号院|号|栋|幢|座|单元|层|楼|室|户|弄"
# Units after the street number (3栋2单元501室), then a bare room number (…单元501).
_ADDRESS_TAIL = (
    rf"(?:\s*[-之]?\s*{_NUM}\s*(?:{_ADDRESS_UNIT}))*(?:-?[0-9]{{2,5}}(?![0-9年月日岁元]))?"
)
# The most common surnames, for a name said without an introducer's 叫 (我是张伟).
_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余"
    "杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付傅方白邹孟熊秦邱江尹薛闫段雷侯龙"
    "史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
    # The same in traditional characters, where they differ.
    "張陳劉黃趙吳孫馬許韓馮鄧蕭葉蘇呂盧鍾譚陸範賈韋鄒閆龍賀顧龔萬錢嚴湯"
)
_SCHOOL_WORDS = (
    "小学|中学|初中|高中|大学|学院|学校|职高|中专|技校|幼儿园|附中"
    "|小學|中學|大學|學院|學校|職高|中專|幼兒園"
)
# What introduces one's own school: 我在实验中学, 读育才小学, 来自…, 我们…, 是….
_SCHOOL_INTRO = r"(?:在|读|讀|就读于|就讀於|来自|來自|我们|我們|是)\s*"
# What cannot be part of a school's name: the place stops, and verbs and words that come
# before one (上中学, 考大学, 哪所学校, 什么大学, 他们学校).
_SCHOOL_STOP = _NAME_STOP + "上读考念进转这那哪个也都还就很要能会与及或和跟回所们想么"
# School words that name a kind of school, not one school: 重点中学, 普通高中, 小学初中.
_GENERIC_SCHOOL = re.compile(
    "(?:重点|名牌|普通|职业|民办|公办|私立|公立|国际|寄宿|示范|一般|好|本地|外地|附近|全日制|"
    "双一流|其他|别的|所有|一些|很多|不少|哪些|任何|新|同一|不同|两所|一所|省级|市级|区级|县级|"
    "[省市区县]重点|山区|乡村|农村|城里|城市|偏远|贫困|985|211|师范|综合|理工|职业技术|技术|"
    "医科|艺术|体育|音乐|美术|希望)的?"
)
_SCHOOL_LEVEL = re.compile(rf"(?:{_SCHOOL_WORDS})$")


def _keep_school(match: re.Match[str]) -> bool:
    """A school word after a word naming a kind of school, or another school word."""
    prefix = match.group("p")
    return bool(_GENERIC_SCHOOL.fullmatch(prefix) or _SCHOOL_LEVEL.search(prefix))


# Introducers of contact ids, followed by an optional "是" or colon. Each space run is
# read one way only: three optional runs side by side split a long one every way there
# is (time growing with its cube) before the id after it is found missing.
_INTRO_SEP = r"\s*(?:(?:是|为)\s*)?(?::\s*)?"
# A QQ number (or an older WeChat id, which is one): 5 to 11 digits, or two or three
# groups of three to five parted by a space or a dash (1234 5678, 123-456-789), and a
# shorter group after a dash (1234-5678-90); not a number after a whole one (QQ 12345678
# 2026年, QQ 12345678 15岁).
_QQ_NUMBER = r"(?:[0-9]{3,5}(?:[ -][0-9]{3,5}){1,2}|[0-9]{5,11})(?:-[0-9]{1,5})?(?![0-9])"
# WeChat ids: a letter then 5+ letters, digits, _ or -; older ids are QQ numbers.
_WECHAT_ID = rf"(?:[a-z][a-z0-9_-]{{5,}}|{_QQ_NUMBER})"

# Who a young person names: family, and other children (a teacher's name is left for the
# cadre who has to act on a report).
_KIN = (
    "妈妈|爸爸|母亲|父亲|我妈|我爸|女儿|儿子|孩子|弟弟|妹妹|哥哥|姐姐|爷爷|奶奶|外公|外婆"
    "|姥姥|姥爷|同学|同桌|朋友|媽媽|母親|父親|我媽|女兒|兒子|爺爺|姥爺|同學"
)
# What may follow a name: a pause, the end, or a word that begins what is said of one
# (and the name must not end in one: 王明的 is 王明).
_NAME_END = (
    r"(?<![在是和说說也被的上读讀])"
    r"(?=[\s,.!?;:，。！？、；：]|$|今年|在|是|和|说|說|也|被|的|上|读|讀)"
)

_PATTERNS: tuple[tuple[str, str], ...] = (
    # Order matters: each kind only sees text the kinds before it left. An e-mail may
    # hold a QQ number (12345678@qq.com); an ID card holds phone-like digit runs.
    # From the start of the address only: tried again from every character of a long run
    # of letters or digits, the pattern would take time growing with the run's square.
    # A number typed in groups before it is its start (138 1234 5678@qq.com).
    (
        "email",
        r"(?<![a-z0-9._%+-])(?:(?:[0-9]{3,5} ){1,2}(?=[0-9]))?"
        r"[a-z0-9._%+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}",
    ),
    # WeChat's own ids, with no WeChat word before them (wxid_2010_1234_5678x).
    ("wechat", r"(?<![a-z0-9_-])wxid_[a-z0-9_-]{4,}"),
    (
        "student_id",
        # 学号, 学籍号, 考号, 准考证号, 学生证号: each names one pupil.
        r"(?:学号|學號|学籍号|學籍號|考号|考號|准考证号?|准考證號?|学生证号|學生證號)(?:码|碼)?"
        # Typed in groups too (2026 3601 0203), as phone and ID numbers are; a group longer
        # than thirteen (an ID number after it) is none of its groups. Its first group runs
        # on as long as it goes: cut short, the rest was shown.
        rf"{_INTRO_SEP}(?P<v>[0-9a-z][0-9a-z-]{{3,}}(?:\s[0-9][0-9-]{{1,12}}(?![0-9]))*)",
    ),
    *NUMBER_PATTERNS,
    (
        "qq",
        rf"(?:(?<![a-z])q{{1,2}}(?![a-z])|扣扣|企鹅)(?:号码?|群)?{_INTRO_SEP}"
        rf"(?P<v>(?=[1-9]){_QQ_NUMBER})",
    ),
    ("wechat", rf"(?:微信|威信|薇信|v信)(?:号|id)?{_INTRO_SEP}(?P<v>{_WECHAT_ID})"),
    # After a Latin introducer an id must hold a digit or _ or -: "WeChat account" is
    # no id, "wechat: xm_2010" is.
    (
        "wechat",
        rf"(?<![a-z])(?:vx|wx|weixin|wechat)(?![a-z])(?:\s*id)?{_INTRO_SEP}"
        rf"(?P<v>(?=[a-z0-9_-]*[0-9_-]){_WECHAT_ID})",
    ),
    (
        "address",
        rf"{_PLACE_NAME}(?:大道|路|街|巷|弄|胡同)\s*{_NUM}\s*(?:号院|号楼|号|弄|栋|幢|座){_ADDRESS_TAIL}"
        rf"|{_PLACE_NAME}(?:小区|花园|公寓|家园|新村|大厦|苑|院|村)\s*{_NUM}\s*"
        rf"(?:号楼|栋|幢|座|单元|号){_ADDRESS_TAIL}",
    ),
    (
        "name",
        # A name introduced as one (我叫张小明, 名字是…, 姓名：…); other names cannot be told
        # from ordinary words, so reviewers still read every wish before it is published.
        r"(?:我叫|我的名字是|名字叫|名字是|姓名)\s*[:：]?\s*(?P<v>[\u4e00-\u9fff]{2,4})",
    ),
    (
        "name",
        # 我是张伟: a common surname and one or two characters, then a pause or what
        # follows a name (今年, 在); not 我是高中生, 我是高一的, 我是江西人, 我是江苏的.
        rf"我是\s*(?P<v>[{_SURNAMES}](?![中一二三四五六七八九十考职職校年])[\u4e00-\u9fff]{{1,2}})"
        r"(?<![人的生])(?=[\s,.!?;:，。！？、；：]|$|今年|在)",
    ),
    (
        "name",
        # A relative's or classmate's name, said as one (妈妈叫李秀英, 我同学叫王明在…):
        # it leads back to the child. Only a common surname, then a pause or what follows
        # a name, so 孩子叫什么, 妈妈叫我 and 同学叫外卖 are kept.
        rf"(?:{_KIN})(?:的名字|名字)?(?:叫|名叫)\s*(?P<v>[{_SURNAMES}][\u4e00-\u9fff]{{1,2}})"
        rf"{_NAME_END}",
    ),
    # 本人张伟; 我姓王，叫王芳 (the name after 叫 whole, surname or not).
    (
        "name",
        # Not 本人高三 (a grade), as for 我是.
        rf"本人\s*[:：]?\s*(?P<v>[{_SURNAMES}](?![中一二三四五六七八九十考职職校年])"
        rf"[\u4e00-\u9fff]{{1,2}}){_NAME_END}",
    ),
    (
        "name",
        rf"我姓[\u4e00-\u9fff][,，、\s]*(?:名字)?叫\s*(?P<v>[\u4e00-\u9fff]{{2,3}}){_NAME_END}",
    ),
    (
        "school",
        # One's own school, introduced (我在实验中学, 来自育才小学, 是人大附中的): its name
        # runs back from the school word to the introducer. A school word alone names no
        # school (请问大学生…, 高中入团的条件, 给山区学校捐书, 学校部).
        rf"{_SCHOOL_INTRO}(?P<v>(?P<p>[^{_SCHOOL_STOP}]{{2,10}})(?:{_SCHOOL_WORDS}))(?![生部])",
    ),
    (
        "school",
        # Short forms: 我在南昌二中, 读市一中 (not 高一中午, 其中).
        rf"{_SCHOOL_INTRO}(?P<v>(?P<p>[^{_SCHOOL_STOP}]{{1,6}})[一二三四五六七八九十]{{1,2}}中)"
        r"(?![学學文心国國间間午级級生部])",
    ),
    (
        "school_class",
        # 三年级二班, 初二(3)班, 高一3班, 五(2)班: a grade with a class identifies a child.
        r"(?:(?:小学|初中|高中)?(?:[一二三四五六七八九1-9]年级|[初高][一二三1-3])"
        r"|[一二三四五六1-6](?=\s*\())"
        r"\s*(?:\(\s*[0-9一二三四五六七八九十]{1,3}\s*\)|[0-9一二三四五六七八九十]{1,3})\s*班",
    ),
)
_KINDS = tuple(
    (kind, re.compile(pattern, re.ASCII | re.IGNORECASE)) for kind, pattern in _PATTERNS
)

# The kinds whose text may hold digits parted like a number's and is masked whole.
_ADDRESSES = tuple(pattern for kind, pattern in _KINDS if kind in ("email", "wechat"))

MASK_KINDS: tuple[str, ...] = tuple(dict.fromkeys(kind for kind, _ in _KINDS))
"""The kinds of personal data, in the order they are looked for; keys of the labels."""


def _within(spans: list[tuple[int, int]]) -> Callable[[int, int], bool]:
    """Whether ``start, end`` lies inside one of the spans (in time growing with the
    log of their number, not the number)."""
    spans = sorted(spans)
    starts = [start for start, _ in spans]
    reaches = list(itertools.accumulate((end for _, end in spans), max))

    def within(start: int, end: int) -> bool:
        i = bisect.bisect_right(starts, start) - 1
        return i >= 0 and reaches[i] >= end

    return within


def _spans(text: str) -> list[tuple[int, int, str]]:
    """Find personal data as ``(start, end, kind)``, sorted by position."""
    work = text.translate(_HALF_WIDTH)
    # Matched in simplified characters (光明小區5號樓 as 光明小区5号楼), when the conversion
    # keeps every character in its place: the spans are the original text's.
    simplified = to_simplified(work)
    if len(simplified) == len(work):
        work = simplified
    # Numbers spelled out (一三八…) or parted (138·1234·5678) as the patterns read them,
    # but for digits in an e-mail address or a WeChat id (zhang.2008.0512@qq.com,
    # wxid_2010_1234_5678x), read whole by those patterns.
    addresses = [
        match.span("v") if "v" in pattern.groupindex else match.span()
        for pattern in _ADDRESSES
        for match in pattern.finditer(work)
    ]
    in_address = _within(addresses)
    work = read_numbers(work, in_address)
    spans: list[tuple[int, int, str]] = []

    def blanker(kind: str) -> Callable[[re.Match[str]], str]:
        def blank(match: re.Match[str]) -> str:
            if kind == "school" and _keep_school(match):
                return match.group(0)
            # Contact ids keep their introducer ("QQ号：") so the masked text still reads.
            start, end = match.span("v") if "v" in match.re.groupindex else match.span()
            reach = end
            while reach < len(work) and work[reach] == JOINED:  # the rest of a number
                reach += 1
            spans.append((start, reach, kind))
            whole, offset = match.group(0), match.start()
            return whole[: start - offset] + _BLANK * (end - start) + whole[end - offset :]

        return blank

    for kind, pattern in _KINDS:
        work = pattern.sub(blanker(kind), work)
    return sorted(spans)


def find_personal_data(text: str) -> list[tuple[str, str]]:
    """List the personal data in a text, for a reviewer's "nothing personal" check.

    Args:
        text: Any text a young person wrote, or a text about to be published.

    Returns:
        ``(kind, matched text)`` pairs in reading order; kinds are from
        :data:`MASK_KINDS`. Empty when nothing was found.
    """
    return [(kind, text[start:end]) for start, end, kind in _spans(text)]


def mask_personal_data(text: str, labels: Mapping[str, str]) -> str:
    """Replace personal data with a label that says what was hidden.

    Masking a masked text changes nothing, as long as the labels hold no personal data.

    Args:
        text: The text to show to someone other than its author.
        labels: The replacement for each kind in :data:`MASK_KINDS`, taken from the
            locale catalog (e.g. ``{"phone": "[手机号已隐藏]", ...}``).

    Returns:
        The text with every match replaced by its kind's label.

    Raises:
        ValueError: A kind has no label.
    """
    missing = [kind for kind in MASK_KINDS if kind not in labels]
    if missing:
        raise ValueError(f"no mask label for: {', '.join(missing)}")
    parts: list[str] = []
    last = 0
    for start, end, kind in _spans(text):
        parts += [text[last:start], labels[kind]]
        last = end
    parts.append(text[last:])
    return "".join(parts)


def pseudonym(user_id: int, secret: str) -> str:
    """A stable four-character code standing for a young person on staff screens.

    The code is the first 16 bits of HMAC-SHA256(secret, user id) in upper-case hex, so
    it cannot be turned back into the Telegram id without the secret. There are only
    65,536 codes: with 100 young people in one queue two share a code about 7% of the
    time, with 300 about half the time. It is a display aid, not an identifier; the
    ticket number identifies a case.

    Args:
        user_id: The young person's Telegram id.
        secret: The deployment's pseudonym secret (from settings, never the bot token).

    Returns:
        Four upper-case hex characters such as ``"A3F2"``; the caller formats it into a
        catalog text such as 青年#A3F2.

    Raises:
        ValueError: The secret is empty (anyone could then compute the codes).
    """
    if not secret:
        raise ValueError("pseudonym secret must not be empty")
    digest = hmac.new(secret.encode(), str(user_id).encode(), hashlib.sha256).hexdigest()
    return digest[:4].upper()


def log_pseudonym(user_id: int, secret: str) -> str:
    """How logs name a Telegram user: ten lower-case hex characters, unlinkable to
    :func:`pseudonym`.

    A separate HMAC input (``log:`` and the id) means someone who reads both the logs
    and a staff card cannot match a log line to a young person's 青年#A3F2 code. Forty
    bits also keep two people apart in a log: with 100,000 users, a clash is about 0.5%
    likely, where four characters would clash among a few hundred.

    Raises:
        ValueError: The secret is empty.
    """
    if not secret:
        raise ValueError("pseudonym secret must not be empty")
    digest = hmac.new(secret.encode(), f"log:{user_id}".encode(), hashlib.sha256)
    return digest.hexdigest()[:10]
