"""Herald's settings: read once from the environment or `.env`, then passed down."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url

from commands.dates import DURATION_HELP, LONGEST_REMINDER, known_zone, read_duration
from storage.engine import normalize_database_url, supported_database_url
from storage.platforms import Platform, spec

PLACEHOLDERS = {"changethis", "change-me", "changeme", "xxx", "secret"}
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
CommaList = Annotated[list[str], NoDecode]
# Passwords a PostgreSQL URL may carry in its query instead of before the host.
PASSWORD_PARAMETERS = ("password", "sslpassword")
STRONG_PASSWORD = 12
METRICS_TOKEN_LENGTH = 16
# Forked `herald web` processes; each holds its own database pool (up to 15 connections).
MAX_WEB_PROCESSES = 32
# Telegram accepts 1-256 of these as a webhook's secret_token; a short one can be guessed.
WEBHOOK_SECRET = re.compile(r"[A-Za-z0-9_-]{16,256}")
TELEGRAM_CHAT = re.compile(r"-?[0-9]{1,20}|@[A-Za-z][A-Za-z0-9_]{3,31}")
AGE = re.compile(r"([0-9]+(?:\.[0-9]+)?)\s*([smh]?)")
AGE_UNITS = {"s": 1, "": 1, "m": 60, "h": 3600}
SLACK_CHANNEL_ID = re.compile(r"[CG][A-Z0-9]{6,20}")
QUIET_HELP = (
    "use SEV:MINUTES pairs for SEV1-3, such as 1:15,2:30,3:60 (SEV4 is never nudged), or off"
)


def _is_utf8(text: str) -> bool:
    # Python keeps environment bytes that are not UTF-8 as surrogates, which no file name takes.
    return not any("\ud800" <= character <= "\udfff" for character in text)


def _split(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    """Every setting Herald reads; secrets are SecretStr so they never show in logs or repr."""

    model_config = SettingsConfigDict(
        env_file=".env", env_ignore_empty=True, extra="ignore", case_sensitive=False
    )

    database_url: str | None = None
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    public_url: str = "http://localhost:8000"
    site_name: str = "Herald status"
    timezone: str = "Europe/Rome"
    locale: str = "it"
    log_level: str = "INFO"
    worker_poll_seconds: float = Field(default=1.0, gt=0, le=60)
    delivery_retry_horizon_hours: float = Field(default=24.0, gt=0)
    delivery_lease_seconds: float = Field(default=90.0, ge=5)
    delivery_concurrency: int = Field(default=200, ge=1, le=2000)
    telegram_messages_per_second: float = Field(default=29.0, gt=0, le=30)
    slack_messages_per_second: float = Field(default=4.8, gt=0, le=50)

    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str = "https://slack.com/api/"
    slack_incident_channel: str | None = None
    slack_responders: CommaList = Field(default_factory=list)

    telegram_bot_token: SecretStr | None = None
    telegram_api_url: str = "https://api.telegram.org/bot"
    telegram_ops_chats: CommaList = Field(default_factory=list)
    telegram_responders: CommaList = Field(default_factory=list)
    telegram_webhook_secret: SecretStr | None = None
    telegram_incident_chat: str | None = None
    telegram_max_command_age: timedelta = timedelta(minutes=10)

    maintenance_reminder: timedelta = timedelta(hours=24)
    quiet_minutes: Annotated[dict[int, int], NoDecode] = Field(
        default_factory=lambda: {1: 15, 2: 30, 3: 60}
    )
    digest_cron: str = "0 9 * * 1"
    digest_slack_channel: str | None = None
    digest_telegram_chat: str | None = None

    smtp_url: SecretStr | None = None
    mail_from: str | None = None
    smtp_max_recipients: int = Field(default=50, ge=1, le=1000)
    smtp_domain_per_minute: int = Field(default=1000, ge=0)

    metrics_token: SecretStr | None = None
    web_concurrency: int = Field(default=1, ge=1, le=MAX_WEB_PROCESSES)
    status_export_dir: Path | None = None

    @field_validator("slack_responders", "telegram_ops_chats", "telegram_responders", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        return _split(value)

    @field_validator("telegram_responders")
    @classmethod
    def _telegram_user_ids(cls, value: list[str]) -> list[str]:
        for user in value:
            if not user.isascii() or not user.isdigit():
                raise ValueError(
                    f"{user!r} is not a Telegram user id; list numeric ids such as 123456789 "
                    "(a user sees theirs with /help in a private chat with the bot)"
                )
        return value

    @field_validator("smtp_url")
    @classmethod
    def _smtp_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        parts = urlsplit(value.get_secret_value())
        try:
            parts.port  # noqa: B018 - raises on a port that is not a number
        except ValueError:
            raise ValueError("SMTP_URL has a port that is not a number") from None
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError(
                "SMTP_URL must look like smtp://user:password@mail.example.com:587 "
                "(STARTTLS when the server offers it) or smtps://…:465"
            )
        return value

    @field_validator("mail_from")
    @classmethod
    def _mail_from(cls, value: str | None) -> str | None:
        if value is not None and spec(Platform.EMAIL).address.refusal(value) is not None:
            raise ValueError(
                f"MAIL_FROM {value!r} is not an e-mail address; use one like status@example.com"
            )
        return value

    @field_validator("telegram_ops_chats")
    @classmethod
    def _telegram_chats(cls, value: list[str]) -> list[str]:
        for chat in value:
            if not TELEGRAM_CHAT.fullmatch(chat):
                raise ValueError(
                    f"{chat!r} is not a Telegram chat; use a numeric id such as -1001234567890"
                )
        return value

    @field_validator("telegram_incident_chat", "digest_telegram_chat")
    @classmethod
    def _telegram_incident_chat(cls, value: str | None) -> str | None:
        value = value.strip() if value else None
        if value and not TELEGRAM_CHAT.fullmatch(value):
            raise ValueError(
                f"{value!r} is not a Telegram chat; use a numeric id such as -1001234567890"
            )
        return value or None

    @field_validator("maintenance_reminder", mode="before")
    @classmethod
    def _a_reminder(cls, value: object) -> object:
        if isinstance(value, str):
            reminder = read_duration(value)
            if reminder is None:
                raise ValueError(f"use {DURATION_HELP}, or 0 for no reminders")
            if reminder > LONGEST_REMINDER:
                raise ValueError(f"use at most 90d ({DURATION_HELP}), or 0 for no reminders")
            return reminder
        return value

    @field_validator("quiet_minutes", mode="before")
    @classmethod
    def _quiet_periods(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        periods: dict[int, int] = {}
        if value.strip().lower() == "off":
            return periods
        for pair in (part.strip() for part in value.split(",") if part.strip()):
            severity, _, minutes = pair.partition(":")
            if not (
                severity.strip() in ("1", "2", "3")
                and minutes.strip().isascii()
                and minutes.strip().isdigit()
                and 1 <= int(minutes) <= 7 * 24 * 60
            ):
                raise ValueError(f"{pair!r} is not SEV:MINUTES; {QUIET_HELP}")
            if int(severity) in periods:
                raise ValueError(f"SEV{severity} is listed twice; {QUIET_HELP}")
            periods[int(severity)] = int(minutes)
        return periods

    @field_validator("digest_cron")
    @classmethod
    def _a_cron_expression(cls, value: str) -> str:
        # Imported here: croniter costs every CLI command 20 ms, and only a set DIGEST_CRON
        # needs it.
        from bot.cron import cron_problem

        value = " ".join(value.split())
        problem = cron_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value

    @field_validator("digest_slack_channel")
    @classmethod
    def _a_slack_channel(cls, value: str | None) -> str | None:
        value = value.strip() if value else None
        if value and not SLACK_CHANNEL_ID.fullmatch(value):
            raise ValueError(
                f"{value!r} is not a Slack channel id; use the id such as C0123456789 "
                "(channel details, at the bottom)"
            )
        return value or None

    @field_validator("telegram_webhook_secret")
    @classmethod
    def _telegram_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not WEBHOOK_SECRET.fullmatch(value.get_secret_value()):
            raise ValueError(
                "use 16 to 256 characters among A-Z, a-z, 0-9, _ and -, e.g. the output of: "
                "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
            )
        return value

    @field_validator("telegram_max_command_age", mode="before")
    @classmethod
    def _an_age(cls, value: object) -> object:
        if isinstance(value, str):
            found = AGE.fullmatch(value.strip().lower())
            seconds = float(found[1]) * AGE_UNITS[found[2]] if found is not None else 0.0
            # Telegram keeps an update for 24 hours: a longer age would change nothing.
            if not 1 <= seconds <= 24 * 3600:
                raise ValueError("use a duration from 1s to 24h, such as 10m, 90s or 1h")
            return timedelta(seconds=seconds)
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        if not known_zone(value):
            raise ValueError(f"unknown time zone {value!r}; use a name like Europe/Rome")
        return value

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, value: str | None) -> str | None:
        # Blank means unset, like an empty value; a stray space would name a file " ".
        value = value.strip() if value is not None else None
        if not value:
            return None
        if not _is_utf8(value):
            raise ValueError(
                "is not UTF-8 text; retype it, or set a UTF-8 locale such as LANG=C.UTF-8"
            )
        supported_database_url(value)
        return value

    @field_validator("log_level")
    @classmethod
    def _known_log_level(cls, value: str) -> str:
        if value.strip().upper() not in LOG_LEVELS:
            raise ValueError(f"LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}")
        return value.strip().upper()

    @field_validator("locale")
    @classmethod
    def _known_locale(cls, value: str) -> str:
        if value not in ("it", "en"):
            raise ValueError("LOCALE must be it or en")
        return value

    @field_validator(
        "slack_bot_token",
        "slack_signing_secret",
        "slack_app_token",
        "telegram_bot_token",
        "telegram_webhook_secret",
        "metrics_token",
    )
    @classmethod
    def _not_placeholder(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and value.get_secret_value().strip().lower() in PLACEHOLDERS:
            raise ValueError("still the placeholder from .env.example; set the real value")
        return value

    @field_validator("metrics_token")
    @classmethod
    def _a_strong_token(cls, value: SecretStr | None) -> SecretStr | None:
        token = value.get_secret_value() if value is not None else ""
        if value is not None and not (
            len(token) >= METRICS_TOKEN_LENGTH
            and token.isascii()
            and token.isprintable()
            and " " not in token
        ):
            raise ValueError(
                f"use at least {METRICS_TOKEN_LENGTH} printable ASCII characters and no spaces, "
                "e.g. the output of: python -c 'import secrets; print(secrets.token_urlsafe())'"
            )
        return value

    @property
    def zone(self) -> ZoneInfo:
        """The time zone public times are shown in."""
        return ZoneInfo(self.timezone)

    @property
    def sqlalchemy_url(self) -> str:
        """DATABASE_URL in the form SQLAlchemy wants (a SQLite file when unset)."""
        return normalize_database_url(self.database_url)

    @property
    def is_sqlite(self) -> bool:
        """True when the database is the embedded SQLite file."""
        return self.sqlalchemy_url.startswith("sqlite")

    def secrets(self) -> list[str]:
        """Every secret value set, the database password included, for the log redactor."""
        values = [
            secret.get_secret_value()
            for secret in (
                self.slack_bot_token,
                self.slack_signing_secret,
                self.slack_app_token,
                self.telegram_bot_token,
                self.telegram_webhook_secret,
                self.metrics_token,
                self.smtp_url,
            )
            if secret is not None
        ]
        if self.smtp_url is not None:
            password = urlsplit(self.smtp_url.get_secret_value()).password
            if password and len(unquote(password)) >= STRONG_PASSWORD:
                values.extend([password, unquote(password)])
        url = make_url(self.sqlalchemy_url)  # checked by _supported_database
        passwords = [url.password, *(url.query.get(key) for key in PASSWORD_PARAMETERS)]
        # A short password ("postgres") would blank that word in every line; inside a URL,
        # where it is logged, the redactor's URL patterns hide it whatever its length.
        values += [str(p) for p in passwords if isinstance(p, str) and len(p) >= STRONG_PASSWORD]
        return values

    @property
    def telegram_webhook(self) -> bool:
        """True when Telegram sends updates to POST /telegram/webhook instead of being polled."""
        return self.telegram_bot_token is not None and self.telegram_webhook_secret is not None

    def disabled_parts(self) -> list[str]:
        """The parts `herald serve` leaves off, each with the reason."""
        parts = []
        if self.slack_bot_token is None or (
            self.slack_signing_secret is None and self.slack_app_token is None
        ):
            parts.append(
                "Slack: off (set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET, or SLACK_APP_TOKEN)"
            )
        if self.telegram_bot_token is None:
            parts.append("Telegram: off (set TELEGRAM_BOT_TOKEN)")
        elif not self.telegram_responders:
            parts.append(
                "Telegram: commands read, but nobody may change incidents there "
                "(set TELEGRAM_RESPONDERS)"
            )
        return parts
