"""Settings, read from ``VOY_*`` environment variables and an optional ``.env`` file."""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import replace
from datetime import time
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from knowledge.types import Thresholds

SUPPORTED_LOCALES = ("zh-Hans", "zh-Hant", "en")
EVENT_LOOPS = ("auto", "uvloop", "asyncio")
HTTP_CLIENTS = ("aiohttp", "httpx")

# Tokens that mean "nobody configured this yet": refuse to start on them.
_PLACEHOLDER_TOKENS = {"", "changeme", "change-me", "your-token-here", "token", "xxx", "test"}
# Pseudonym secrets that mean "nobody chose one", and the shortest that is not a guess.
_PLACEHOLDER_SECRETS = _PLACEHOLDER_TOKENS | {"secret", "changeit", "change_me", "example"}
_MIN_PSEUDONYM_SECRET = 16
# The async drivers the bot runs on.
_DATABASE_DRIVERS = ("sqlite+aiosqlite", "postgresql+asyncpg")
# What Telegram accepts as a webhook secret_token.
_WEBHOOK_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")
# The settings that take one of a few words: what an error calls each, and the words.
_CHOICES: dict[str, tuple[str, tuple[str, ...]]] = {
    "default_locale": ("locale", SUPPORTED_LOCALES),
    "event_loop": ("event loop", EVENT_LOOPS),
    "http_client": ("HTTP client", HTTP_CLIENTS),
    "log_format": ("log format", ("text", "json")),
    "log_level": ("log level", ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")),
}


class ConfigError(Exception):
    """Raised when the settings cannot run the bot; the message is one line for the user."""


def default_database_url() -> str:
    """Return the default SQLite URL under ``./var/``."""
    return f"sqlite+aiosqlite:///{Path('var') / 'voy.sqlite3'}"


class Settings(BaseSettings):
    """Everything that can be configured; see the README for the full list."""

    model_config = SettingsConfigDict(
        env_prefix="VOY_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    telegram_token: SecretStr = SecretStr("")
    database_url: str = Field(default_factory=default_database_url)
    timezone: str = "Asia/Shanghai"
    default_locale: str = "zh-Hans"
    # Chat that receives error alerts (a group id is negative); optional.
    ops_chat_id: int | None = None
    # Telegram's own limit is 4096; longer questions are kept but asked to be shortened.
    max_text_length: int = 2000
    # Respect Telegram's flood limits with PTB's AIORateLimiter.
    rate_limit: bool = True
    # Updates handled at once (one chat's still in order); SQLite serialises writers anyway.
    concurrent_updates: int = Field(default=1, ge=1)
    # The event loop of `voy run` and the demo: "auto" (uvloop where installed, else
    # asyncio's own), "uvloop" (required) or "asyncio". uvloop cut the bot's CPU per
    # update by about a sixth in the load benchmark (bench/README.md).
    event_loop: str = "auto"
    # The client for Bot API calls: "aiohttp" (bot/http.py) or "httpx", PTB's own.
    http_client: str = "aiohttp"
    quiet_hours_start: time = time(22, 0)
    quiet_hours_end: time = time(8, 0)
    log_level: str = "INFO"
    # Matcher bands (confidence 0..1); unset means the matcher's tuned defaults.
    match_answer_threshold: float | None = Field(default=None, ge=0, le=1)
    match_suggest_threshold: float | None = Field(default=None, ge=0, le=1)
    # The bot's @username, for the invite links `voy cadre invite` prints.
    bot_username: str = ""
    # Cadres see young people as 青年#A3F2: a keyed hash of their id. Unset: derived
    # from the bot token, so it is stable for one deployment.
    pseudonym_secret: SecretStr = SecretStr("")
    # The question loop's clocks (hours unless named otherwise).
    sla_reminder_hours: float = 24
    sla_escalation_hours: float = 48
    resolve_check_hours: float = 24
    # Suggestions the young person neither chose from nor turned down within this time:
    # the question goes to a person (they saw no answer yet).
    suggest_route_hours: float = Field(default=12, gt=0)
    auto_resolve_days: float = 7
    # Passes to a colleague a question may take without an answer; a further one is
    # refused and the committee asked to step in (two cadres passing it back and forth).
    max_passes: int = Field(default=3, ge=1)
    # Micro-wishes: the value cap, the "1 cadre ↔ 5 wishes" claim limit, and the clocks
    # of drafts, claims and confirmations.
    wish_value_cap: int = 500
    wish_claim_limit: int = 5
    wish_draft_reminder_hours: float = 24
    wish_draft_expiry_hours: float = 72
    wish_claim_reminder_days: float = 7
    wish_claim_release_days: float = 10
    wish_confirm_reminder_days: float = 3
    wish_confirm_close_days: float = 14
    wish_unclaimed_days: float = 14
    # A wish returned for edits and not resubmitted within this time is withdrawn (the
    # young person is told), so it neither waits in /my nor keeps its text for ever.
    wish_returned_lapse_days: float = 30
    # A submitted wish no reviewer decided on: the reviewers get its card again once,
    # and the weekly digest counts it as waiting too long.
    wish_review_reminder_hours: float = 48
    # After "answer", "forward", "follow up", a review reason or a proof button, the next
    # text is taken as that only within this time; later, it is not sent anywhere and
    # the sender is told (a young person's lapsed follow-up is taken as a new message).
    pending_step_minutes: float = Field(default=60, gt=0)
    # The outbox deliverer and the sweeper that escalates and auto-resolves.
    outbox_interval_s: float = 2.0
    outbox_rate_per_s: float = 20.0
    # A push being sent is re-sent by another run only after this; a crash delays it so long.
    outbox_lease_s: float = Field(default=60.0, gt=0)
    sweep_interval_s: float = 60.0
    # How often an instance looks for failed updates an operator queued again.
    requeue_interval_s: float = Field(default=30.0, gt=0)
    # Production (issue 7): webhook mode, metrics, logs, several instances.
    # Set webhook_url to receive updates by webhook instead of long polling.
    webhook_url: str = ""
    webhook_secret: SecretStr = SecretStr("")
    webhook_max_connections: int = Field(default=40, ge=1, le=100)
    # Webhook mode: how often getWebhookInfo is read, to see updates Telegram cannot
    # deliver (a proxy refusing or misrouting them; bot.webhook_watch).
    webhook_check_interval_s: float = Field(default=60.0, gt=0)
    listen: str = "127.0.0.1"
    # Polling mode: start even though a webhook is registered (and so delete it). Off,
    # a polling run refuses, so a stray one cannot cut the webhook instances off.
    replace_webhook: bool = False
    port: int = Field(default=8443, ge=1, le=65535)
    # Another Bot API server (a local one, or the sandbox): its base, e.g. http://host/bot
    bot_api_url: str = ""
    # Polling mode only: serve /metrics and /healthz on this port (0: off).
    metrics_port: int = Field(default=0, ge=0, le=65535)
    # "text" (default) or "json": one JSON object per log line.
    log_format: str = "text"
    # This instance's name in job leases; unset: host:pid:random.
    instance_id: str = ""
    # Error alerts to the ops chat: one per error signature per window.
    ops_alert_window_minutes: float = 15
    # Data rights: closed items lose their personal text after this many days (0 keeps
    # it forever), purged daily in batches of this many items of each kind.
    retention_days: float = Field(default=365, ge=0)
    retention_batch: int = Field(default=500, ge=1)
    # The weekly digest: posted to the committee chat on this ISO weekday (1 = Monday) at
    # this local time, for the week before; the job checks every few minutes, so a bot
    # that was down then posts it when it is back.
    digest_enabled: bool = True
    digest_weekday: int = Field(default=1, ge=1, le=7)
    digest_time: time = time(9, 0)
    digest_check_interval_s: float = Field(default=300.0, gt=0)
    # How often finished broadcasts are looked for (their authors are told once).
    broadcast_check_interval_s: float = 30.0
    # How often the staff menus are brought in line with roles changed outside the bot.
    menu_sync_interval_s: float = Field(default=300.0, gt=0)

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: object) -> object:
        # The names Python's logging takes, in any case, as before this was checked.
        if not isinstance(value, str):
            return value
        return {"WARN": "WARNING", "FATAL": "CRITICAL"}.get(value.upper(), value.upper())

    @field_validator("bot_username")
    @classmethod
    def _bare_username(cls, value: str) -> str:
        # Written as Telegram shows it (@name), it would make t.me/@name links.
        return value.strip().removeprefix("@")

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        # What SQLAlchemy would say deep in a traceback, said here in one line.
        try:
            url = make_url(value)
        except ArgumentError as exc:  # the value is not shown: it may hold a password
            raise ValueError("not a database URL (driver://user:password@host/database)") from exc
        if url.drivername not in _DATABASE_DRIVERS:
            raise ValueError(
                f"unsupported database driver {url.drivername!r}; use one of "
                f"{_DATABASE_DRIVERS} (e.g. postgresql+asyncpg://user:pass@host/db)"
            )
        if url.get_backend_name() == "sqlite" and "timeout" in url.query:
            timeout = url.query["timeout"]
            try:
                seconds = float(timeout[-1] if isinstance(timeout, tuple) else timeout)
            except ValueError:
                seconds = math.nan
            if not (math.isfinite(seconds) and seconds >= 0):
                raise ValueError(
                    "the SQLite URL's ?timeout= must be a number of seconds, 0 or more"
                )
        return value

    @field_validator(*_CHOICES)
    @classmethod
    def _one_of(cls, value: str, info: ValidationInfo) -> str:
        what, allowed = _CHOICES[str(info.field_name)]
        if value not in allowed:
            raise ValueError(f"unsupported {what} {value!r}; use one of {allowed}")
        return value

    @field_validator("webhook_secret")
    @classmethod
    def _telegram_webhook_secret(cls, value: SecretStr) -> SecretStr:
        secret = value.get_secret_value()
        if secret and not _WEBHOOK_SECRET.fullmatch(secret):
            raise ValueError(
                "VOY_WEBHOOK_SECRET must be 1-256 characters of A-Z, a-z, 0-9, _ and - "
                "(Telegram refuses setWebhook otherwise)"
            )
        return value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @model_validator(mode="after")
    def _suggest_not_above_answer(self) -> Settings:
        # The matcher's own check, said here in one line rather than in a traceback.
        thresholds = Thresholds()
        answer = thresholds.answer if (a := self.match_answer_threshold) is None else a
        suggest = thresholds.suggest if (s := self.match_suggest_threshold) is None else s
        if suggest > answer:
            raise ValueError(
                f"VOY_MATCH_SUGGEST_THRESHOLD ({suggest:g}) must not be above "
                f"VOY_MATCH_ANSWER_THRESHOLD ({answer:g}); unset, they are "
                f"{thresholds.suggest:g} and {thresholds.answer:g}"
            )
        return self

    @property
    def tz(self) -> ZoneInfo:
        """The configured time zone."""
        return ZoneInfo(self.timezone)

    def thresholds(self) -> Thresholds:
        """The matcher thresholds, with configured values over the defaults."""
        defaults = Thresholds()
        return replace(
            defaults,
            answer=defaults.answer
            if self.match_answer_threshold is None
            else self.match_answer_threshold,
            suggest=defaults.suggest
            if self.match_suggest_threshold is None
            else self.match_suggest_threshold,
        )

    def pseudonym_key(self) -> str:
        """The secret behind pseudonyms."""
        secret = self.pseudonym_secret.get_secret_value()
        if secret:
            return secret
        token = self.telegram_token.get_secret_value()
        return hashlib.sha256(f"voy-pseudonym:{token}".encode()).hexdigest()

    def pseudonym_secret_warning(self) -> str | None:
        """What is wrong with ``VOY_PSEUDONYM_SECRET`` for production (unset, so derived
        from the token; a placeholder; short), for a warning at start-up; else None."""
        secret = self.pseudonym_secret.get_secret_value()
        if not secret.strip():
            problem = "is not set, so the pseudonyms' key is derived from the bot token"
        elif secret.strip().lower() in _PLACEHOLDER_SECRETS:
            problem = "is a placeholder"
        elif len(secret) < _MIN_PSEUDONYM_SECRET:
            problem = f"is shorter than {_MIN_PSEUDONYM_SECRET} characters (guessable)"
        else:
            return None
        return (
            f"VOY_PSEUDONYM_SECRET {problem}: it keys the pseudonyms cadres know young "
            "people by and the u: codes in logs, and every one of them changes when it is "
            "set or changed later (or, while derived, when the token is revoked). Set it "
            "once to a long random value (openssl rand -hex 32) and keep it; the README "
            "(Configuration) says how to keep the pseudonyms in use now"
        )

    def require_token(self) -> str:
        """Return the token; raise :class:`ConfigError` if it is missing or a placeholder."""
        token = self.telegram_token.get_secret_value().strip()
        if token.lower() in _PLACEHOLDER_TOKENS or ":" not in token:
            raise ConfigError(
                "VOY_TELEGRAM_TOKEN is missing or a placeholder: set it to the token "
                "@BotFather gave you (or run `voy demo` to try the bot offline)."
            )
        return token
