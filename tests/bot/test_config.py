"""Settings: defaults, environment variables and the token guard."""

from __future__ import annotations

import pytest
from pydantic import SecretStr, ValidationError

from bot.config import ConfigError, Settings


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("VOY_DATABASE_URL", "VOY_TIMEZONE", "VOY_DEFAULT_LOCALE"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.database_url == "sqlite+aiosqlite:///var/voy.sqlite3"
    assert settings.timezone == "Asia/Shanghai"
    assert settings.default_locale == "zh-Hans"


def test_reads_prefixed_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOY_DATABASE_URL", "postgresql+asyncpg://u@h/db")
    monkeypatch.setenv("VOY_DEFAULT_LOCALE", "en")
    monkeypatch.setenv("VOY_TELEGRAM_TOKEN", "123:abc")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.database_url == "postgresql+asyncpg://u@h/db"
    assert settings.default_locale == "en"
    assert settings.require_token() == "123:abc"
    assert "123:abc" not in repr(settings)  # the token is a secret


@pytest.mark.parametrize("token", ["", "changeme", "your-token-here", "  ", "nocolon"])
def test_placeholder_token_refused(token: str) -> None:
    with pytest.raises(ConfigError, match="VOY_TELEGRAM_TOKEN"):
        Settings(telegram_token=SecretStr(token), _env_file=None).require_token()  # type: ignore[call-arg]


def test_unknown_locale_and_timezone_refused() -> None:
    with pytest.raises(ValidationError):
        Settings(default_locale="fr", _env_file=None)  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        Settings(timezone="Mars/Olympus", _env_file=None)  # type: ignore[call-arg]


@pytest.mark.parametrize("secret", ["has space", "émoji", "a" * 257, "semi;colon", "CHANGE+ME"])
def test_a_webhook_secret_telegram_would_refuse_is_refused_at_startup(secret: str) -> None:
    with pytest.raises(ValidationError, match="VOY_WEBHOOK_SECRET"):
        Settings(  # type: ignore[call-arg]
            telegram_token=SecretStr("1:x"), webhook_secret=SecretStr(secret), _env_file=None
        )


@pytest.mark.parametrize("secret", ["", "a", "A-z_0-9", "b" * 256])
def test_valid_webhook_secrets_are_accepted(secret: str) -> None:
    settings = Settings(  # type: ignore[call-arg]
        telegram_token=SecretStr("1:x"), webhook_secret=SecretStr(secret), _env_file=None
    )
    assert settings.webhook_secret.get_secret_value() == secret


@pytest.mark.parametrize("secret", ["", "   ", "changeme", "CHANGE-ME", "secret", "short-key"])
def test_a_pseudonym_secret_unset_or_a_placeholder_is_warned_about(secret: str) -> None:
    """Unset, the pseudonyms cadres know people by follow the token; set later (or the
    token revoked), every one changes. A placeholder or a short key is guessable."""
    settings = Settings(  # type: ignore[call-arg]
        telegram_token=SecretStr("1:x"), pseudonym_secret=SecretStr(secret), _env_file=None
    )
    warning = settings.pseudonym_secret_warning()
    assert warning is not None and "VOY_PSEUDONYM_SECRET" in warning
    assert secret.strip() == "" or secret not in warning  # a secret is never logged


def test_a_long_random_pseudonym_secret_is_not_warned_about() -> None:
    settings = Settings(  # type: ignore[call-arg]
        telegram_token=SecretStr("1:x"),
        pseudonym_secret=SecretStr("9f2c1e7a5b3d4c6e8f0a1b2c3d4e5f60"),
        _env_file=None,
    )
    assert settings.pseudonym_secret_warning() is None
