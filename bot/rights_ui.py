"""Data rights in chat: the /forget confirmation keyboard, and telling staff what was
withdrawn (through the outbox, with the item's number only: no personal data)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot import callbacks
from bot.config import Settings
from bot.i18n import Translator, translator
from bot.services import outbox
from bot.services.data_forget import ForgetReport
from storage.models import User
from storage.outbox import AUDIENCE_STAFF

WITHDRAWN = "rights_withdrawn"


def forget_keyboard(tr: Translator, user_id: int) -> InlineKeyboardMarkup:
    """Erase, or keep everything."""
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    tr.plain("data_rights.forget_yes"),
                    callback_data=callbacks.pack("fgy", user_id),
                )
            ],
            [
                InlineKeyboardButton(
                    tr.plain("data_rights.forget_no"),
                    callback_data=callbacks.pack("fgn", user_id),
                )
            ],
        ]
    )


async def tell_holders(
    session: AsyncSession, report: ForgetReport, *, settings: Settings, now: datetime
) -> int:
    """Tell each cadre or claimer holding a withdrawn item; return how many were told."""
    told = 0
    for holder in report.holders:
        person = await session.scalar(select(User).where(User.telegram_id == holder.chat_id))
        tr = translator(
            person.locale if person else settings.default_locale, settings.default_locale
        )
        row = await outbox.enqueue(
            session,
            kind=WITHDRAWN,
            chat_id=holder.chat_id,
            text=tr(f"data_rights.withdrawn_{holder.item_kind}", ref=holder.item_id),
            due_at=now,
            dedupe_key=f"{WITHDRAWN}:{holder.item_kind}:{holder.item_id}:{holder.chat_id}",
            audience=AUDIENCE_STAFF,
            recipient_user_id=holder.recipient_user_id,
        )
        told += row is not None
    return told
