"""No secret reaches a log: `herald serve` with every secret set, every sender working and
failing, searched at INFO and at DEBUG for each secret in every form it could take."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote, urlencode

import httpx2 as httpx
import pytest
import sqlalchemy as sa

from tests.bot.test_serve import clean_env, free_port, run_herald, wait_for_health
from tests.fakes.slack import FakeSlack
from tests.fakes.telegram import FakeTelegram
from tests.fakes.webhook import Receiver

pytestmark = pytest.mark.slow

TELEGRAM_TOKEN = "987654321:AAHsecretTelegramToken0123456789abcdef"
SLACK_BOT_TOKEN = "xoxb-111-222-secretSlackBotToken"
SLACK_APP_TOKEN = "xapp-1-A111-222-secretSlackAppToken"
SIGNING_SECRET = "secret-signing-8f3a9c1e"
METRICS_TOKEN = "secret-metrics-token-42x"
WEBHOOK_SECRET = "whsec-secret-receiver-5150"
TELEGRAM_SECRET = "tg_secret-webhook-7781"
DB_PASSWORD = "secret-db-p@ss:w/rd"
SECRETS = (
    TELEGRAM_TOKEN,
    TELEGRAM_TOKEN.split(":", 1)[1],
    SLACK_BOT_TOKEN,
    SLACK_APP_TOKEN,
    SIGNING_SECRET,
    METRICS_TOKEN,
    WEBHOOK_SECRET,
    TELEGRAM_SECRET,
    DB_PASSWORD,
)
CHANNEL, BLOCKED, CUSTOMERS, GONE = -1001, -1002, "C0CUSTOMERS", "C0ARCHIVED"
OPS, RESPONDER = -1009, 4242


def _forms(secret: str) -> set[str]:
    return {secret, quote(secret, safe=""), quote(secret), json.dumps(secret)[1:-1]}


@contextlib.contextmanager
def _database() -> Iterator[str]:
    """A throwaway PostgreSQL database whose URL carries a password (trust auth ignores it),
    or a SQLite file when no PostgreSQL is configured."""
    base = os.environ.get("TEST_DATABASE_URL")
    if not base:
        yield ""
        return
    name = f"herald_secrets_{os.getpid()}"
    admin = sa.create_engine(
        sa.make_url(base).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as connection:
        connection.exec_driver_sql(f"CREATE DATABASE {name}")
    try:
        url = sa.make_url(base).set(database=name, password=DB_PASSWORD)
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.dispose()


def _signed(body: bytes) -> dict[str, str]:
    stamp = str(int(time.time()))
    base = f"v0:{stamp}:".encode() + body
    digest = hmac.new(SIGNING_SECRET.encode(), base, hashlib.sha256).hexdigest()
    return {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": f"v0={digest}",
    }


def _until(done: Callable[[], bool], seconds: float = 40) -> None:
    # A real subprocess delivers on its own clock; there is none to fake here.
    end = time.monotonic() + seconds
    while not done():
        assert time.monotonic() < end, "deliveries did not arrive"
        time.sleep(0.1)


def _exercise(
    tmp_path: Path, env: dict[str, str], telegram: FakeTelegram, slack: FakeSlack, hooks: Receiver
) -> str:
    """Run serve and the CLI through every sender and failure; return everything logged."""
    logs: list[str] = []

    def herald(*args: str, ok: bool = True) -> None:
        done = run_herald(tmp_path, env, *args)
        logs.extend((done.stdout, done.stderr))
        assert (done.returncode == 0) == ok, done.stderr

    herald("db", "upgrade")
    herald("channels", "add", "telegram", str(CHANNEL))
    herald("channels", "add", "telegram", str(BLOCKED))
    herald("channels", "add", "slack", CUSTOMERS)
    herald("channels", "add", "slack", GONE)
    herald("channels", "add", "webhook", hooks.url, "--secret", WEBHOOK_SECRET)
    herald("channels", "test", hooks.url)
    telegram.block(BLOCKED)
    slack.archive(GONE)
    telegram.fail_next(1, status=502, description="<html>Bad Gateway</html>")
    telegram.fail_next(1, status=429, retry_after=1)
    slack.fail_next(1, status=500, method="chat.postMessage")
    hooks.statuses.extend([500])
    port = env["PORT"]
    stderr = tmp_path / "serve.log"
    with stderr.open("w") as sink:
        serve = subprocess.Popen(
            [sys.executable, "-m", "bot", "serve"], cwd=tmp_path, env=env, stderr=sink, text=True
        )
        try:
            base = f"http://127.0.0.1:{port}"
            wait_for_health(f"{base}/healthz", serve)
            herald("open", "Posta lenta", "--sev", "2")
            herald("update", "INC-1", "Il nodo è stato escluso")
            herald("resolve", "INC-1", "Risolto")
            herald("show", "INC-404", ok=False)
            fields = {"command": "/incident", "text": "list", "user_id": "U0ALICE"}
            fields |= {"channel_id": CUSTOMERS, "response_url": slack.response_url()}
            fields["trigger_id"] = slack.trigger_id()
            body = urlencode(fields).encode()
            assert httpx.post(
                f"{base}/slack/events", content=body, headers=_signed(body)
            ).is_success
            forged = {**_signed(body), "X-Slack-Request-Timestamp": "abc"}
            assert (
                httpx.post(f"{base}/slack/events", content=body, headers=forged).status_code == 401
            )
            update = telegram.add_user_message(OPS, "/incident list", user_id=RESPONDER)
            pushed = json.dumps(update).encode()
            wrong = {"X-Telegram-Bot-Api-Secret-Token": "not-the-secret"}
            assert (
                httpx.post(f"{base}/telegram/webhook", content=pushed, headers=wrong).status_code
                == 403
            )
            right = {"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET}
            _until(
                lambda: (
                    httpx.post(
                        f"{base}/telegram/webhook", content=pushed, headers=right
                    ).status_code
                    == 200
                )
            )
            assert httpx.get(f"{base}/metrics").status_code == 401
            bearer = {"Authorization": f"Bearer {METRICS_TOKEN}"}
            assert httpx.get(f"{base}/metrics", headers=bearer).status_code == 200
            _until(
                lambda: (
                    len(telegram.messages(CHANNEL)) == 3
                    and len(telegram.messages(OPS)) >= 1
                    and len(slack.messages(CUSTOMERS)) == 3
                    and len(hooks.received) >= 5
                )
            )
        finally:
            serve.send_signal(signal.SIGTERM)
            serve.wait(timeout=30)
    herald("show", "INC-1")
    env_unreachable = {**env, "DATABASE_URL": f"postgresql://herald:{DB_PASSWORD}@127.0.0.1:1/x"}
    done = run_herald(tmp_path, env_unreachable, "list")
    logs.extend((done.stdout, done.stderr, stderr.read_text()))
    return "\n".join(logs)


@pytest.mark.parametrize("level", ["INFO", "DEBUG"])
def test_no_secret_reaches_the_log(tmp_path: Path, level: str) -> None:
    with (
        FakeTelegram(token=TELEGRAM_TOKEN) as telegram,
        FakeSlack(token=SLACK_BOT_TOKEN) as slack,
        Receiver() as hooks,
        _database() as database_url,
    ):
        telegram.add_chat(CHANNEL, "channel")
        telegram.add_chat(BLOCKED, "channel")
        telegram.add_chat(OPS, "supergroup")
        for channel in (CUSTOMERS, GONE):
            slack.add_channel(channel)
        slack.add_user("U0ALICE", "alice")
        env = clean_env(
            LOG_LEVEL=level,
            PORT=str(free_port()),
            TELEGRAM_BOT_TOKEN=TELEGRAM_TOKEN,
            TELEGRAM_API_URL=telegram.api_url,
            TELEGRAM_WEBHOOK_SECRET=TELEGRAM_SECRET,
            TELEGRAM_OPS_CHATS=str(OPS),
            TELEGRAM_RESPONDERS=str(RESPONDER),
            SLACK_BOT_TOKEN=SLACK_BOT_TOKEN,
            SLACK_APP_TOKEN=SLACK_APP_TOKEN,
            SLACK_SIGNING_SECRET=SIGNING_SECRET,
            SLACK_API_URL=slack.api_url,
            METRICS_TOKEN=METRICS_TOKEN,
        )
        if database_url:
            env["DATABASE_URL"] = database_url
        logged = _exercise(tmp_path, env, telegram, slack, hooks)
    leaks = [secret for secret in SECRETS for form in _forms(secret) if form in logged]
    assert leaks == [], f"secrets in the {level} log: {leaks}"
    assert "herald serve" in logged  # the log was captured at all
    if level == "DEBUG":
        # The debug log does show the requests, with the token redacted.
        assert "sendMessage" in logged
        assert "[redacted]" in logged
