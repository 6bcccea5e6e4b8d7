"""What a review of session 16's changes found, without Telegram: each test FAILS on the
code as reviewed; its docstring says who meets what."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer

from bot import notify
from bot.cli_common import load_settings
from bot.config import Settings
from bot.i18n import html_to_plain, translator
from bot.services.safeguarding import assess
from knowledge import FaqDoc, Matcher, Thresholds
from knowledge.entries import STARTER_FAQ, read_entries

ROOT = Path(__file__).resolve().parents[2]


def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("VOY_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no .env of the developer's


# --- settings -------------------------------------------------------------------------


def test_a_refused_database_url_does_not_print_its_password(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An operator moving to PostgreSQL writes VOY_DATABASE_URL=postgresql://voy:PW@host/voy
    (the usual form, without +asyncpg). The new ``_known_database`` validator refuses it,
    and ``cli_common._problem`` appends "(got '<the whole URL>')": the database password
    goes to stderr, i.e. journald or the log collector. (``cli.main`` itself takes care
    to render the URL with ``hide_password=True``.)"""
    _clean_env(monkeypatch, tmp_path)
    monkeypatch.setenv("VOY_DATABASE_URL", "postgresql://voy:S3cret-Pw@db-host/voy")
    with pytest.raises(typer.Exit):
        load_settings()
    err = capsys.readouterr().err
    assert "VOY_DATABASE_URL" in err
    assert "S3cret-Pw" not in err, err


@pytest.mark.parametrize("level", ["warn", "WARN", "fatal"])
def test_a_log_level_python_accepts_still_starts_the_bot(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, level: str
) -> None:
    """``logs.setup`` passes the level to ``logging.basicConfig``, which has always
    accepted WARN and FATAL (``logging._nameToLevel``); a deployment with
    VOY_LOG_LEVEL=warn started before 1943900 and is now refused at start."""
    _clean_env(monkeypatch, tmp_path)
    settings = Settings(log_level=level)  # type: ignore[arg-type]
    assert settings.log_level.upper() in ("WARN", "WARNING", "FATAL", "CRITICAL")


def test_an_unusable_database_is_named_as_configured_in_dot_env(tmp_path: Path) -> None:
    """Settings read VOY_DATABASE_URL from ``.env`` too (``env_file=".env"``), but
    ``cli.main`` names the database from ``os.environ`` only, else the default: an
    operator whose URL is in .env (never migrated) is told the problem is with
    ``sqlite+aiosqlite:///var/voy.sqlite3``, a file that does not exist."""
    database = tmp_path / "data" / "configured.sqlite3"
    (tmp_path / ".env").write_text(f"VOY_DATABASE_URL=sqlite+aiosqlite:///{database}\n")
    environ = {k: v for k, v in os.environ.items() if not k.startswith("VOY_")}
    environ["PYTHONPATH"] = str(ROOT)
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "cadre", "list"],
        cwd=tmp_path,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2 and "cannot use the database" in done.stderr, done.stderr
    assert "configured.sqlite3" in done.stderr, done.stderr


# --- safeguarding -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        # Housing for interns and graduates (the League's 青年驿站), not a child shut out.
        "实习期间没有地方住怎么办",
        "大学毕业了没地方住，有青年公寓吗",
        # League dues collected by the branch secretary, not extortion.
        "团支书找我要钱交团费，正常吗",
    ],
)
def test_an_ordinary_question_is_not_a_call_for_help(text: str) -> None:
    """The new abuse pattern '没(?:有)?(?:地方|家)(?:可以|能)?(?:住|睡|回)' and the
    bullying pattern '(?:问|找|跟|向|管|朝)我(?:要|拿|收)(?:了)?钱' take ordinary questions
    of this bot's own domain (housing while interning, League dues) as calls for help:
    the young person is sent 12355 and the emergency numbers instead of an answer, and
    the committee gets a 🚨 card."""
    assert assess(text) is None, assess(text)


# --- matcher contrast sets ----------------------------------------------------------------


@pytest.fixture(scope="module")
def starter_docs() -> list[FaqDoc]:
    entries = read_entries(STARTER_FAQ)
    return [FaqDoc(e.id, e.question, e.alt_questions, e.region) for e in entries]


@pytest.fixture(scope="module")
def starter_matcher(starter_docs: list[FaqDoc]) -> Matcher:
    return Matcher(starter_docs)


@pytest.mark.parametrize(
    ("query", "entry"),
    [
        # The entry's answer says what a Party member writes ("入党后：填中共党员").
        ("我是党员政治面貌写啥", "league-political-status"),
        # Young people say 退团 for the age-out (离团) the entry is about.
        ("28周岁要退团吗", "league-age-out"),
    ],
)
def test_a_contrast_term_does_not_demote_the_entry_that_answers_it(
    starter_matcher: Matcher, starter_docs: list[FaqDoc], query: str, entry: str
) -> None:
    """Without the contrast sets these are answered, correctly, with confidence 0.95 and
    0.84. ``SynonymMap.contrasting`` compares the query with the best phrasing only
    (党员 in the query, 团员 in "我是团员政治面貌写啥"), so the entry whose answer covers
    the asked case is demoted to a choice."""
    result = starter_matcher.match(query)
    assert result.top is not None and result.top.entry_id == entry, result.hits[:1]
    # Not demoted: answered by a matcher that answers at 0.5. (At the bot's 0.8 it
    # depends on the self-calibration, which any phrasing added to the FAQ moves:
    # 28周岁要退团吗 went from 0.84 to 0.797 when 入团要什么条件 was added.)
    lenient = Matcher(starter_docs, thresholds=Thresholds(answer=0.5))
    assert lenient.match(query).band == "answer", (query, result.top)


def test_an_urgent_cards_first_line_names_its_ticket() -> None:
    """A call for help's card opened again starts with the urgent line: a reply to it
    must find the question even when its outbox record is gone (session 17 review)."""
    for locale in ("zh-Hans", "zh-Hant", "en"):
        tr = translator(locale, locale)
        card = tr("card.urgent_again", ref=42, category="x") + "\n" + tr("card.pool")
        assert notify.ticket_in_header(html_to_plain(card)) == 42, locale
