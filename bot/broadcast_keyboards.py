"""Texts and inline keyboards of /subscribe and of committee broadcasts."""

from __future__ import annotations

import html
from collections.abc import Sequence

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot import callbacks
from bot.i18n import Html, Translator
from bot.services.broadcast_drafts import ALL, REGIONS, TOPICS
from bot.services.subscriptions import SubscriptionView
from storage.broadcasts import Broadcast
from storage.models import Region, Topic

# Telegram allows 100 buttons in a keyboard: a grid larger than this is shown as a tree
# with one branch open at a time.
MAX_REGION_BUTTONS = 60


def _button(text: str, action: str, *args: str | int) -> InlineKeyboardButton:
    return InlineKeyboardButton(text, callback_data=callbacks.pack(action, *args))


def subscribe_text(tr: Translator, choices: SubscriptionView) -> Html:
    """The /subscribe message."""
    state = tr.plain("broadcast.state_off" if choices.opted_out else "broadcast.state_on")
    return tr("broadcast.subscribe", state=state)


def subscribe_keyboard(tr: Translator, choices: SubscriptionView) -> InlineKeyboardMarkup:
    """A toggle per topic (✅ when followed), two to a row, then the announcements switch."""
    toggles = [
        _button(
            tr.plain(
                "broadcast.topic_on" if topic.code in choices.followed else "broadcast.topic_off",
                name=tr.name_of(topic.names, topic.code),
            ),
            "sbt",
            topic.code,
            # What pressing it does, as its label says (an old panel's button too).
            "0" if topic.code in choices.followed else "1",
        )
        for topic in choices.topics
    ]
    rows = [toggles[i : i + 2] for i in range(0, len(toggles), 2)]
    switch = "broadcast.all_off" if choices.opted_out else "broadcast.all_on"
    rows.append([_button(tr.plain(switch), "sba", "0" if choices.opted_out else "1")])
    return InlineKeyboardMarkup(rows)


def announcement(tr: Translator, text: str) -> Html:
    """The message young people get: the admin's text, escaped, and the footer."""
    return Html(f"{html.escape(text, quote=False)}\n\n{tr('broadcast.footer')}")


def unsubscribe_keyboard(tr: Translator, broadcast_id: int) -> InlineKeyboardMarkup:
    """The one button under every broadcast."""
    return InlineKeyboardMarkup(
        [[_button(tr.plain("broadcast.unsubscribe"), "sbu", broadcast_id)]]
    )


def region_keyboard(
    tr: Translator,
    broadcast: Broadcast,
    regions: Sequence[tuple[Region, int]],
    *,
    opened: str | None = None,
) -> InlineKeyboardMarkup:
    """Multi-select over the grid (indented by depth), "all regions", and "next".

    A grid larger than :data:`MAX_REGION_BUTTONS` is shown as a tree with one branch open
    (``opened`` and the regions above it): the top level, the children along that
    branch, and "›" beside a region to open its own; "⬅️" goes one level up. Choosing a
    region covers everything under it.
    """
    chosen = set(broadcast.region_codes or [])
    mark = "✅ " if not chosen else ""
    rows = [[_button(mark + tr.plain("broadcast.all_regions"), "bcr", broadcast.id, ALL)]]

    def toggle(region: Region, depth: int) -> InlineKeyboardButton:
        label = "· " * depth + tr.name_of(region.names, region.code)
        if region.code in chosen:
            label = "✅ " + label
        return _button(label, "bcr", broadcast.id, region.code)

    if len(regions) <= MAX_REGION_BUTTONS:
        rows += [[toggle(region, depth)] for region, depth in regions]
    else:
        parents = {region.code: region.parent_code for region, _ in regions}
        path: set[str | None] = set()
        code = opened if opened in parents else None
        while code is not None and code not in path:
            path.add(code)
            code = parents.get(code)
        top = min(depth for _, depth in regions)
        has_children = {parent for parent in parents.values()}
        for region, depth in regions:
            if depth != top and region.parent_code not in path:
                continue
            row = [toggle(region, depth)]
            if region.code in has_children and region.code not in path:
                row.append(_button("›", "bco", broadcast.id, region.code))
            rows.append(row)
        if opened in parents:
            up = parents[opened]
            rows.append([_button("⬅️", "bco", broadcast.id, up if up in parents else "-")])
    rows.append([_button(tr.plain("broadcast.next"), "bcn", broadcast.id, REGIONS)])
    return InlineKeyboardMarkup(rows)


def topic_keyboard(
    tr: Translator, broadcast: Broadcast, topics: Sequence[Topic]
) -> InlineKeyboardMarkup:
    """Multi-select over the topics, "any topic", and "next"."""
    chosen = set(broadcast.topic_codes or [])
    mark = "✅ " if not chosen else ""
    rows = [[_button(mark + tr.plain("broadcast.any_topic"), "bct", broadcast.id, ALL)]]
    toggles = [
        _button(
            ("✅ " if topic.code in chosen else "") + tr.name_of(topic.names, topic.code),
            "bct",
            broadcast.id,
            topic.code,
        )
        for topic in topics
    ]
    rows += [toggles[i : i + 2] for i in range(0, len(toggles), 2)]
    rows.append([_button(tr.plain("broadcast.next"), "bcn", broadcast.id, TOPICS)])
    return InlineKeyboardMarkup(rows)


def preview_keyboard(tr: Translator, broadcast_id: int) -> InlineKeyboardMarkup:
    """Send, change or cancel."""
    return InlineKeyboardMarkup(
        [
            [_button(tr.plain("broadcast.confirm"), "bcok", broadcast_id)],
            [
                _button(tr.plain("broadcast.edit"), "bced", broadcast_id),
                _button(tr.plain("broadcast.cancel"), "bcx", broadcast_id),
            ],
        ]
    )


def list_keyboard(tr: Translator) -> InlineKeyboardMarkup:
    """Refresh /broadcasts."""
    return InlineKeyboardMarkup([[_button(tr.plain("broadcast.refresh"), "bcl")]])
