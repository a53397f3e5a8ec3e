"""The `herald` command end to end: plain-text replies, exit codes and one-line reasons."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from bot.settings import Settings
from storage.engine import make_engine
from storage.migrate import HEAD_REVISION, upgrade

SETTING_NAMES = {name.upper() for name in Settings.model_fields}
CONSOLE_SCRIPT = shutil.which("herald", path=str(Path(sys.executable).parent))


def clean_env(tmp_path: Path, **settings: str) -> dict[str, str]:
    """This process's environment without any Herald setting, on a SQLite file in tmp_path."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name.upper() not in SETTING_NAMES
        and not name.upper().startswith(("SLACK_", "TELEGRAM_"))
    }
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'herald.db'}"
    env.update(settings)
    return env


def herald(
    tmp_path: Path,
    *args: str,
    env: dict[str, str] | None = None,
    command: Sequence[str] = (sys.executable, "-m", "bot"),
) -> subprocess.CompletedProcess[str]:
    """Run the CLI in tmp_path and capture what it printed."""
    return subprocess.run(
        [*command, *args],
        cwd=tmp_path,
        env=clean_env(tmp_path) if env is None else env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def migrate(directory: Path) -> Path:
    """Leave a migrated herald.db in the directory, as `herald serve` or `db upgrade` do."""
    engine = make_engine(f"sqlite:///{directory / 'herald.db'}")
    upgrade(engine)
    engine.dispose()
    return directory


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """tmp_path with a migrated herald.db in it."""
    return migrate(tmp_path)


def assert_one_line_complaint(result: subprocess.CompletedProcess[str], exit_code: int) -> str:
    """The run failed with exit_code and said why in one `herald: …` line, no traceback."""
    assert result.returncode == exit_code, result.stderr
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("herald: ")
    return lines[0]


# --- success -------------------------------------------------------------------------------


def test_open_replies_in_plain_text_and_exits_0(workdir: Path) -> None:
    result = herald(workdir, "open", "Problemi consegna posta", "--sev", "2")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout.startswith("Opened INC-1 “Problemi consegna posta” (SEV2, investigating")
    assert result.stdout.endswith("\n")
    assert "\x1b[" not in result.stdout


@pytest.mark.slow
def test_a_timeline_built_from_the_cli_shows_every_update(workdir: Path) -> None:
    steps = [
        ("components", "add", "posta", "Posta"),
        ("open", "Problemi consegna posta", "--sev", "3", "--components", "posta"),
        ("update", "INC-1", "--status", "identified", "Il nodo è stato escluso\ndal cluster"),
        ("resolve", "#1"),
    ]
    for step in steps:
        result = herald(workdir, *step)
        assert result.returncode == 0, (step, result.stderr)
        assert result.stderr == ""
    shown = herald(workdir, "show", "1")
    assert shown.returncode == 0
    lines = shown.stdout.splitlines()
    assert lines[0].split() == [
        "INC-1",
        "SEV3",
        "resolved",
        "Problemi",
        "consegna",
        "posta",
        "·",
        "posta",
    ]
    assert [line.split()[4] for line in lines if line.startswith("#")] == [
        "Apertura",
        "Aggiornamento",
        "Chiusura",
    ]
    # Line breaks typed in one argument survive.
    assert "    Il nodo è stato escluso\n    dal cluster\n" in shown.stdout
    assert "    Tutti i sistemi sono tornati pienamente operativi.\n" in shown.stdout


def test_locale_setting_switches_the_public_wording(workdir: Path) -> None:
    env = clean_env(workdir, LOCALE="en")
    assert herald(workdir, "open", "Mail down", env=env).returncode == 0
    shown = herald(workdir, "show", "INC-1", env=env)
    assert shown.returncode == 0
    assert " Opened [investigating]" in shown.stdout
    assert "We are investigating an issue." in shown.stdout


# --- usage errors: exit 2 ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "mentions"),
    [
        (["bogus"], "'bogus'"),
        (["opne", "Mail down"], "Did you mean 'open'?"),
        (["open"], "needs a title"),
        (["open", "Mail down", "--sev", "9"], "--sev takes 1 to 4"),
        (
            ["open", "Mail down", "--at", "32/13/2025 10:00"],
            "'32/13/2025 10:00' is not a real date",
        ),
        (["open", "Mail down", "--at", "yesterday-ish"], "is not a date Herald reads"),
        (["open", "Mail down", "--at", "30/03/2025 02:30"], "does not exist in Europe/Rome"),
        (["open", "Mail down", "--at", "2999-01-01 10:00"], "cannot be in the future"),
        (["update", "INC-1"], "needs the text customers will read"),
        (["show", "INC-x"], "is not an incident id"),
        (
            [
                "maintenance",
                "schedule",
                "Lavori",
                "--start",
                "22/05/2021 12:00",
                "--end",
                "22/05/2021 10:00",
            ],
            "must end after it starts",
        ),
    ],
)
def test_usage_errors_exit_2_with_one_line(tmp_path: Path, args: list[str], mentions: str) -> None:
    line = assert_one_line_complaint(herald(tmp_path, *args), 2)
    assert mentions in line


def test_a_usage_error_saves_nothing(workdir: Path) -> None:
    assert_one_line_complaint(herald(workdir, "open", "Mail down", "--sev", "9"), 2)
    listed = herald(workdir, "list", "--all")
    assert listed.returncode == 0
    assert "INC-" not in listed.stdout


def test_no_arguments_prints_usage_and_exits_2(tmp_path: Path) -> None:
    result = herald(tmp_path)
    assert result.returncode == 2
    assert result.stdout.startswith("usage: herald ")
    assert "open TITLE" in result.stdout
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_flag_prints_usage_and_exits_0(tmp_path: Path, flag: str) -> None:
    result = herald(tmp_path, flag)
    assert result.returncode == 0
    assert result.stdout.startswith("usage: herald ")
    assert result.stderr == ""


def test_unknown_db_action_is_a_one_line_usage_error(tmp_path: Path) -> None:
    assert_one_line_complaint(herald(tmp_path, "db", "frobnicate"), 2)


def test_unknown_db_action_still_exits_2_without_traceback(tmp_path: Path) -> None:
    result = herald(tmp_path, "db", "frobnicate")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "frobnicate" in result.stderr


# --- bad settings: exit 2 ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "mentions"),
    [
        ("TIMEZONE", "Mars/Olympus", "'Mars/Olympus'"),
        ("LOCALE", "fr", "LOCALE must be it or en"),
        ("PORT", "99999", "PORT"),
        ("TELEGRAM_BOT_TOKEN", "changeme", "placeholder"),
        ("LOG_LEVEL", "verbose", "LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL"),
        ("DATABASE_URL", "mysql://herald@db/herald", "Herald runs on SQLite or PostgreSQL"),
    ],
)
def test_a_bad_setting_is_one_line_and_exit_2(
    tmp_path: Path, name: str, value: str, mentions: str
) -> None:
    env = clean_env(tmp_path, **{name: value})
    line = assert_one_line_complaint(herald(tmp_path, "list", env=env), 2)
    assert line.startswith(f"herald: setting {name}:")
    assert mentions in line


def test_a_bad_setting_in_dotenv_is_reported_the_same_way(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("TIMEZONE=Mars/Olympus\n", encoding="utf-8")
    line = assert_one_line_complaint(herald(tmp_path, "list"), 2)
    assert "Mars/Olympus" in line


def test_a_bad_setting_stops_process_types_too(tmp_path: Path) -> None:
    env = clean_env(tmp_path, TIMEZONE="Mars/Olympus")
    assert_one_line_complaint(herald(tmp_path, "db", "upgrade", env=env), 2)
    assert not (tmp_path / "herald.db").exists()


# --- refusals: exit 1 ----------------------------------------------------------------------


def test_unknown_id_is_refused_with_exit_1(workdir: Path) -> None:
    line = assert_one_line_complaint(herald(workdir, "show", "INC-99"), 1)
    assert line == "herald: There is no INC-99; type `list --all` to see the incidents."


@pytest.mark.slow
def test_update_to_a_resolved_incident_is_refused_and_saves_nothing(workdir: Path) -> None:
    assert herald(workdir, "open", "Mail down", "--sev", "2").returncode == 0
    assert herald(workdir, "resolve", "1").returncode == 0
    line = assert_one_line_complaint(herald(workdir, "update", "1", "Ancora problemi"), 1)
    assert "INC-1 is resolved" in line
    assert "reopen INC-1" in line
    shown = herald(workdir, "show", "1")
    assert "#3" not in shown.stdout
    assert "Ancora problemi" not in shown.stdout


def test_an_unknown_component_is_refused(workdir: Path) -> None:
    line = assert_one_line_complaint(
        herald(workdir, "open", "Mail down", "--components", "posta"), 1
    )
    assert "Unknown component posta" in line


def test_an_unreachable_database_is_one_line_exit_1_without_the_password(tmp_path: Path) -> None:
    env = clean_env(tmp_path, DATABASE_URL="postgres://herald:s3cr3t-pw@127.0.0.1:1/herald")
    line = assert_one_line_complaint(herald(tmp_path, "list", env=env), 1)
    assert "could not reach the database" in line
    assert "s3cr3t-pw" not in line


# --- the database --------------------------------------------------------------------------


def test_db_upgrade_then_current_prints_the_revision(tmp_path: Path) -> None:
    upgraded = herald(tmp_path, "db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    assert upgraded.stdout.strip().endswith(f"is at revision {HEAD_REVISION}.")
    current = herald(tmp_path, "db", "current")
    assert current.returncode == 0
    assert current.stdout == f"{HEAD_REVISION}\n"


def test_db_current_on_an_empty_database_says_so(tmp_path: Path) -> None:
    (tmp_path / "herald.db").touch()
    current = herald(tmp_path, "db", "current")
    assert current.returncode == 0
    assert current.stdout == "empty: run herald db upgrade\n"


def test_an_existing_sqlite_file_needs_no_db_upgrade(tmp_path: Path) -> None:
    (tmp_path / "herald.db").touch()
    listed = herald(tmp_path, "list")
    assert listed.returncode == 0, listed.stderr
    assert listed.stderr == ""
    assert listed.stdout.startswith("No incidents open.")
    assert herald(tmp_path, "db", "current").stdout == f"{HEAD_REVISION}\n"


@pytest.mark.parametrize(
    "args", [["list"], ["open", "Mail down"], ["channels", "list"], ["db", "current"]]
)
def test_a_missing_sqlite_file_is_refused_not_created(tmp_path: Path, args: list[str]) -> None:
    line = assert_one_line_complaint(herald(tmp_path, *args), 1)
    assert f"There is no Herald database at {tmp_path / 'herald.db'}." in line
    assert "where `herald serve` runs, or set DATABASE_URL" in line
    assert not (tmp_path / "herald.db").exists()


def test_with_no_configuration_at_all_it_uses_herald_db_in_the_current_directory(
    tmp_path: Path,
) -> None:
    env = clean_env(tmp_path)
    del env["DATABASE_URL"]
    refused = assert_one_line_complaint(herald(tmp_path, "open", "Mail down", env=env), 1)
    assert str(tmp_path / "herald.db") in refused
    upgraded = herald(tmp_path, "db", "upgrade", env=env)
    assert upgraded.returncode == 0, upgraded.stderr
    assert (tmp_path / "herald.db").is_file()
    assert herald(tmp_path, "open", "Mail down", env=env).returncode == 0
    assert "Mail down" in herald(tmp_path, "list", env=env).stdout


def test_a_bare_path_in_database_url_is_a_sqlite_file(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    for url in ("data/incidents.db", str(tmp_path / "data" / "incidents.db")):
        env = clean_env(tmp_path, DATABASE_URL=url)
        assert herald(tmp_path, "db", "upgrade", env=env).returncode == 0
        current = herald(tmp_path, "db", "current", env=env)
        assert current.stdout == f"{HEAD_REVISION}\n", current.stderr
    assert (tmp_path / "data" / "incidents.db").is_file()


@pytest.mark.postgres
def test_a_postgres_url_is_accepted(tmp_path: Path) -> None:
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        pytest.skip("TEST_DATABASE_URL is not set")
    for prefix in ("postgresql+psycopg://", "postgresql://"):
        if url.startswith(prefix):
            url = "postgres://" + url[len(prefix) :]
    assert url.startswith("postgres://")
    # Only read the revision: migrating here would race the other PostgreSQL tests.
    result = herald(tmp_path, "db", "current", env=clean_env(tmp_path, DATABASE_URL=url))
    assert result.returncode == 0, result.stderr
    assert result.stdout in (f"{HEAD_REVISION}\n", "empty: run herald db upgrade\n")
    assert not (tmp_path / "herald.db").exists()


# --- `python -m bot` and the console script ------------------------------------------------


@pytest.mark.skipif(CONSOLE_SCRIPT is None, reason="the herald console script is not installed")
@pytest.mark.parametrize(
    "args",
    [[], ["--help"], ["bogus"], ["show", "INC-9"], ["list", "--all"], ["db", "current"]],
    ids=["nothing", "help", "bogus", "unknown-id", "list", "db-current"],
)
def test_console_script_and_python_m_bot_behave_the_same(workdir: Path, args: list[str]) -> None:
    assert CONSOLE_SCRIPT is not None
    as_module = herald(workdir, *args)
    as_script = herald(workdir, *args, command=[CONSOLE_SCRIPT])
    assert (as_script.returncode, as_script.stdout, as_script.stderr) == (
        as_module.returncode,
        as_module.stdout,
        as_module.stderr,
    )
