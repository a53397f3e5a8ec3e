"""Fixtures of the CLI tests: the demo data loaded once per module, copied per test."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.bot.test_cli import herald


@pytest.fixture(scope="module")
def demo_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A herald.db with the sample loaded by `herald demo`."""
    directory = tmp_path_factory.mktemp("demo")
    loaded = herald(directory, "demo")
    assert loaded.returncode == 0, loaded.stderr
    return directory / "herald.db"


@pytest.fixture
def demo(tmp_path: Path, demo_database: Path) -> Path:
    """tmp_path with its own copy of the demo database."""
    shutil.copy(demo_database, tmp_path / "herald.db")
    return tmp_path
