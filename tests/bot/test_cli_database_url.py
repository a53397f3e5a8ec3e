"""The CLI with an odd DATABASE_URL, .env or stdout: one line and the right exit code."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.database import unreachable
from bot.settings import Settings
from tests.bot.test_cli import assert_one_line_complaint, clean_env, herald, migrate
from tests.bot.test_cli_refusals import herald_into_a_closed_pipe


def listed(directory: Path) -> str:
    """What `herald list --all` shows for the database in the directory."""
    return herald(directory, "list", "--all").stdout


@pytest.mark.parametrize(
    "url",
    ["postgress://u:Hunter2-Password@127.0.0.1/db", "https://x.supabase.co", "redis://localhost"],
)
@pytest.mark.parametrize("args", [["list"], ["help"], ["serve", "--port", "1"]])
def test_a_database_url_of_no_known_kind_is_one_line_for_every_command(
    tmp_path: Path, url: str, args: list[str]
) -> None:
    result = herald(tmp_path, *args, env=clean_env(tmp_path, DATABASE_URL=url))
    line = assert_one_line_complaint(result, 2)
    assert "is not supported. Herald runs on SQLite or PostgreSQL" in line
    assert "Hunter2" not in line


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_an_in_memory_database_is_refused_before_anything_is_opened(
    tmp_path: Path, url: str
) -> None:
    env = clean_env(tmp_path, DATABASE_URL=url)
    line = assert_one_line_complaint(herald(tmp_path, "open", "Lost", "--sev", "1", env=env), 2)
    assert "an in-memory SQLite database loses every change" in line


def test_a_dotenv_that_is_not_utf8_is_one_line(tmp_path: Path) -> None:
    (tmp_path / ".env").write_bytes(b"SITE_NAME=Stato Caff\xe8\n")
    line = assert_one_line_complaint(herald(tmp_path, "help"), 2)
    assert line == "herald: .env is not UTF-8; save it as UTF-8."


@pytest.mark.parametrize("value", [" ", "herald.db "])
def test_a_database_url_with_spaces_is_read_without_them(tmp_path: Path, value: str) -> None:
    env = clean_env(tmp_path, DATABASE_URL=value)
    line = assert_one_line_complaint(herald(tmp_path, "list", env=env), 1)
    assert f"no Herald database at {tmp_path.resolve() / 'herald.db'}." in line


def test_a_missing_file_named_by_a_sqlite_uri_is_refused_not_created(tmp_path: Path) -> None:
    env = clean_env(tmp_path, DATABASE_URL="sqlite:///file:x.db?uri=true")
    line = assert_one_line_complaint(herald(tmp_path, "list", env=env), 1)
    assert f"no Herald database at {tmp_path.resolve() / 'x.db'}." in line
    assert list(tmp_path.iterdir()) == []


def test_a_database_path_that_is_not_utf8_is_one_line(tmp_path: Path) -> None:
    # subprocess encodes the surrogate back to the byte 0xff in the child's environment.
    env = clean_env(tmp_path, DATABASE_URL=f"{tmp_path}/caff\udcff.db")
    line = assert_one_line_complaint(herald(tmp_path, "db", "upgrade", env=env), 2)
    assert line.startswith("herald: setting DATABASE_URL: is not UTF-8 text")
    assert list(tmp_path.iterdir()) == []


def run_with_stdout(
    directory: Path, shell_redirect: str, *args: str
) -> subprocess.CompletedProcess[str]:
    """Run herald with its stdout redirected by the shell (`>&-`, `>/dev/full`)."""
    return subprocess.run(
        ["sh", "-c", f'exec "$0" "$@" {shell_redirect}', sys.executable, "-m", "bot", *args],
        cwd=directory,
        env=clean_env(directory),
        stderr=subprocess.PIPE,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_change_saved_with_stdout_closed_exits_0_quietly(tmp_path: Path) -> None:
    migrate(tmp_path)
    result = run_with_stdout(tmp_path, ">&-", "open", "Closed", "stdout")
    assert (result.returncode, result.stderr) == (0, "")
    assert "Closed stdout" in listed(tmp_path)


def test_a_change_saved_before_the_reader_went_away_exits_0_quietly(tmp_path: Path) -> None:
    migrate(tmp_path)
    result = herald_into_a_closed_pipe(tmp_path, "open", "Pipe", "test")
    assert (result.returncode, result.stderr) == (0, "")
    assert "Pipe test" in listed(tmp_path)


def test_a_change_saved_but_not_printable_says_it_was_saved(tmp_path: Path) -> None:
    migrate(tmp_path)
    result = run_with_stdout(tmp_path, ">/dev/full", "open", "Disk", "full")
    assert result.returncode == 0
    assert result.stderr.splitlines() == [
        "herald: the change was saved, but the reply could not be printed (No space left on device)"
    ]
    assert "Disk full" in listed(tmp_path)


def test_a_reply_the_terminal_cannot_encode_is_printed_with_escapes(tmp_path: Path) -> None:
    migrate(tmp_path)
    env = clean_env(tmp_path, PYTHONIOENCODING="ascii")
    result = herald(tmp_path, "open", "Caffè giù 2", env=env)
    assert (result.returncode, result.stderr) == (0, "")
    assert "Caff\\xe8 gi\\xf9 2" in result.stdout
    assert "Caffè giù 2" in listed(tmp_path)


def test_a_read_only_database_is_named_as_such(tmp_path: Path) -> None:
    migrate(tmp_path)
    env = clean_env(tmp_path, DATABASE_URL="sqlite:///file:herald.db?mode=ro&uri=true")
    line = assert_one_line_complaint(herald(tmp_path, "open", "Read", "only", env=env), 1)
    assert line == (
        f"herald: cannot write the SQLite database {tmp_path.resolve() / 'herald.db'} "
        "(attempt to write a readonly database); nothing was saved. "
        f"Check that {tmp_path.resolve()} exists and that it and the file are writable "
        "by this user, or set DATABASE_URL."
    )


def test_a_locked_database_is_named_as_such(tmp_path: Path) -> None:
    path = tmp_path / "herald.db"
    holder, waiter = sqlite3.connect(path), sqlite3.connect(path, timeout=0)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(sqlite3.OperationalError) as locked:
            waiter.execute("BEGIN IMMEDIATE")
    finally:
        holder.close()
        waiter.close()
    error = sa.exc.OperationalError("BEGIN IMMEDIATE", None, locked.value)
    message = unreachable(Settings(_env_file=None, database_url=str(path)), error)
    assert message == (
        "the SQLite database stayed locked by another process for 15 s (database is locked); "
        "nothing was saved. Try again, or stop the process holding it."
    )
