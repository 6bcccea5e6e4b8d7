"""The voy CLI: clear refusals, migrations and the org file, on VOY_DATABASE_URL."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.data import DEMO_ORG
from storage.db import create_engine

runner = CliRunner()


def _count_cadres(url: str) -> int:
    async def count() -> int:
        engine = create_engine(url)
        try:
            async with engine.connect() as connection:
                return int(
                    (await connection.exec_driver_sql("select count(*) from cadres")).scalar_one()
                )
        finally:
            await engine.dispose()

    return asyncio.run(count())


def test_run_without_token_says_so_in_one_line(
    db_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VOY_TELEGRAM_TOKEN", "changeme")
    result = runner.invoke(app, ["run"])
    assert result.exit_code == 2
    assert "VOY_TELEGRAM_TOKEN is missing or a placeholder" in result.output
    assert "Traceback" not in result.output


def test_run_refuses_an_unmigrated_database(db_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOY_TELEGRAM_TOKEN", "123456:real-looking")
    result = runner.invoke(app, ["run"])
    assert result.exit_code == 2
    assert "voy db upgrade" in result.output


def test_db_upgrade_and_org_load_act_on_the_configured_database(db_env: str) -> None:
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    assert runner.invoke(app, ["db", "current"]).output.strip() != "empty"
    result = runner.invoke(app, ["org", "load", str(DEMO_ORG)])
    assert result.exit_code == 0, result.output
    assert "loaded 8 regions, 10 topics, 3 cadres" in result.output
    assert _count_cadres(db_env) == 3
    assert runner.invoke(app, ["db", "downgrade", "base"]).exit_code == 0
    assert runner.invoke(app, ["db", "current"]).output.strip() == "empty"


def test_org_load_reports_a_bad_file(db_env: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("cadres: [{telegram_id: 1, name: x, topics: [nothing]}]", encoding="utf-8")
    result = runner.invoke(app, ["org", "load", str(bad)])
    assert result.exit_code == 2
    assert "unknown codes" in result.output
