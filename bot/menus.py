"""Telegram's command menus: the young person's for everyone, and per staff member one
that adds the commands of their roles (set for their private chat), and the committee
group's. Setting a menu is best effort: a failure is logged, never fatal."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Bot, BotCommand, BotCommandScopeChat
from telegram.error import TelegramError

from bot.config import Settings
from bot.i18n import translator
from bot.services import org, users
from storage.models import ROLE_ADMIN, ROLE_CADRE, ROLE_DONOR, ROLE_REVIEWER, User

_log = logging.getLogger(__name__)

# Everyone's menu, per language of the client.
YOUTH_COMMANDS = (
    "start",
    "help",
    "language",
    "region",
    "my",
    "wish",
    "subscribe",
    "cancel",
    "mydata",
    "forget",
)
# What each role adds, in this order after the young person's commands.
ROLE_COMMANDS = (
    (ROLE_CADRE, ("queue", "pool", "overdue", "wishes")),
    (ROLE_DONOR, ("wishes",)),
    (ROLE_REVIEWER, ("review",)),
    (ROLE_ADMIN, ("pool", "overdue", "wishes", "review", "digest", "broadcast", "broadcasts")),
)
# The committee's group: the staff commands that work there.
GROUP_COMMANDS = ("pool", "overdue", "digest", "help")
STAFF_ROLES = tuple(role for role, _ in ROLE_COMMANDS)


def commands_for(user: User) -> list[str]:
    """The menu of ``user``: the young person's commands, then their roles' (once each)."""
    names = list(YOUTH_COMMANDS)
    for role, extra in ROLE_COMMANDS:
        if user.has_role(role):
            names += [name for name in extra if name not in names]
    return names


def _commands(names: Sequence[str], locale: str, settings: Settings) -> list[BotCommand]:
    tr = translator(locale, settings.default_locale)
    return [BotCommand(name, tr.plain(f"commands.{name}")) for name in names]


async def set_for(bot: Bot, user: User, settings: Settings) -> bool:
    """Give a staff member their menu in their private chat; return whether it was set."""
    if not any(user.has_role(role) for role in STAFF_ROLES):
        return False
    try:
        await bot.set_my_commands(
            _commands(commands_for(user), user.locale or settings.default_locale, settings),
            scope=BotCommandScopeChat(user.telegram_id),
        )
    except TelegramError as error:  # e.g. never opened a chat with the bot
        _log.info("no menu for staff chat %s: %s", user.telegram_id, error)
        return False
    return True


async def set_all(bot: Bot, session: AsyncSession, settings: Settings) -> int:
    """Every staff member's menu and the committee group's (at start-up); return how many
    staff menus were set."""
    done = 0
    for user in await users.with_role(session, *STAFF_ROLES):
        done += await set_for(bot, user, settings)
    committee = await org.get_setting(session, "committee_chat_id")
    if committee is not None:
        try:
            await bot.set_my_commands(
                _commands(GROUP_COMMANDS, settings.default_locale, settings),
                scope=BotCommandScopeChat(int(committee)),
            )
        except TelegramError as error:
            _log.info("no menu for the committee chat: %s", error)
    return done
