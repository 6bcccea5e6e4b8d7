"""The composition root: builds the Application and registers every handler in one place."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine
from telegram import BotCommand, LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.ext import (
    AIORateLimiter,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    Defaults,
    ExtBot,
    MessageHandler,
    filters,
)

from bot import (
    broadcast_notify,
    callbacks,
    delivery,
    digest_job,
    intake,
    leases,
    logs,
    menus,
    outage,
    retention_job,
    sweeper,
)
from bot.api_bot import TolerantBot
from bot.clock import Clock
from bot.config import Settings
from bot.context import BotApplication, BotContext, BotData, Services
from bot.delivery import Deliverer
from bot.edge import SessionUpdateProcessor
from bot.http import new_request
from bot.i18n import translator
from bot.services import concern_model, safeguarding
from handlers import (
    broadcasts,
    cadre,
    common,
    data_rights,
    dialog,
    digest,
    errors,
    wishes,
    youth,
)
from knowledge.index import KnowledgeIndex
from storage.db import create_engine, create_session_factory

_log = logging.getLogger(__name__)

# setMyCommands takes two-letter codes, so zh-Hant clients share the Chinese menu.
_MENU_LANGUAGES = {None: None, "zh": "zh-Hans", "en": "en"}


# A webhook instance starting takes over unhandled updates stored at least this long ago.
STRANDED_AFTER = timedelta(minutes=5)
TELEGRAM_API = "https://api.telegram.org/bot"
TELEGRAM_FILES = "https://api.telegram.org/file/bot"


def build_application(
    settings: Settings,
    *,
    base_url: str | None = None,
    base_file_url: str | None = None,
    clock: Clock | None = None,
) -> BotApplication:
    """Build the bot: services, defaults, the per-update unit of work and all handlers.

    Args:
        settings: the configuration.
        base_url: the Bot API endpoint (the sandbox's in the demo and tests).
        base_file_url: the Bot API file endpoint matching ``base_url``.
        clock: the clock every due date is measured by (tests move it).
    """
    logs.set_pseudonym_key(settings.pseudonym_key())  # logs name people by pseudonym
    engine = create_engine(settings.database_url)
    sessions = create_session_factory(engine)
    services = Services(
        settings=settings,
        engine=engine,
        sessions=sessions,
        knowledge=KnowledgeIndex(settings.thresholds()),
        clock=clock or Clock(),
        report_engine=_report_engine(settings, engine),
    )
    intake_queue = intake.DurableUpdateQueue(sessions)
    api_bot: ExtBot[None] = TolerantBot(
        settings.require_token(),
        base_url=base_url or TELEGRAM_API,
        base_file_url=base_file_url or base_url or TELEGRAM_FILES,
        request=new_request(settings.http_client),
        # Stores each polled update before the updater confirms it.
        get_updates_request=intake.IntakeRequest(
            intake_queue,
            new_request(settings.http_client, connection_pool_size=1),
            watch=services.polling,
        ),
        defaults=Defaults(
            parse_mode=ParseMode.HTML,
            tzinfo=settings.tz,
            link_preview_options=LinkPreviewOptions(is_disabled=True),
        ),
        rate_limiter=AIORateLimiter(max_retries=2) if settings.rate_limit else None,
    )
    processor = SessionUpdateProcessor(
        sessions,
        default_locale=settings.default_locale,
        max_concurrent_updates=settings.concurrent_updates,
        intake=intake_queue,
    )
    builder = (
        ApplicationBuilder()
        .bot(api_bot)
        .context_types(ContextTypes(context=BotContext, bot_data=BotData))
        .concurrent_updates(processor)
        .update_queue(intake_queue)
        .post_init(_post_init)
        .post_shutdown(_post_shutdown)
    )
    application: BotApplication = builder.build()
    # A retry runs the handlers again; a failure the handlers never saw (the database
    # gone before the update was stored) may be an outage to tell the ops chat about.
    processor.bind(
        application.process_update,
        failed=lambda update, error: outage.report(application, error, update=update),
    )
    application.bot_data.services = services
    register_handlers(application)
    return application


def _report_engine(settings: Settings, engine: AsyncEngine) -> AsyncEngine | None:
    """On SQLite, an engine on aiosqlite's thread for the digest's long reads: the bot's
    own engine runs statements on the event loop's thread, where a second-long read would
    hold every update. PostgreSQL's driver does not block the loop: None."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        return None
    return create_engine(settings.database_url, inline=False)


def register_handlers(application: BotApplication) -> None:
    """Register every handler; within a group the first match wins, so order matters."""
    private = filters.ChatType.PRIVATE
    # First of all: a requeued update's sender is told it comes late (rarely anything).
    application.add_handler(errors.LateOnly(errors.late_notice), group=-2)
    # Before all others: an edit is never handled as a new message.
    application.add_handler(MessageHandler(filters.UpdateType.EDITED, youth.edited), group=-1)
    application.add_handlers(
        [
            CommandHandler("start", common.start),
            CommandHandler("help", common.help_command),
            CommandHandler("language", common.language_command, filters=private),
            CommandHandler("region", common.region_command, filters=private),
            CommandHandler("my", youth.my_command, filters=private),
            CommandHandler("wish", wishes.wish_command, filters=private),
            CommandHandler("wishes", wishes.wishes_command, filters=private),
            CommandHandler("review", wishes.review_command, filters=private),
            CommandHandler("cancel", dialog.cancel, filters=private),
            CommandHandler("mydata", data_rights.mydata_command, filters=private),
            CommandHandler("forget", data_rights.forget_command, filters=private),
            CommandHandler("subscribe", broadcasts.subscribe_command, filters=private),
            CommandHandler("broadcast", broadcasts.broadcast_command, filters=private),
            CommandHandler("broadcasts", broadcasts.broadcasts_command, filters=private),
            # Staff commands work in private chat and in the committee's group.
            CommandHandler("queue", cadre.queue_command),
            CommandHandler("pool", cadre.pool_command),
            CommandHandler("overdue", cadre.overdue_command),
            CommandHandler("digest", digest.digest_command),
            CallbackQueryHandler(common.language_chosen, pattern=callbacks.matches("lang")),
            CallbackQueryHandler(common.region_navigate, pattern=callbacks.matches("rgn")),
            CallbackQueryHandler(common.region_navigate, pattern=callbacks.matches("rgm")),
            CallbackQueryHandler(common.region_chosen, pattern=callbacks.matches("rgs")),
            CallbackQueryHandler(youth.solved, pattern=callbacks.matches("ok")),
            CallbackQueryHandler(youth.hand_over, pattern=callbacks.matches("hum")),
            CallbackQueryHandler(youth.hand_over, pattern=callbacks.matches("none")),
            CallbackQueryHandler(youth.choose, pattern=callbacks.matches("pick")),
            CallbackQueryHandler(youth.resolved_button, pattern=callbacks.matches("qok")),
            CallbackQueryHandler(youth.follow_up_button, pattern=callbacks.matches("qfu")),
            CallbackQueryHandler(youth.share_identity_button, pattern=callbacks.matches("idn")),
            CallbackQueryHandler(youth.my_item_button, pattern=callbacks.matches("myq")),
            CallbackQueryHandler(youth.my_item_button, pattern=callbacks.matches("myw")),
            CallbackQueryHandler(cadre.await_text_button, pattern=callbacks.matches("qans")),
            CallbackQueryHandler(cadre.pass_button, pattern=callbacks.matches("qpass")),
            CallbackQueryHandler(cadre.pass_to, pattern=callbacks.matches("qpto")),
            CallbackQueryHandler(cadre.await_text_button, pattern=callbacks.matches("qfwd")),
            CallbackQueryHandler(cadre.key_button, pattern=callbacks.matches("qkey")),
            CallbackQueryHandler(cadre.spam_button, pattern=callbacks.matches("qspam")),
            CallbackQueryHandler(cadre.claim_button, pattern=callbacks.matches("qclaim")),
            CallbackQueryHandler(cadre.open_button, pattern=callbacks.matches("qopen")),
            CallbackQueryHandler(cadre.faq_answer_button, pattern=callbacks.matches("qfaq")),
            CallbackQueryHandler(wishes.wish_command, pattern=callbacks.matches("wnew")),
            *[
                CallbackQueryHandler(wishes.draft_button, pattern=callbacks.matches(action))
                for action in ("wd", "wsub", "wedit", "wed", "wcan", "wask", "wside")
            ],
            CallbackQueryHandler(wishes.review_button, pattern=callbacks.matches("wrv")),
            CallbackQueryHandler(wishes.review_open_button, pattern=callbacks.matches("wro")),
            CallbackQueryHandler(wishes.owner_button, pattern=callbacks.matches("wre")),
            CallbackQueryHandler(wishes.owner_button, pattern=callbacks.matches("wwd")),
            *[
                CallbackQueryHandler(wishes.withdraw_answer_button, pattern=callbacks.matches(a))
                for a in ("wwy", "wwk")
            ],
            CallbackQueryHandler(wishes.claim_button, pattern=callbacks.matches("wcl")),
            CallbackQueryHandler(wishes.fulfil_button, pattern=callbacks.matches("wfl")),
            CallbackQueryHandler(wishes.progress_button, pattern=callbacks.matches("wpr")),
            CallbackQueryHandler(wishes.receipt_button, pattern=callbacks.matches("wok")),
            CallbackQueryHandler(wishes.receipt_button, pattern=callbacks.matches("wno")),
            CallbackQueryHandler(wishes.listing_button, pattern=callbacks.matches("wls")),
            CallbackQueryHandler(cadre.promote_button, pattern=callbacks.matches("qnew")),
            CallbackQueryHandler(cadre.promote_button, pattern=callbacks.matches("qalt")),
            CallbackQueryHandler(data_rights.forget_button, pattern=callbacks.matches("fgy")),
            CallbackQueryHandler(data_rights.forget_button, pattern=callbacks.matches("fgn")),
            *[
                CallbackQueryHandler(broadcasts.subscribe_button, pattern=callbacks.matches(a))
                for a in ("sbt", "sba")
            ],
            CallbackQueryHandler(broadcasts.unsubscribe_button, pattern=callbacks.matches("sbu")),
            *[
                CallbackQueryHandler(broadcasts.draft_button, pattern=callbacks.matches(a))
                for a in ("bcr", "bct", "bcn", "bco", "bcok", "bced", "bcx")
            ],
            CallbackQueryHandler(broadcasts.refresh_button, pattern=callbacks.matches("bcl")),
            # Catch-alls last: anything not matched above.
            CallbackQueryHandler(errors.stale_callback),
            MessageHandler(private & filters.COMMAND, youth.unknown_command),
            MessageHandler(private & filters.TEXT, dialog.text),
            MessageHandler(private & filters.PHOTO, wishes.photo),
            MessageHandler(private & ~filters.TEXT, youth.other_message),
        ]
    )
    application.add_error_handler(errors.error_handler)


async def _post_init(application: BotApplication) -> None:
    services = application.bot_data.services
    settings = services.settings
    # Compiled and read now (about 0.2 s), not while the first young person to write
    # after a start waits for a reply.
    safeguarding.load()
    concern_model.load()
    # Before any new update is fetched, queue what a killed process stored but never
    # handled. With a webhook only what is older than STRANDED_AFTER: Telegram re-sends
    # what a webhook did not acknowledge, and newer rows may be in another instance's
    # hands; older ones were left by a polling process (a switch of mode) or given up.
    queue = application.update_queue
    assert isinstance(queue, intake.DurableUpdateQueue)
    # The rows' own clock: received_at is the wall clock's (tests move services.clock).
    before = datetime.now(UTC) - STRANDED_AFTER if settings.webhook_url else None
    await intake.recover(queue, services.sessions, application.bot, received_before=before)
    intake.register_requeue(application, services)
    deliver = delivery.delivery_settings(settings)
    delivery.register(
        application,
        Deliverer(application.bot, services.sessions, services.clock, deliver),
        deliver,
    )
    sweeper.register(application, services)
    retention_job.register(application, services)
    digest_job.register(application, services)
    broadcast_notify.register(application, services)
    menus.register(application, services)
    default = settings.default_locale
    for language_code, locale in _MENU_LANGUAGES.items():
        tr = translator(locale or default, default)
        await application.bot.set_my_commands(
            [BotCommand(name, tr.plain(f"commands.{name}")) for name in menus.YOUTH_COMMANDS],
            language_code=language_code,
        )
    # Staff menus add their roles' commands: one call per staff member, in the background
    # so that a large org does not delay the first update (cancelled if the bot stops
    # first: bot.runner).
    services.background.add(asyncio.create_task(_set_menus(application), name="staff menus"))


async def _set_menus(application: BotApplication) -> None:
    services = application.bot_data.services
    try:
        # Under the sync job's lease: two instances starting together, or one starting
        # while another syncs, would otherwise both write the menus' record.
        await leases.run_exclusive(
            services,
            menus.MENUS_LEASE,
            lambda: menus.set_all(application.bot, services.sessions, services.settings),
        )
    except Exception:
        _log.warning("could not set the staff menus", exc_info=True)
    finally:
        services.background.discard(asyncio.current_task())


async def _post_shutdown(application: BotApplication) -> None:
    services = application.bot_data.services
    try:  # let another instance take the singleton jobs at once
        await leases.release_all(services)
    except Exception:
        _log.warning("could not release this instance's job leases", exc_info=True)
    await services.engine.dispose()
    if services.report_engine is not None:
        await services.report_engine.dispose()
