"""post_digest against the fake Slack and Telegram, through the real SDK clients."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from bot.digest.post import LONGEST_WAIT, DigestNotPosted, post_digest
from bot.settings import Settings
from commands.errors import Refused
from tests.fakes.limits import ManualClock
from tests.fakes.slack import FakeSlack
from tests.fakes.telegram import FakeTelegram, sample_png

# Token shapes as real ones, so a leak would be a realistic one.
SLACK_TOKEN = "xoxb-1111-2222-digestSecretSlackToken"
TELEGRAM_TOKEN = "987654321:AAHdigestSecretTelegramToken0123456789"
CHANNEL, CHAT = "C0DIGEST01", "@herald_digest"
TITLE = "Weekly digest 2025-W05 <!channel> <@U0BOSS> & <b>friends</b>"
TEXT = "Opened: 3 (SEV1 1)\nLongest: INC-7 <https://evil.example|click> 2h 10m"
CHART = sample_png(12, 7)
FILENAME = "digest-2025-W05.png"


class Waits:
    """The injected wait: records what it was asked and moves the fakes' clock instead."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.seconds: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.seconds.append(seconds)
        self.clock.advance(seconds)


@pytest.fixture
def clock() -> ManualClock:
    """The fakes' rate-limit clock."""
    return ManualClock()


@pytest.fixture
def waits(clock: ManualClock) -> Waits:
    """What post_digest waited for."""
    return Waits(clock)


@pytest.fixture
def slack(clock: ManualClock) -> Iterator[FakeSlack]:
    """Fake Slack with the digest channel."""
    with FakeSlack(token=SLACK_TOKEN, clock=clock) as fake:
        fake.add_channel(CHANNEL, "managers")
        yield fake


@pytest.fixture
def telegram(clock: ManualClock) -> Iterator[FakeTelegram]:
    """Fake Telegram with the digest channel; its message limits on, as Telegram's."""
    with FakeTelegram(token=TELEGRAM_TOKEN, clock=clock) as fake:
        fake.add_chat(CHAT, "channel", "Digest")
        yield fake


@pytest.fixture
def calm_telegram(clock: ManualClock) -> Iterator[FakeTelegram]:
    """Fake Telegram without message limits: only the failures a test injects make it wait
    (with both platforms posting at once, the pacing 429 would depend on which goes first)."""
    with FakeTelegram(
        token=TELEGRAM_TOKEN,
        clock=clock,
        global_per_second=None,
        per_chat_per_second=None,
        group_per_minute=None,
    ) as fake:
        fake.add_chat(CHAT, "channel", "Digest")
        yield fake


def settings(slack: FakeSlack | None, telegram: FakeTelegram | None, **overrides: Any) -> Settings:
    """Settings with a digest destination on each fake given."""
    values: dict[str, Any] = {}
    if slack is not None:
        values.update(
            slack_bot_token=slack.token, slack_api_url=slack.api_url, digest_slack_channel=CHANNEL
        )
    if telegram is not None:
        values.update(
            telegram_bot_token=telegram.token,
            telegram_api_url=telegram.api_url,
            digest_telegram_chat=CHAT,
        )
    values.update(overrides)
    return Settings(_env_file=None, **values)


def post(config: Settings, waits: Waits, *, text: str = TEXT) -> list[str]:
    """post_digest with the test's title, chart and wait."""
    return asyncio.run(post_digest(config, TITLE, text, CHART, FILENAME, wait=waits))


def refusal(config: Settings, waits: Waits) -> str:
    """The one-line Refused post_digest raises."""
    with pytest.raises(Refused) as refused:
        post(config, waits)
    message = refused.value.message
    assert "\n" not in message
    return message


def test_posts_text_and_chart_to_slack_and_telegram(
    slack: FakeSlack, telegram: FakeTelegram, waits: Waits
) -> None:
    lines = post(settings(slack, telegram), waits)

    assert lines == [
        f"Slack {CHANNEL}: posted with chart {FILENAME}",
        f"Telegram {CHAT}: posted in 1 message with chart {FILENAME}",
    ]
    [shared] = slack.files(CHANNEL)
    assert (shared.data, shared.filename, shared.title) == (CHART, FILENAME, TITLE)
    comment = shared.initial_comment or ""
    assert "<!channel>" not in comment
    assert "<@U0BOSS>" not in comment
    assert "<https://evil.example|click>" not in comment
    assert comment.startswith("*Weekly digest 2025-W05 &lt;!channel&gt; &lt;@U0BOSS&gt; &amp; ")
    assert "&lt;https://evil.example|click&gt;" in comment
    text, photo = telegram.messages(CHAT)
    assert text.plain == f"{TITLE}\n{TEXT}"  # shown as typed: no tag took effect
    assert [e["type"] for e in text.entities] == ["bold"]  # only Herald's bold title
    assert "&lt;b&gt;friends&lt;/b&gt;" in text.text
    assert (photo.photo, photo.reply_to, photo.plain) == (CHART, text.message_id, TITLE)
    assert telegram.calls("sendPhoto")[0].params["caption"].startswith("<b>Weekly")
    # The photo waited out Telegram's one-message-a-second 429 on the fake clock.
    assert waits.seconds == [1]


def test_a_long_text_is_split_for_telegram_and_whole_for_slack(
    slack: FakeSlack, telegram: FakeTelegram, waits: Waits
) -> None:
    long = "\n".join(f"INC-{n} Mail <down> for a while & more" for n in range(600))
    lines = post(settings(slack, telegram), waits, text=long)

    *texts, photo = telegram.messages(CHAT)
    assert len(texts) > 1
    assert lines[1] == f"Telegram {CHAT}: posted in {len(texts)} messages with chart {FILENAME}"
    assert all(len(m.plain) <= 4096 for m in texts)
    assert "\n".join(m.plain for m in texts) == f"{TITLE}\n{long}"
    assert photo.reply_to == texts[0].message_id
    assert slack.files(CHANNEL)[0].initial_comment == (f"*{_escaped(TITLE)}*\n{_escaped(long)}")


def test_a_text_that_starts_with_the_title_has_its_first_line_in_bold(
    slack: FakeSlack, telegram: FakeTelegram, waits: Waits
) -> None:
    text = f"{TITLE} (Mon 27/01/2025 → Sun 02/02/2025)\nIncidents opened: 0"
    post(settings(slack, telegram), waits, text=text)

    [message, _] = telegram.messages(CHAT)
    assert message.plain == text
    assert message.entities == [{"type": "bold", "offset": 0, "length": len(text.split("\n")[0])}]
    first, rest = text.split("\n", 1)
    assert slack.files()[0].initial_comment == f"*{_escaped(first)}*\n{_escaped(rest)}"


def _escaped(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def test_only_telegram(telegram: FakeTelegram, slack: FakeSlack, waits: Waits) -> None:
    assert post(settings(None, telegram), waits) == [
        f"Telegram {CHAT}: posted in 1 message with chart {FILENAME}"
    ]
    assert slack.requests == []


def test_only_slack(telegram: FakeTelegram, slack: FakeSlack, waits: Waits) -> None:
    # a Telegram token alone is no destination
    config = settings(slack, None, telegram_bot_token=telegram.token)
    assert post(config, waits) == [f"Slack {CHANNEL}: posted with chart {FILENAME}"]
    assert telegram.requests == []


def test_no_destination(waits: Waits) -> None:
    assert refusal(settings(None, None), waits) == (
        "digest has nowhere to go: set DIGEST_SLACK_CHANNEL and/or DIGEST_TELEGRAM_CHAT"
    )


def test_a_destination_without_its_token_posts_nothing(
    slack: FakeSlack, telegram: FakeTelegram, waits: Waits
) -> None:
    config = settings(slack, telegram, slack_bot_token=None)
    assert refusal(config, waits) == (
        "digest not posted: set SLACK_BOT_TOKEN (DIGEST_SLACK_CHANNEL is set)"
    )
    config = settings(None, telegram, telegram_bot_token=None)
    assert "set TELEGRAM_BOT_TOKEN (DIGEST_TELEGRAM_CHAT is set)" in refusal(config, waits)
    assert (slack.requests, telegram.requests) == ([], [])


def test_slack_fails_telegram_still_posts(
    slack: FakeSlack, telegram: FakeTelegram, waits: Waits
) -> None:
    config = settings(slack, telegram, digest_slack_channel="C0NOWHERE")
    assert refusal(config, waits) == (
        "digest not posted to Slack C0NOWHERE: channel_not_found (check DIGEST_SLACK_CHANNEL, "
        "and invite Herald if the channel is private) "
        f"(posted: Telegram {CHAT}: posted in 1 message with chart {FILENAME})"
    )
    assert len(telegram.photos(CHAT)) == 1
    assert slack.files() == []


def test_telegram_fails_slack_still_posts(
    slack: FakeSlack, telegram: FakeTelegram, waits: Waits
) -> None:
    telegram.block(CHAT, "Forbidden: bot is not a member of the channel chat")
    slack.remove_bot(CHANNEL)
    message = refusal(settings(slack, telegram), waits)
    assert message == (
        f"digest not posted to Slack {CHANNEL}: not_in_channel (invite Herald to the channel); "
        f"Telegram {CHAT}: Forbidden: bot is not a member of the channel chat "
        "(add the bot to the chat, as an admin in a channel)"
    )
    slack.add_channel(CHANNEL)
    assert "(posted: Slack" in refusal(settings(slack, telegram), waits)
    assert len(slack.files(CHANNEL)) == 1


def test_the_chart_fails_after_the_text(telegram: FakeTelegram, waits: Waits) -> None:
    telegram.fail_next(1, status=400, description="Bad Request: IMAGE_PROCESS_FAILED",
                       method="sendPhoto")  # fmt: skip
    assert refusal(settings(None, telegram), waits) == (
        f"digest not posted to Telegram {CHAT}: text posted, chart not: Image_process_failed"
    )
    assert len(telegram.messages(CHAT)) == 1


def test_a_migrated_group_says_what_to_set(telegram: FakeTelegram, waits: Waits) -> None:
    telegram.add_chat(-2001, "group", "Managers")
    telegram.migrate(-2001, -1009001)
    config = settings(None, telegram, digest_telegram_chat="-2001")
    assert refusal(config, waits).endswith(
        "the group is now a supergroup; set DIGEST_TELEGRAM_CHAT=-1009001"
    )


def test_429s_are_waited_out(slack: FakeSlack, calm_telegram: FakeTelegram, waits: Waits) -> None:
    telegram = calm_telegram
    slack.fail_next(1, status=429, retry_after=7, method="files.completeUploadExternal")
    telegram.fail_next(1, status=429, retry_after=5, method="sendMessage")
    lines = post(settings(slack, telegram), waits)

    assert len(lines) == 2
    assert sorted(waits.seconds) == [5, 7]
    assert len(slack.files(CHANNEL)) == 1
    assert len(telegram.photos(CHAT)) == 1
    assert [r.status for r in slack.calls("files.completeUploadExternal")] == [429, 200]


def test_a_wait_too_long_fails_with_a_clear_line(telegram: FakeTelegram, waits: Waits) -> None:
    telegram.fail_next(1, status=429, retry_after=int(LONGEST_WAIT) + 1, method="sendMessage")
    assert refusal(settings(None, telegram), waits) == (
        f"digest not posted to Telegram {CHAT}: still rate limited after waiting 0 s "
        "(asked to wait 61 s more)"
    )
    assert waits.seconds == []
    assert telegram.messages(CHAT) == []


def test_429s_add_up_to_the_longest_wait(slack: FakeSlack, waits: Waits) -> None:
    slack.fail_next(3, status=429, retry_after=25, method="files.getUploadURLExternal")
    assert "still rate limited after waiting 50 s" in refusal(settings(slack, None), waits)
    assert waits.seconds == [25, 25]


def test_network_errors_are_retried_with_back_off(
    slack: FakeSlack, calm_telegram: FakeTelegram, waits: Waits
) -> None:
    slack.fail_next(1, status=503, method="upload")
    calm_telegram.fail_next(2, status=502, method="sendMessage")
    post(settings(slack, calm_telegram), waits)

    assert sorted(waits.seconds) == [1, 1, 2]  # Slack 1; Telegram 1, then 2
    assert [r.status for r in slack.calls("upload")] == [503, 200]
    assert slack.files(CHANNEL)[0].data == CHART


def test_an_outage_gives_up_after_the_back_off(
    slack: FakeSlack, telegram: FakeTelegram, waits: Waits
) -> None:
    slack.set_outage(True)
    telegram.set_outage(True)
    assert refusal(settings(slack, telegram), waits) == (
        f"digest not posted to Slack {CHANNEL}: service_unavailable (HTTP 503); "
        f"Telegram {CHAT}: unreachable (Bad Gateway)"
    )
    assert sorted(waits.seconds) == [1, 1, 2, 2, 4, 4]


def test_an_unreachable_platform(waits: Waits) -> None:
    config = Settings(
        _env_file=None,
        slack_bot_token=SLACK_TOKEN,
        slack_api_url="http://127.0.0.1:9/api/",  # discard port: connection refused
        digest_slack_channel=CHANNEL,
    )
    assert refusal(config, waits) == (
        f"digest not posted to Slack {CHANNEL}: unreachable (ClientConnectorError)"
    )


def test_tokens_never_in_logs_or_refusals(
    slack: FakeSlack,
    telegram: FakeTelegram,
    waits: Waits,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    post(settings(slack, telegram), waits)
    slack.fail_next(1, status=200, error="invalid_auth")
    wrong = "987654321:AAHsomeOtherTokenThatTelegramRefuses012"
    message = refusal(settings(slack, telegram, telegram_bot_token=wrong), waits)
    assert message == (
        f"digest not posted to Slack {CHANNEL}: invalid_auth (check SLACK_BOT_TOKEN); "
        f"Telegram {CHAT}: the bot token was refused; check TELEGRAM_BOT_TOKEN"
    )
    herald = [r for r in caplog.records if r.name.startswith("bot.")]
    assert any("digest posted to Slack" in r.getMessage() for r in herald)
    assert any("digest not posted to Telegram" in r.getMessage() for r in herald)
    for secret in (SLACK_TOKEN, TELEGRAM_TOKEN, wrong, "AAHdigestSecret", "AAHsomeOther"):
        assert secret not in message
        assert not [r.getMessage() for r in herald if secret in r.getMessage()]


def retryable(config: Settings, waits: Waits) -> bool:
    """Whether post_digest says a later attempt is safe: nothing reached the failed ones."""
    with pytest.raises(DigestNotPosted) as refused:
        post(config, waits)
    return refused.value.retry


def test_an_outage_may_be_retried_later(
    slack: FakeSlack, telegram: FakeTelegram, waits: Waits
) -> None:
    slack.set_outage(True)
    telegram.set_outage(True)
    assert retryable(settings(slack, telegram), waits)


def test_a_rate_limit_that_lasts_may_be_retried_later(telegram: FakeTelegram, waits: Waits) -> None:
    telegram.fail_next(1, status=429, retry_after=int(LONGEST_WAIT) + 1, method="sendMessage")
    assert retryable(settings(None, telegram), waits)


def test_a_refusal_or_a_half_post_is_not_retried(
    slack: FakeSlack, telegram: FakeTelegram, waits: Waits
) -> None:
    assert not retryable(settings(slack, None, digest_slack_channel="C0NOWHERE"), waits)
    telegram.fail_next(4, status=502, description="Bad Gateway", method="sendPhoto")
    assert not retryable(settings(None, telegram), waits)  # the text is already there
    assert len(telegram.messages(CHAT)) == 1
