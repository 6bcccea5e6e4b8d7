"""Fixtures shared by the command-line tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def db_env(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """``voy`` commands run on the test's database, in a folder with no stray .env."""
    monkeypatch.setenv("VOY_DATABASE_URL", database_url)
    monkeypatch.chdir(tmp_path)
    return database_url
