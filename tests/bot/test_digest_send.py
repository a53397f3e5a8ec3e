"""`herald digest --send`: the digest and its chart posted to fake Slack and Telegram."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.bot.test_cli import assert_one_line_complaint, clean_env, herald
from tests.fakes.slack import FakeSlack
from tests.fakes.telegram import FakeTelegram

SLACK_TOKEN = "xoxb-3333-4444-digestSendSecretToken"
TELEGRAM_TOKEN = "123456789:AAHdigestSendSecretTelegramToken98765"
CHANNEL, CHAT = "C0MANAGERS", "-1005550001"
WEEK = "2024-W11"  # INC-4, SEV2 on Posta, in the demo data
CHART = f"herald-digest-{WEEK}.png"


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    """Fake Slack with the managers' channel."""
    with FakeSlack(token=SLACK_TOKEN) as fake:
        fake.add_channel(CHANNEL, "managers")
        yield fake


@pytest.fixture
def telegram() -> Iterator[FakeTelegram]:
    """Fake Telegram with the managers' group; no message limits, so the CLI never waits."""
    with FakeTelegram(
        token=TELEGRAM_TOKEN,
        global_per_second=None,
        per_chat_per_second=None,
        group_per_minute=None,
    ) as fake:
        fake.add_chat(int(CHAT), "supergroup", "Managers")
        yield fake


def env(directory: Path, slack: FakeSlack, telegram: FakeTelegram, **extra: str) -> dict[str, str]:
    """The CLI's environment: both platforms pointed at the fakes, a digest destination on each."""
    settings = {
        "SLACK_BOT_TOKEN": SLACK_TOKEN,
        "SLACK_API_URL": slack.api_url,
        "TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN,
        "TELEGRAM_API_URL": telegram.api_url,
        "DIGEST_SLACK_CHANNEL": CHANNEL,
        "DIGEST_TELEGRAM_CHAT": CHAT,
        "SITE_NAME": "Stato servizi",
    }
    settings.update(extra)
    return clean_env(directory, **settings)


def test_send_posts_the_printed_digest_and_the_written_chart(
    demo: Path, slack: FakeSlack, telegram: FakeTelegram
) -> None:
    result = herald(demo, "digest", "--week", WEEK, "--send", env=env(demo, slack, telegram))

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[-2:] == [
        f"Slack {CHANNEL}: posted with chart {CHART}",
        f"Telegram {CHAT}: posted in 1 message with chart {CHART}",
    ]
    printed = "\n".join(lines[: lines.index(f"Chart: {CHART} (1200×900 PNG)")])
    chart = (demo / CHART).read_bytes()
    [upload] = slack.files(CHANNEL)
    assert (upload.data, upload.filename) == (chart, CHART)
    assert upload.title == f"Stato servizi · weekly digest {WEEK}"
    assert "Incidents opened: 1 (+1)" in (upload.initial_comment or "")
    text, photo = telegram.messages(int(CHAT))
    assert text.plain == printed
    assert (photo.photo, photo.reply_to) == (chart, text.message_id)
    assert photo.plain == f"Stato servizi · weekly digest {WEEK}"


def test_a_failed_destination_exits_1_in_one_line_after_trying_the_other(
    demo: Path, slack: FakeSlack, telegram: FakeTelegram
) -> None:
    settings = env(demo, slack, telegram, DIGEST_SLACK_CHANNEL="C0NOWHERE")
    result = herald(demo, "digest", "--week", WEEK, "--send", env=settings)

    assert result.returncode == 1
    assert "Incidents opened: 1 (+1)" in result.stdout  # printed before posting
    [line] = result.stderr.splitlines()
    assert line.startswith("herald: digest not posted to Slack C0NOWHERE: channel_not_found")
    assert f"(posted: Telegram {CHAT}: posted in 1 message with chart {CHART})" in line
    assert len(telegram.photos(int(CHAT))) == 1
    for secret in (SLACK_TOKEN, TELEGRAM_TOKEN, TELEGRAM_TOKEN.split(":")[1]):
        assert secret not in result.stdout + result.stderr


def test_send_with_no_destination_says_what_to_set(demo: Path) -> None:
    result = herald(demo, "digest", "--week", WEEK, "--send", env=clean_env(demo))

    assert result.returncode == 1
    assert result.stderr == (
        "herald: digest has nowhere to go: set DIGEST_SLACK_CHANNEL and/or DIGEST_TELEGRAM_CHAT\n"
    )


def test_without_send_nothing_is_posted(
    demo: Path, slack: FakeSlack, telegram: FakeTelegram
) -> None:
    result = herald(demo, "digest", "--week", WEEK, env=env(demo, slack, telegram))

    assert result.returncode == 0, result.stderr
    assert (slack.requests, telegram.requests) == ([], [])


def test_a_bad_week_posts_nothing(demo: Path, slack: FakeSlack, telegram: FakeTelegram) -> None:
    result = herald(demo, "digest", "--week", "2024-W99", "--send", env=env(demo, slack, telegram))

    assert_one_line_complaint(result, 2)
    assert (slack.requests, telegram.requests) == ([], [])
