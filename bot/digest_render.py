"""Rendering the weekly digest: the HTML summary, the chart PNG and the CSV of items."""

from __future__ import annotations

import csv
import io
import logging
import threading
from collections.abc import Iterable
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from bot.i18n import Html, Translator, translator
from bot.notify import masked
from bot.services.digest import GAP_EXAMPLE_CUT, Digest, Item, status_counts
from bot.services.digest_rows import COLUMNS

# The sandbox's port of Telegram's HTML parser (it imports nothing of ours): the summary is
# measured exactly as the Bot API measures it.
from sandbox.telegram_html import TEXT_LIMIT, parse_html, trim_text, utf16_len

# Telegram's limit for a message in UTF-16 code units of the visible text; the summary
# shrinks its lists until it fits.
MAX_MESSAGE = TEXT_LIMIT
_CHART_LOCK = threading.Lock()
_FONT_LOCK = threading.Lock()
_log = logging.getLogger(__name__)
# Fonts that draw Chinese; without one the chart falls back to English labels.
_CJK_FONTS = (
    "Noto Sans CJK SC",
    "Noto Sans CJK TC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "Droid Sans Fallback",
    "AR PL UMing CN",
    "SimHei",
    "Microsoft YaHei",
)


def _delta(now: int, before: int) -> str:
    return f"{now - before:+d}" if now != before else "±0"


def _hours(tr: Translator, value: float | None) -> str:
    return tr.plain("digest.dash") if value is None else tr.plain("digest.hours", n=f"{value:.1f}")


def _age(tr: Translator, hours: float) -> str:
    if hours < 48:
        return tr.plain("digest.hours", n=f"{hours:.0f}")
    return tr.plain("digest.days", n=int(hours // 24))


def _states(tr: Translator, items: list[Item]) -> str:
    counts = status_counts(items)
    if not counts:
        return tr.plain("digest.none")
    return ", ".join(f"{tr.plain(f'status.{s}')} {n}" for s, n in sorted(counts.items()))


def visible_length(html: str) -> int:
    """The length Telegram checks against its limit: UTF-16 code units of the text the
    HTML shows (tags dropped, ``&amp;`` one character, outer whitespace trimmed)."""
    text, _ = trim_text(*parse_html(html))
    return utf16_len(text)


def summary(digest: Digest, tr: Translator, tz: ZoneInfo) -> Html:
    """The digest as one Telegram HTML message within the message limit, as Telegram
    counts it: its lists shrink, and as a last resort whole lines go from the end."""
    for limit in (8, 5, 3, 1, 0):
        lines = _summary(digest, tr, tz, limit)
        if visible_length("\n".join(lines)) <= MAX_MESSAGE:
            return Html("\n".join(lines))
    # Each line is balanced HTML on its own, so dropping lines never cuts a tag.
    while len(lines) > 1 and visible_length("\n".join(lines)) > MAX_MESSAGE:
        lines.pop()
    return Html("\n".join(lines))


def _more(tr: Translator, total: int, shown: int) -> list[str]:
    return [tr("digest.more", n=total - shown)] if total > shown else []


def _summary(d: Digest, tr: Translator, tz: ZoneInfo, limit: int) -> list[str]:
    this, last = d.this, d.last
    days = d.week.days()
    lines: list[str] = [
        tr("digest.title", week=d.week.label, first=days[0].isoformat(), last=days[-1].isoformat())
    ]
    if d.partial:
        lines.append(tr("digest.partial", now=d.now.astimezone(tz).strftime("%Y-%m-%d %H:%M")))
    lines += [
        "",
        tr("digest.questions"),
        tr("digest.new", n=this.new, prev=last.new, delta=_delta(this.new, last.new)),
        tr("digest.faq", n=this.faq_answered, solved=this.faq_solved),
        tr("digest.routed", n=this.routed, answered=this.cadre_answered),
        tr("digest.resolved", n=this.resolved, reopened=this.reopened, open=this.still_open),
        tr(
            "digest.timing",
            median=_hours(tr, this.median_hours),
            p90=_hours(tr, this.p90_hours),
            prev=_hours(tr, last.median_hours),
        ),
        tr("digest.sla", hours=f"{d.sla_hours:g}", n=this.sla_breaches, prev=last.sla_breaches),
    ]
    if d.overdue_total:
        lines.append(tr("digest.overdue", n=d.overdue_total))
        for item in d.overdue[:limit]:
            lines.append(
                tr(
                    "digest.overdue_line",
                    ref=item.question_id,
                    age=_age(tr, item.waiting_hours),
                    region=d.region_name(tr, item.region_code),
                )
            )
    else:
        lines.append(tr("digest.overdue_none"))
    if d.cadres and limit:
        lines += ["", tr("digest.cadres")]
        for row in d.cadres[:limit]:
            share = row.resolved_share
            lines.append(
                tr(
                    "digest.cadre_line",
                    name=row.name or f"cadre:{row.cadre_id}",
                    assigned=row.assigned,
                    answered=row.answered,
                    median=_hours(tr, row.median_hours),
                    overdue=row.overdue,
                    share=tr.plain("digest.dash") if share is None else f"{share:.0%}",
                )
            )
        lines += _more(tr, len(d.cadres), limit)
    if d.regions and limit:
        lines += ["", tr("digest.regions")]
        for region in d.regions[:limit]:
            lines.append(
                tr(
                    "digest.region_line",
                    name=d.region_name(tr, region.code),
                    n=region.count,
                    open=region.other,
                )
            )
        lines += _more(tr, len(d.regions), limit)
    if d.topics and limit:
        lines += ["", tr("digest.topics")]
        for topic in d.topics[:limit]:
            name = (
                tr.name_of(topic.names, topic.code)
                if topic.code
                else tr.plain("digest.unknown_topic")
            )
            delta = _delta(topic.count, topic.other)
            lines.append(tr("digest.topic_line", name=name, n=topic.count, delta=delta))
    if d.keywords and limit:
        lines += ["", tr("digest.keywords")]
        lines.append(
            tr.plain("digest.keyword_sep").join(
                tr(
                    "digest.keyword_line",
                    word=k.word,
                    n=f"≈{k.count}" if k.estimated else k.count,
                    delta=_delta(k.count, k.previous),
                )
                for k in d.keywords[:limit]
            )
        )
    if d.gaps and limit:
        lines += ["", tr("digest.gaps")]
        for gap in d.gaps[:limit]:
            first, second = ([*gap.examples, ""])[:2]
            line = tr(
                "digest.gap_line",
                n=gap.size,
                first=masked(tr, first)[:GAP_EXAMPLE_CUT],
                second=masked(tr, second)[:GAP_EXAMPLE_CUT],
            )
            learned = tr("digest.gap_learned", n=gap.learned) if gap.learned else ""
            lines.append(Html(line + learned))
    lines += [
        "",
        tr(
            "digest.items",
            # Counted in SQL: the item lists stop at 500 (their states are of those).
            key=d.this.key_marked,
            key_states=_states(tr, d.key_items),
            fwd=d.this.forwarded,
            fwd_states=_states(tr, d.forwarded_items),
        ),
    ]
    for forwarded in d.forwarded_items[: min(limit, 5)]:
        lines.append(
            tr(
                "digest.item_line",
                ref=forwarded.question_id,
                department=masked(tr, forwarded.department or "")[:30],
                state=tr.plain(f"status.{forwarded.status}"),
            )
        )
    lines += [
        "",
        tr("digest.safeguarding", n=this.safeguarding, prev=last.safeguarding),
        tr("digest.possible_concern", n=this.possible_concern, prev=last.possible_concern),
        "",
        tr("digest.wishes"),
        tr("digest.wish_line", **this.wishes),
        tr("digest.wish_prev", **last.wishes),
        tr(
            "digest.wish_stuck",
            stalled=d.wishes_stalled,
            unclaimed=d.wishes_unclaimed,
            review=d.wishes_review_overdue,
        ),
    ]
    return lines


@cache
def cjk_font() -> str | None:
    """The name of an installed font that draws Chinese, or None.

    matplotlib lists the system's fonts once, on its first run, and keeps that list in its
    cache directory for good: a Chinese font installed afterwards (``apt install
    fonts-noto-cjk``) would never be seen. So when the list has none, the fonts installed
    since are added to it first.
    """
    from matplotlib import font_manager

    # The start-up check and a chart may ask at once: one scan, not two adding the same.
    with _FONT_LOCK:
        manager = font_manager.fontManager
        found = _listed_cjk(manager)
        if found is None and add_new_fonts(manager, font_manager.findSystemFonts()):
            found = _listed_cjk(manager)
        return found


def _listed_cjk(manager: Any) -> str | None:
    listed = {font.name for font in manager.ttflist}
    return next((name for name in _CJK_FONTS if name in listed), None)


def add_new_fonts(manager: Any, paths: Iterable[str]) -> int:
    """Add to matplotlib's font list the files in ``paths`` it does not list yet; return
    how many were added (a file it cannot read is left out)."""
    listed = {font.fname for font in manager.ttflist}
    added = 0
    for path in map(str, paths):  # matplotlib's own paths may be a str subclass
        if path in listed:
            continue
        try:
            manager.addfont(path)
        except (OSError, RuntimeError, ValueError):
            _log.debug("cannot read the font %s", path, exc_info=True)
            continue
        added += 1
    return added


def font_warning(locale: str) -> str | None:
    """What the operator is told at start-up when the chart cannot be labelled in the
    readers' language (``locale``: the default one), or None."""
    if locale == "en" or cjk_font() is not None:
        return None
    return (
        "no installed font draws Chinese, so the weekly digest's chart is labelled in"
        " English; install one (Debian, Ubuntu: apt install fonts-noto-cjk) and restart"
    )


def chart_labels(tr: Translator) -> Translator:
    """The reader's catalog for chart labels, or English when no Chinese font is installed."""
    return tr if tr.locale == "en" or cjk_font() else translator("en")


def chart(digest: Digest, tr: Translator) -> bytes:
    """A PNG: daily questions, the spread of hours to first answer, the week's wish funnel.

    Labels come from the reader's catalog when a Chinese font is installed; otherwise
    from the English one, so no label is drawn as empty boxes.
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    font = cjk_font()
    labels = chart_labels(tr)
    families = [font, "DejaVu Sans"] if font else ["DejaVu Sans"]
    # Drawn in a worker thread; pyplot's figures and rc settings are global, so one at a time.
    with _CHART_LOCK, plt.rc_context({"font.sans-serif": families}):
        figure, (daily, spread, funnel) = plt.subplots(1, 3, figsize=(12, 3.6), dpi=100)
        try:
            days = labels.plain("digest.chart.days").split()
            daily.bar(days, digest.daily, color="#c8102e")
            daily.set_title(labels.plain("digest.chart.daily"))
            bins = [0, 1, 4, 8, 24, 48]
            hours = digest.this.first_answer_hours
            counts = [
                sum(1 for h in hours if lo <= h < hi)
                for lo, hi in zip(bins, [*bins[1:], float("inf")], strict=True)
            ]
            names = ["<1", "1-4", "4-8", "8-24", "24-48", ">48"]
            spread.bar(names, counts, color="#1f5fa8")
            spread.set_title(labels.plain("digest.chart.response"))
            steps = labels.plain("digest.chart.steps").split()
            values = list(digest.this.wishes.values())
            funnel.barh(steps[::-1], values[::-1], color="#e0a100")
            funnel.set_title(labels.plain("digest.chart.funnel"))
            for axis in (daily.yaxis, spread.yaxis, funnel.xaxis):
                axis.get_major_locator().set_params(integer=True)
            figure.suptitle(digest.week.label)
            figure.tight_layout()
            buffer = io.BytesIO()
            figure.savefig(buffer, format="png")
        finally:
            plt.close(figure)
    return buffer.getvalue()


def csv_bytes(rows: Iterable[tuple[object, ...]]) -> bytes:
    """The week's items as UTF-8 CSV with a byte-order mark (so spreadsheets read it)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8-sig")
