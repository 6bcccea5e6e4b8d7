"""Telegram HTML parse mode: valid markup, Telegram's error wording, UTF-16 offsets."""

from __future__ import annotations

import pytest

from sandbox.telegram_html import ParseError, TextError, check_text, parse_html, utf16_len


def test_plain_text_and_escapes() -> None:
    assert parse_html("a &lt;b&gt; &amp; &quot;c&quot; &#39;d&#x27;") == ("a <b> & \"c\" 'd'", [])


def test_nested_entities_outer_first() -> None:
    text, entities = parse_html(
        "<b>bold <i>both</i></b> <u>u</u> <s>s</s> <tg-spoiler>x</tg-spoiler>"
    )
    assert text == "bold both u s x"
    assert entities == [
        {"offset": 0, "length": 9, "type": "bold"},
        {"offset": 5, "length": 4, "type": "italic"},
        {"offset": 10, "length": 1, "type": "underline"},
        {"offset": 12, "length": 1, "type": "strikethrough"},
        {"offset": 14, "length": 1, "type": "spoiler"},
    ]


def test_synonyms_and_attributes() -> None:
    html = '<strong>a</strong><em>b</em><ins>c</ins><del>d</del><span class="tg-spoiler">e</span>'
    types = [e["type"] for e in parse_html(html)[1]]
    assert types == ["bold", "italic", "underline", "strikethrough", "spoiler"]


def test_utf16_offsets_with_emoji_and_chinese() -> None:
    text, entities = parse_html("😀青年<b>之声</b>🎉<i>好</i>")
    assert text == "😀青年之声🎉好"
    # The emoji is two UTF-16 code units; the Chinese characters one each.
    assert entities == [
        {"offset": 4, "length": 2, "type": "bold"},
        {"offset": 8, "length": 1, "type": "italic"},
    ]
    assert utf16_len("😀青") == 3


def test_links_code_pre_blockquote() -> None:
    html = (
        '<a href="https://example.com">site</a> <a href="tg://user?id=42">him</a> '
        '<code>x</code> <pre><code class="language-python">print(1)</code></pre>'
        "<blockquote>q</blockquote><blockquote expandable>long</blockquote>"
    )
    text, entities = parse_html(html)
    assert text == "site him x print(1)qlong"
    assert entities[0] == {
        "offset": 0,
        "length": 4,
        "type": "text_link",
        "url": "https://example.com/",
    }
    assert entities[1]["type"] == "text_mention" and entities[1]["user"]["id"] == 42
    assert entities[2] == {"offset": 9, "length": 1, "type": "code"}
    assert entities[3] == {"offset": 11, "length": 8, "type": "pre", "language": "python"}
    assert [e["type"] for e in entities[4:]] == ["blockquote", "expandable_blockquote"]


def test_entities_inside_code_are_dropped_like_telegram() -> None:
    assert parse_html("<code><b>x</b></code>")[1] == [{"offset": 0, "length": 1, "type": "code"}]


@pytest.mark.parametrize(
    ("html", "detail"),
    [
        ("<foo>x</foo>", 'Unsupported start tag "foo" at byte offset 0'),
        ("你好 <foo>", 'Unsupported start tag "foo" at byte offset 7'),
        ("a < b", 'Unsupported start tag "" at byte offset 2'),
        ("<b>x", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b><i>x</b></i>", 'Unmatched end tag at byte offset 7, expected "</i>", found "</b>"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("<span>x</span>", 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
        ("<b", "Unclosed start tag at byte offset 0"),
        ('<a href="x>y', "Unclosed start tag at byte offset 0"),
        ("Tom & Jerry", 'Character "&" must be escaped as "&amp;" at byte offset 4'),
        ("&nbsp;", 'Character "&" must be escaped as "&amp;" at byte offset 0'),
        ("<div>x</div>", 'Unsupported start tag "div" at byte offset 0'),
    ],
)
def test_invalid_markup_uses_telegram_wording(html: str, detail: str) -> None:
    with pytest.raises(ParseError) as caught:
        parse_html(html)
    assert caught.value.description == f"Bad Request: can't parse entities: {detail}"


def test_lenient_mode_keeps_bare_ampersand_like_telegram() -> None:
    assert parse_html("Tom & Jerry", strict=False) == ("Tom & Jerry", [])


def test_check_text_trims_and_counts_after_parsing() -> None:
    assert check_text("\n  <b>hi</b>  \n") == ("hi", [{"offset": 0, "length": 2, "type": "bold"}])
    assert check_text("<b>" + "字" * 4096 + "</b>")[0] == "字" * 4096
    with pytest.raises(TextError, match="message is too long"):
        check_text("x" * 4097)
    with pytest.raises(TextError, match="message is too long"):
        check_text("😀" * 2049)  # 4098 UTF-16 code units
    with pytest.raises(TextError, match="message text is empty"):
        check_text("<b> </b>")
    assert check_text("", caption=True) == ("", [])
    with pytest.raises(TextError, match="message caption is too long"):
        check_text("c" * 1025, caption=True)
