"""Settings: every one documented, secrets hidden, bad values refused in one line."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from bot.settings import Settings

ENV_EXAMPLE = Path(__file__).parents[2] / ".env.example"
# DESIGN.md's settings that run today.
DESIGN_SETTINGS = [
    "DATABASE_URL",
    "HOST",
    "PORT",
    "PUBLIC_URL",
    "SITE_NAME",
    "TIMEZONE",
    "LOCALE",
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_APP_TOKEN",
    "SLACK_API_URL",
    "SLACK_INCIDENT_CHANNEL",
    "SLACK_RESPONDERS",
    "TELEGRAM_BOT_TOKEN",
    "TELEGRAM_API_URL",
    "TELEGRAM_OPS_CHATS",
    "TELEGRAM_RESPONDERS",
    "TELEGRAM_WEBHOOK_SECRET",
    "TELEGRAM_INCIDENT_CHAT",
    "TELEGRAM_MAX_COMMAND_AGE",
    "DIGEST_CRON",
    "DIGEST_SLACK_CHANNEL",
    "DIGEST_TELEGRAM_CHAT",
    "QUIET_MINUTES",
    "WEB_CONCURRENCY",
]


def settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)


def test_every_setting_is_in_env_example_and_the_class() -> None:
    documented = set(re.findall(r"^([A-Z_]+)=", ENV_EXAMPLE.read_text(), flags=re.MULTILINE))
    fields = {name.upper() for name in Settings.model_fields}
    assert set(DESIGN_SETTINGS) <= fields
    assert fields == documented


def test_defaults_need_no_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    plain = settings()
    assert plain.is_sqlite
    assert plain.timezone == "Europe/Rome"
    assert plain.locale == "it"
    assert {p.split(":")[0] for p in plain.disabled_parts()} == {"Slack", "Telegram"}


def test_secrets_never_show_in_repr_or_dumps() -> None:
    loaded = settings(
        slack_bot_token="xoxb-very-secret",
        slack_signing_secret="sign-secret",
        telegram_bot_token="123:tg-secret",
        metrics_token="hook-secret-for-metrics",
    )
    for text in (repr(loaded), str(loaded), loaded.model_dump_json()):
        for secret in ("xoxb-very-secret", "sign-secret", "tg-secret", "hook-secret"):
            assert secret not in text
    assert loaded.slack_bot_token is not None
    assert loaded.slack_bot_token.get_secret_value() == "xoxb-very-secret"


def test_comma_separated_lists(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_RESPONDERS", "U111, S222 ,U333")
    monkeypatch.setenv("TELEGRAM_OPS_CHATS", "-1001,-1002")
    loaded = settings()
    assert loaded.slack_responders == ["U111", "S222", "U333"]
    assert loaded.telegram_ops_chats == ["-1001", "-1002"]


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("timezone", "Mars/Olympus", "unknown time zone"),
        ("locale", "fr", "LOCALE must be it or en"),
        ("slack_signing_secret", "changethis", "placeholder"),
        ("port", 0, "greater than or equal to 1"),
        ("metrics_token", "metrics", "at least 16 printable ASCII"),
        ("metrics_token", " padded-token-of-enough-length ", "no spaces"),
        ("metrics_token", "tökën-with-accents-long", "printable ASCII"),
        ("digest_cron", "every monday", "not a cron expression"),
        ("digest_cron", "0 9 * * 1 2026", "not a cron expression"),
        ("digest_cron", "61 9 * * 1", "not a cron expression"),
        ("digest_cron", "0 9 31 2 *", "names no day that exists"),
        ("quiet_minutes", "1:15,1:30", "SEV1 is listed twice"),
        ("maintenance_reminder", "999w", "at most 90d"),
        ("digest_slack_channel", "#managers", "not a Slack channel id"),
        ("digest_telegram_chat", "managers", "not a Telegram chat"),
        ("quiet_minutes", "4:30", "SEV4 is never nudged"),
        ("quiet_minutes", "2:0", "not SEV:MINUTES"),
        ("quiet_minutes", "2-30", "not SEV:MINUTES"),
        ("maintenance_reminder", "tomorrow", "a duration such as 30m, 2h or 1d"),
    ],
)
def test_bad_values_are_refused(name: str, value: object, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        settings(**{name: value})


def test_postgres_urls_are_normalised() -> None:
    loaded = settings(database_url="postgres://u:p@db:5432/herald")
    assert loaded.sqlalchemy_url == "postgresql+psycopg://u:p@db:5432/herald"
    assert not loaded.is_sqlite


@pytest.mark.parametrize("value", ["verbose", "trace", ""])
def test_an_unknown_log_level_names_the_allowed_ones(value: str) -> None:
    with pytest.raises(ValidationError, match="LOG_LEVEL must be one of DEBUG, INFO, WARNING"):
        settings(log_level=value or " ")


def test_log_levels_are_read_in_any_case() -> None:
    assert settings(log_level="debug").log_level == "DEBUG"


@pytest.mark.parametrize(
    "url", ["mysql://herald:pw@db/herald", "postgresql+psycopg2://db/herald", "oracle://db"]
)
def test_a_database_herald_cannot_use_says_which_it_can(url: str) -> None:
    with pytest.raises(ValidationError) as raised:
        settings(database_url=url)
    message = raised.value.errors()[0]["msg"]  # what the CLI shows
    assert "Herald runs on SQLite or PostgreSQL" in message
    assert "postgres://USER:PASSWORD@HOST:5432/DATABASE" in message
    assert "pw" not in message.replace("PASSWORD", "")


@pytest.mark.parametrize("path", ["herald.db", "data/x.db", "~/x.db"])
def test_a_bare_path_is_a_sqlite_file(path: str) -> None:
    loaded = settings(database_url=path)
    assert loaded.is_sqlite
    assert loaded.sqlalchemy_url == f"sqlite:///{Path(path).expanduser().resolve()}"


def test_an_absolute_path_is_a_sqlite_file(tmp_path: Path) -> None:
    loaded = settings(database_url=str(tmp_path / "x.db"))
    assert loaded.sqlalchemy_url == f"sqlite:///{tmp_path / 'x.db'}"


def test_the_default_is_herald_db_in_the_working_directory() -> None:
    assert settings().sqlalchemy_url == f"sqlite:///{Path('herald.db').resolve()}"


def test_database_passwords_in_the_query_string_are_secrets_and_hidden() -> None:
    from bot.database import redacted_url

    loaded = settings(database_url="postgresql://u@db/h?password=Query-Passw0rd-99&sslmode=require")
    assert "Query-Passw0rd-99" in loaded.secrets()
    shown = redacted_url(loaded)
    assert "Query-Passw0rd-99" not in shown
    assert "sslmode=require" in shown


def test_a_short_database_password_is_left_to_the_url_patterns() -> None:
    loaded = settings(database_url="postgresql://postgres:postgres@db/herald")
    assert "postgres" not in loaded.secrets()


@pytest.mark.parametrize(
    "url",
    [
        "postgress://u:Hunter2-Password@127.0.0.1/db",
        "http://example.com/db",
        "https://x.supabase.co",
        "redis://localhost",
        "postgres+psycopg2://db/herald",
    ],
)
def test_a_scheme_with_no_dialect_is_refused_without_loading_one(url: str) -> None:
    with pytest.raises(ValidationError) as raised:
        settings(database_url=url)
    message = raised.value.errors()[0]["msg"]
    assert "is not supported. Herald runs on SQLite or PostgreSQL" in message
    assert "Hunter2" not in message


@pytest.mark.parametrize(
    "url",
    [
        "sqlite://",
        "sqlite:///:memory:",
        "sqlite+pysqlite:///:memory:",
        "sqlite:///file::memory:?uri=true",
        "sqlite:///file:x.db?mode=memory&uri=true",
        "sqlite:///x.db?mode=memory",
    ],
)
def test_an_in_memory_sqlite_database_is_refused(url: str) -> None:
    with pytest.raises(ValidationError, match="an in-memory SQLite database loses every change"):
        settings(database_url=url)


@pytest.mark.parametrize("value", [" ", "\t\n"])
def test_a_blank_database_url_means_unset(value: str) -> None:
    assert settings(database_url=value).database_url is None
    assert settings(database_url=value).sqlalchemy_url == settings().sqlalchemy_url


def test_a_database_url_is_stripped() -> None:
    assert settings(database_url=" herald.db \n").sqlalchemy_url == settings().sqlalchemy_url


def test_a_database_url_that_is_not_utf8_is_refused() -> None:
    # How Python hands over the byte 0xff from the environment.
    with pytest.raises(ValidationError, match="is not UTF-8 text"):
        settings(database_url="/srv/herald/caff\udcff.db")


@pytest.mark.parametrize(
    ("url", "file"),
    [
        ("sqlite:///file:x.db?uri=true", "x.db"),
        ("sqlite:///file:x.db?mode=ro&uri=true", "x.db"),
        ("sqlite:///file:caff%C3%A8.db?uri=1", "caffè.db"),
        ("sqlite:///~/x.db", "~/x.db"),
    ],
)
def test_the_sqlite_file_checked_is_the_one_sqlite_opens(url: str, file: str) -> None:
    from bot.database import sqlite_file

    assert sqlite_file(settings(database_url=url)) == Path(file).resolve()


@pytest.mark.parametrize(
    ("values", "wrong"),
    [
        ({"telegram_responders": "12,alice"}, "TELEGRAM_RESPONDERS"),
        ({"telegram_ops_chats": "-100123,ops group"}, "TELEGRAM_OPS_CHATS"),
        ({"telegram_incident_chat": "#incidents"}, "TELEGRAM_INCIDENT_CHAT"),
        ({"telegram_webhook_secret": "has space in it, 16+"}, "TELEGRAM_WEBHOOK_SECRET"),
        ({"telegram_webhook_secret": "short_12"}, "TELEGRAM_WEBHOOK_SECRET"),
        ({"telegram_webhook_secret": "x" * 257}, "TELEGRAM_WEBHOOK_SECRET"),
        ({"telegram_max_command_age": "ten minutes"}, "TELEGRAM_MAX_COMMAND_AGE"),
        ({"telegram_max_command_age": "0m"}, "TELEGRAM_MAX_COMMAND_AGE"),
        ({"telegram_max_command_age": "99999999999h"}, "TELEGRAM_MAX_COMMAND_AGE"),
        ({"telegram_max_command_age": "25h"}, "TELEGRAM_MAX_COMMAND_AGE"),
        ({"telegram_max_command_age": "0.5s"}, "TELEGRAM_MAX_COMMAND_AGE"),
    ],
)
def test_telegram_settings_refuse_what_telegram_would(values: dict[str, str], wrong: str) -> None:
    with pytest.raises(ValidationError) as refused:
        settings(**values)
    assert str(refused.value.errors()[0]["loc"][0]).upper() == wrong


def test_telegram_settings_as_written() -> None:
    loaded = settings(
        telegram_bot_token="123:tg",
        telegram_responders=" 42, 43 ",
        telegram_ops_chats="-1001,@ops_room",
        telegram_webhook_secret="abc_DEF-123-ghi-456",
        telegram_max_command_age="90s",
    )
    assert loaded.telegram_responders == ["42", "43"]
    assert loaded.telegram_ops_chats == ["-1001", "@ops_room"]
    assert loaded.telegram_webhook
    assert loaded.telegram_max_command_age.total_seconds() == 90
    assert settings(telegram_max_command_age="1h").telegram_max_command_age.total_seconds() == 3600
    assert settings().telegram_max_command_age.total_seconds() == 600
    assert "abc_DEF-123-ghi-456" in loaded.secrets()


def test_schedule_settings_are_read_as_typed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUIET_MINUTES", "1:5, 3:90")
    monkeypatch.setenv("MAINTENANCE_REMINDER", "2h")
    monkeypatch.setenv("DIGEST_CRON", "30  17 * * 5")
    loaded = settings()
    assert loaded.quiet_minutes == {1: 5, 3: 90}
    assert loaded.maintenance_reminder == timedelta(hours=2)
    assert loaded.digest_cron == "30 17 * * 5"
    monkeypatch.setenv("QUIET_MINUTES", "off")
    monkeypatch.setenv("MAINTENANCE_REMINDER", "0")
    loaded = settings()
    assert loaded.quiet_minutes == {}
    assert loaded.maintenance_reminder == timedelta(0)


def test_schedule_defaults() -> None:
    loaded = settings()
    assert loaded.quiet_minutes == {1: 15, 2: 30, 3: 60}
    assert loaded.maintenance_reminder == timedelta(hours=24)
    assert loaded.digest_cron == "0 9 * * 1"
