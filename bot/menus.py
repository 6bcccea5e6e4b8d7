"""Telegram's command menus: the young person's for everyone, and per staff member one
that adds the commands of their roles (set for their private chat), and the committee
group's. Setting a menu is best effort: a failure is logged, never fatal.

Roles change outside the bot too (``voy org load``, ``voy cadre``): :func:`sync` runs
every ``VOY_MENU_SYNC_INTERVAL_S`` and brings the staff menus in line with the roles,
comparing them with what it last set (the ``staff_menus`` setting): a new staff member
gets theirs, a changed role or language is set again, and someone who holds no staff
role any more gets the young person's menu back.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram import Bot, BotCommand, BotCommandScopeChat
from telegram.error import BadRequest, Forbidden, TelegramError

from bot import logs
from bot.config import Settings
from bot.i18n import translator
from bot.services import org, users
from storage.db import lock_for_writing, unit_of_work
from storage.models import ROLE_ADMIN, ROLE_CADRE, ROLE_DONOR, ROLE_REVIEWER, User

if TYPE_CHECKING:
    from bot.context import Services

_log = logging.getLogger(__name__)

# The staff menus as last set, by Telegram id (as text): "locale:command,command,…".
MENUS_SETTING = "staff_menus"
MENUS_LEASE = "staff_menus"

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


async def set_for(
    bot: Bot,
    user: User,
    settings: Settings,
    *,
    permanent_failure_ok: bool = False,
    chose_language: bool = False,
) -> bool:
    """Give a staff member their menu in their private chat; return whether it was set
    (or, with ``permanent_failure_ok``, refused for good: never opened, blocked). A young
    person who ``chose_language`` gets theirs too, in that language (everyone else's
    menu follows their Telegram client's language)."""
    if not chose_language and not any(user.has_role(role) for role in STAFF_ROLES):
        return False
    try:
        await bot.set_my_commands(
            _commands(commands_for(user), user.locale or settings.default_locale, settings),
            scope=BotCommandScopeChat(user.telegram_id),
        )
    except (BadRequest, Forbidden) as error:  # e.g. never opened a chat with the bot
        _log.info("no menu for staff chat %s: %s", logs.who(user.telegram_id), error)
        return permanent_failure_ok
    except TelegramError as error:
        _log.warning(
            "could not set the menu of staff chat %s: %s", logs.who(user.telegram_id), error
        )
        return False
    return True


@dataclass(frozen=True)
class Synced:
    """What one :func:`sync` did."""

    set: int  # menus set, or refused for good (done: /start sets them)
    removed: int  # former staff given the young person's menu back


def _signature(user: User, settings: Settings) -> str:
    return f"{user.locale or settings.default_locale}:{','.join(commands_for(user))}"


async def sync(
    bot: Bot,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    *,
    force: bool = False,
) -> Synced:
    """Set the menu of each staff member whose roles or language changed since it was
    last set (every staff member's with ``force``), and give former staff the young
    person's menu back.

    The Bot API is called outside any transaction. A call refused for good (the person
    never opened the chat, or blocked the bot) counts as done: ``/start`` sets their menu
    when they come; one that failed for now is tried again next time.
    """
    async with sessions() as session:
        staff = await users.with_role(session, *STAFF_ROLES)
        recorded: dict[str, str] = dict(await org.get_setting(session, MENUS_SETTING) or {})
    wanted = {str(user.telegram_id): (user, _signature(user, settings)) for user in staff}
    set_now: dict[str, str] = {}
    removed_now: set[str] = set()
    for key, (user, signature) in wanted.items():
        if not force and recorded.get(key) == signature:
            continue
        if await set_for(bot, user, settings, permanent_failure_ok=True):
            set_now[key] = signature
    for key in set(recorded) - set(wanted):
        try:
            await bot.delete_my_commands(scope=BotCommandScopeChat(int(key)))
        except (BadRequest, Forbidden) as error:
            _log.info("no staff menu to remove for %s: %s", logs.who(int(key)), error)
        except TelegramError as error:
            _log.warning("could not remove the staff menu for %s: %s", logs.who(int(key)), error)
            continue
        removed_now.add(key)
    if set_now or removed_now:
        # Applied to the record as it is now, not as read above: another instance's
        # start-up may have written it meanwhile.
        async with unit_of_work(sessions) as session:
            await lock_for_writing(session)
            current = dict(await org.get_setting(session, MENUS_SETTING) or {})
            current.update(set_now)
            for key in removed_now:
                current.pop(key, None)
            await org.set_setting(session, MENUS_SETTING, current)
    return Synced(set=len(set_now), removed=len(removed_now))


async def set_all(
    bot: Bot, sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> Synced:
    """Every staff member's menu and the committee group's (at start-up)."""
    synced = await sync(bot, sessions, settings, force=True)
    async with sessions() as session:
        committee = await org.get_setting(session, "committee_chat_id")
    if committee is not None:
        try:
            await bot.set_my_commands(
                _commands(GROUP_COMMANDS, settings.default_locale, settings),
                scope=BotCommandScopeChat(int(committee)),
            )
        except TelegramError as error:
            _log.info("no menu for the committee chat: %s", error)
    return synced


def register(application: object, services: Services) -> None:
    """Sync the staff menus every ``menu_sync_interval_s`` on one instance at a time."""
    from telegram.ext import Application

    from bot import leases

    assert isinstance(application, Application)
    assert application.job_queue is not None

    async def job(_context: object) -> None:
        try:
            await leases.run_exclusive(
                services,
                MENUS_LEASE,
                lambda: sync(application.bot, services.sessions, services.settings),
            )
        except Exception:
            _log.exception("the staff menu sync failed; it runs again next interval")

    interval = services.settings.menu_sync_interval_s
    application.job_queue.run_repeating(
        job,
        interval=interval,
        first=interval,
        name="staff menus",
        job_kwargs={"id": "staff_menus", "replace_existing": True, "max_instances": 1},
    )
