"""Whether Telegram can deliver updates to this bot's webhook.

Updates that never reach an instance leave no trace in it: a reverse proxy that refuses
or misroutes Telegram's POSTs (a wrong path, a wrong secret in its check, a certificate
Telegram rejects) keeps ``/healthz`` ok and every counter still. Only Telegram knows, in
``getWebhookInfo``: updates pending, and the date and message of its last delivery
error. In webhook mode a job on every instance reads it every
``VOY_WEBHOOK_CHECK_INTERVAL_S``:

- A check *fails* when Telegram reports a delivery error newer than at the previous
  check while updates are pending. The first check only notes the last error: an older
  one is from before this instance listened (a restart, a deploy).
- A failing check begins an episode (``webhook_failing``). It ends after
  ``CLEAR_CHECKS`` checks in a row that find no newer error and either nothing pending
  or fewer updates pending than at the last failing check: deliveries go through again.
  A queue that stands still while Telegram waits longer between its retries does not
  end it.
- The webhook registered at Telegram not being this instance's URL is an episode of its
  own (``webhook_replaced``): another deployment set its URL, or an instance started by
  polling deleted it. It ends once the URL is this instance's again. The URLs are
  compared as addresses (:func:`same_url`): Telegram may report ours in another spelling.

Meanwhile ``/healthz`` names the reason (bot.webhook). The ops chat gets one alert per
episode, naming Telegram's error (or the URL registered there), again when the reason
changes, and one notice when the episode ends. Every instance watches; only the one
holding the ``webhook_watch`` lease (renewed at each check) tells the ops chat, so
several instances send one alert. An instance that takes the lease over during an
episode it did not report reports it (its predecessor may have died before).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from telegram import WebhookInfo
from telegram.error import TelegramError

from bot.i18n import translator

if TYPE_CHECKING:  # bot.context holds a WebhookWatch: no import at run time
    from bot.context import BotApplication

_log = logging.getLogger(__name__)

FAILING = "webhook_failing"
REPLACED = "webhook_replaced"
JOB = "webhook_watch"
LEASE = "webhook_watch"
# Checks in a row that find deliveries going through before an episode ends.
CLEAR_CHECKS = 2
_DEFAULT_PORTS = {"https": 443, "http": 80}


@dataclass(frozen=True)
class WebhookState:
    """What ``getWebhookInfo`` said."""

    url: str
    pending: int
    error_date: int | None = None  # Unix time of the last delivery error
    error_message: str | None = None

    @classmethod
    def of(cls, info: WebhookInfo) -> WebhookState:
        """The state in PTB's ``WebhookInfo``."""
        date = info.last_error_date
        return cls(
            url=info.url,
            pending=info.pending_update_count,
            error_date=int(date.timestamp()) if date is not None else None,
            error_message=info.last_error_message,
        )


@dataclass(frozen=True)
class Episode:
    """A stretch of time in which Telegram cannot deliver to this instance's URL."""

    reason: str  # FAILING or REPLACED
    since: datetime
    # FAILING: Telegram's last error message; REPLACED: the URL registered there ("": none).
    detail: str
    pending: int = 0
    error_date: int | None = None


@dataclass(frozen=True)
class Notice:
    """What the ops chat is to be told: an episode (``alert``) or its end (``back``)."""

    kind: str  # "alert" or "back"
    episode: Episode
    ended_at: datetime | None = None


class WebhookWatch:
    """Reads ``getWebhookInfo`` states one check after another (pure: no I/O)."""

    def __init__(self) -> None:
        """Watch nothing until :meth:`watch` names this instance's URL."""
        self.url: str | None = None
        self.episode: Episode | None = None
        self._checked = False
        self._seen_error: int | None = None  # the error date at the previous check
        self._failing_pending = 0  # updates pending at the last failing check
        self._clear = 0  # clear checks in a row
        # What the ops chat was told of the current episode (reason, detail), if anything.
        self._told: tuple[str, str] | None = None
        self._back: Notice | None = None  # an ended episode's notice, not yet sent

    def watch(self, url: str) -> None:
        """Start watching the webhook at ``url`` (this instance's, as registered)."""
        self.url = url

    def problem(self) -> str | None:
        """``webhook_failing`` or ``webhook_replaced`` during an episode; else None."""
        return self.episode.reason if self.episode is not None else None

    def observe(self, state: WebhookState, now: datetime) -> None:
        """Take one check's state: begin, carry on or end an episode."""
        first, self._checked = not self._checked, True
        newer = state.error_date is not None and (
            self._seen_error is None or state.error_date > self._seen_error
        )
        self._seen_error = state.error_date
        if self.url is not None and not same_url(state.url, self.url):
            self._begin(REPLACED, state.url, now, state)
            return
        if newer and not first and state.pending > 0:
            self._failing_pending = state.pending
            self._clear = 0
            self._begin(FAILING, state.error_message or "", now, state)
            return
        episode = self.episode
        if episode is None:
            return
        if episode.reason == FAILING:
            delivered = state.pending == 0 or state.pending < self._failing_pending
            self._clear = self._clear + 1 if delivered else 0
            if self._clear < CLEAR_CHECKS:
                return
        self._end(now)

    def _begin(self, reason: str, detail: str, now: datetime, state: WebhookState) -> None:
        episode = self.episode
        if episode is not None and episode.reason == reason:
            # The same episode: what it says follows Telegram (a REPLACED one's URL is
            # its identity: another one is told again).
            self.episode = replace(
                episode, detail=detail, pending=state.pending, error_date=state.error_date
            )
            return
        if episode is None:
            self._back = None  # a new episode: an old one's notice is late, and moot
            _log.warning(
                "%s; /healthz reports %s until it ends",
                _describe(reason, detail, self.url or ""),
                reason,
            )
        else:
            _log.warning("%s (was: %s)", _describe(reason, detail, self.url or ""), episode.reason)
        self.episode = Episode(
            reason=reason,
            since=episode.since if episode is not None else now,
            detail=detail,
            pending=state.pending,
            error_date=state.error_date,
        )
        self._clear = 0

    def _end(self, now: datetime) -> None:
        episode, self.episode = self.episode, None
        assert episode is not None
        self._clear = 0
        _log.warning(
            "Telegram delivers to the webhook %s again (trouble since %s)",
            self.url,
            episode.since.isoformat(),
        )
        told, self._told = self._told, None
        self._back = Notice("back", episode, ended_at=now) if told is not None else None

    def due(self) -> Notice | None:
        """What the ops chat should be told now, if anything (until :meth:`told`)."""
        episode = self.episode
        if episode is not None:
            if self._told != (episode.reason, _identity(episode)):
                return Notice("alert", episode)
            return None
        return self._back

    def told(self, notice: Notice) -> None:
        """``notice`` reached the ops chat."""
        if notice.kind == "alert":
            self._told = (notice.episode.reason, _identity(notice.episode))
        elif self._back is notice:
            self._back = None


def same_url(a: str, b: str) -> bool:
    """Whether ``a`` and ``b`` are one webhook address: the scheme and host in any case,
    the scheme's default port given or not, an empty path as "/". The rest (the path the
    instances listen on, its trailing slash, the query) must be the same."""
    return _address(a) == _address(b)


def _address(url: str) -> tuple[str | int | None, ...]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:  # not a port: compared as written
        return (url,)
    return (
        scheme,
        parts.username,
        parts.password,
        (parts.hostname or "").lower(),
        None if port == _DEFAULT_PORTS.get(scheme) else port,
        parts.path or "/",
        parts.query,
        parts.fragment,
    )


def _identity(episode: Episode) -> str:
    """What makes an episode's alert another one: the URL registered elsewhere (a
    FAILING episode's error message may change from one retry to the next)."""
    return episode.detail if episode.reason == REPLACED else ""


def _describe(reason: str, detail: str, url: str) -> str:
    if reason == REPLACED:
        where = f"is {detail}" if detail else "is deleted"
        return f"the webhook registered at Telegram {where}, not this instance's {url}"
    return f"Telegram cannot deliver updates to the webhook {url}: {detail}"


def register(application: BotApplication, url: str) -> None:
    """Watch the webhook at ``url`` every ``VOY_WEBHOOK_CHECK_INTERVAL_S``, the first
    check at once (it notes the errors from before this instance listened)."""
    services = application.bot_data.services
    services.webhook.watch(url)
    assert application.job_queue is not None
    application.job_queue.run_repeating(
        _check,
        interval=services.settings.webhook_check_interval_s,
        first=0.0,
        name=JOB,
        job_kwargs={"id": JOB, "replace_existing": True, "max_instances": 1},
    )


async def _check(context: Any) -> None:
    """Read getWebhookInfo, update the watch and the gauges; under the lease, tell the
    ops chat what it has not heard yet. A failure of the lease's database reaches the
    error handler, as any job's."""
    from bot import leases

    application: BotApplication = context.application
    services = application.bot_data.services
    try:
        info = await application.bot.get_webhook_info()
    except TelegramError as error:
        _log.warning("could not read getWebhookInfo: %s", error)
        return
    state = WebhookState.of(info)
    services.metrics.webhook.pending = state.pending
    services.metrics.webhook.last_error = state.error_date or 0
    services.webhook.observe(state, services.clock.now())
    interval = services.settings.webhook_check_interval_s
    ttl = timedelta(seconds=max(3 * interval, 60.0))
    await leases.run_exclusive(services, LEASE, lambda: _tell(application), ttl=ttl)


async def _tell(application: BotApplication) -> None:
    """Send what the ops chat should hear now; a send that fails is tried at the next
    check."""
    from bot import leases

    services = application.bot_data.services
    settings = services.settings
    watch = services.webhook
    notice = watch.due()
    if notice is None or settings.ops_chat_id is None:
        return
    tr = translator(settings.default_locale, settings.default_locale)
    episode = notice.episode
    url = watch.url or ""
    if notice.kind == "back":
        ended = notice.ended_at or services.clock.now()
        text = tr(
            "ops.webhook_back",
            url=url,
            since=episode.since.astimezone(settings.tz).strftime("%Y-%m-%d %H:%M"),
            minutes=max(1, math.ceil((ended - episode.since).total_seconds() / 60)),
        )
    elif episode.reason == REPLACED:
        text = tr(
            "ops.webhook_replaced" if episode.detail else "ops.webhook_deleted",
            url=url,
            registered=episode.detail,
            instance=leases.holder_id(services),
        )
    else:
        when = datetime.fromtimestamp(episode.error_date or 0, UTC).astimezone(settings.tz)
        text = tr(
            "ops.webhook_failing",
            url=url,
            error=episode.detail or "-",
            when=when.strftime("%Y-%m-%d %H:%M:%S"),
            pending=episode.pending,
            instance=leases.holder_id(services),
        )
    try:
        await application.bot.send_message(settings.ops_chat_id, text)
    except TelegramError:
        _log.warning(
            "could not send the webhook's ops %s; the next check tries again",
            notice.kind,
            exc_info=True,
        )
        return
    watch.told(notice)
