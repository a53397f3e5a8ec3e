"""The fakes, driven through the real python-telegram-bot and slack_sdk clients."""

from __future__ import annotations

import asyncio
import threading
import time
import warnings
from collections.abc import Awaitable, Callable, Iterator
from datetime import timedelta
from typing import Any, TypeVar

import httpx
import pytest
import telegram
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web import WebClient
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient
from telegram import Update
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
)
from telegram.ext import ApplicationBuilder, CallbackQueryHandler, CommandHandler, ContextTypes

from tests.fakes.html import EntityError, parse_html
from tests.fakes.limits import ManualClock
from tests.fakes.slack import FakeSlack
from tests.fakes.telegram import FakeTelegram, sample_png

T = TypeVar("T")
CHANNEL, GROUP, PRIVATE, NAMED = -1001234, -2001, 4242, "@herald_status"


def run(coro: Awaitable[T]) -> T:
    """Run one coroutine on a fresh event loop."""

    async def main() -> T:
        return await coro

    return asyncio.run(main())


def retry_seconds(error: RetryAfter) -> float:
    """RetryAfter.retry_after as seconds, whatever PTB_TIMEDELTA says."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = error.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


@pytest.fixture
def manual() -> ManualClock:
    """The fakes' rate-limit clock, advanced by hand."""
    return ManualClock()


@pytest.fixture
def tg(manual: ManualClock) -> Iterator[FakeTelegram]:
    """A Telegram fake with a channel, a group, a private chat and a public @channel."""
    with FakeTelegram(clock=manual) as fake:
        fake.add_chat(CHANNEL, "channel", "Status")
        fake.add_chat(GROUP, "group", "Responders")
        fake.add_chat(PRIVATE, "private", "Alice")
        fake.add_chat(NAMED, "channel", "Public status")
        yield fake


def bot(fake: FakeTelegram, token: str | None = None) -> telegram.Bot:
    """A real PTB bot pointed at the fake."""
    return telegram.Bot(token or fake.token, base_url=fake.api_url)


async def send(fake: FakeTelegram, *args: Any, **kwargs: Any) -> telegram.Message:
    """One sendMessage through a real PTB bot."""
    async with bot(fake) as b:
        return await b.send_message(*args, **kwargs)


def raw_call(fake: FakeTelegram, method: str, **params: Any) -> dict[str, Any]:
    """One raw JSON call, for the exact body PTB's exceptions reword."""
    body: dict[str, Any] = httpx.post(f"{fake.api_url}{fake.token}/{method}", json=params).json()
    return body


async def until(condition: Callable[[], bool]) -> None:
    """Wait (up to 5 s) until a polling application has got something done."""
    for _ in range(250):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the application did not get there in 5 s")


def keyboard(incident: int) -> telegram.InlineKeyboardMarkup:
    """Herald-like buttons under an incident message."""
    return telegram.InlineKeyboardMarkup(
        [
            [
                telegram.InlineKeyboardButton("Acknowledge", callback_data=f"ack:{incident}"),
                telegram.InlineKeyboardButton("Resolve", callback_data=f"resolve:{incident}"),
            ],
            [telegram.InlineKeyboardButton("Runbook", url="https://runbooks.example/mail")],
        ]
    )


def button(**fields: Any) -> dict[str, Any]:
    """One inline keyboard with one button."""
    return {"inline_keyboard": [[{"text": "Go", **fields}]]}


# ---- server


def test_starts_fast_and_stops_cleanly() -> None:
    fake = FakeTelegram()
    began = time.monotonic()
    fake.start()
    assert time.monotonic() - began < 0.5
    url = fake.base_url
    assert httpx.get(f"{fake.api_url}{fake.token}/getMe").json()["ok"] is True
    fake.stop()
    fake.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(url)


# ---- Telegram: success paths


def test_get_me_and_send_message(tg: FakeTelegram) -> None:
    async def scenario() -> telegram.Message:
        async with bot(tg) as b:
            assert b.username == "herald_test_bot"
            return await b.send_message(CHANNEL, "<b>Mail</b> down &amp; slow", parse_mode="HTML")

    sent = run(scenario())
    assert (sent.message_id, sent.chat.id, sent.chat.type, sent.text) == (
        1,
        CHANNEL,
        "channel",
        "Mail down & slow",
    )
    assert sent.entities[0].type == "bold"
    assert sent.entities[0].length == 4
    [message] = tg.messages(CHANNEL)
    assert (message.text, message.plain, message.parse_mode) == (
        "<b>Mail</b> down &amp; slow",
        "Mail down & slow",
        "HTML",
    )
    assert [(r.method, r.status) for r in tg.requests] == [("getMe", 200), ("sendMessage", 200)]
    assert tg.requests[1].params["chat_id"] == str(CHANNEL)


def test_username_chat_and_replies(tg: FakeTelegram, manual: ManualClock) -> None:
    async def scenario() -> tuple[telegram.Message, telegram.Message]:
        async with bot(tg) as b:
            first = await b.send_message(NAMED, "Incident opened")
            manual.advance(1)
            reply = telegram.ReplyParameters(first.message_id)
            return first, await b.send_message(NAMED, "Update", reply_parameters=reply)

    first, second = run(scenario())
    assert first.chat.username == "herald_status"
    assert second.reply_to_message is not None
    assert second.reply_to_message.message_id == first.message_id
    assert [m.reply_to for m in tg.messages(NAMED)] == [None, first.message_id]
    assert tg.calls("sendMessage")[1].params["reply_parameters"] == {"message_id": 1}


def test_reply_to_a_missing_message(tg: FakeTelegram) -> None:
    with pytest.raises(BadRequest, match="Message to be replied not found"):
        run(send(tg, CHANNEL, "x", reply_parameters=telegram.ReplyParameters(99)))
    lenient = telegram.ReplyParameters(99, allow_sending_without_reply=True)
    assert run(send(tg, CHANNEL, "x", reply_parameters=lenient)).reply_to_message is None


def test_send_photo_with_caption_in_reply(tg: FakeTelegram, manual: ManualClock) -> None:
    image = sample_png(6, 4)

    async def scenario() -> tuple[telegram.Message, telegram.Message]:
        async with bot(tg) as b:
            text = await b.send_message(NAMED, "Weekly digest")
            manual.advance(1)
            photo = await b.send_photo(
                NAMED,
                image,
                filename="digest.png",
                caption="<b>Week 5</b> &amp; more",
                parse_mode="HTML",
                reply_parameters=telegram.ReplyParameters(text.message_id),
            )
            return text, photo

    text, photo = run(scenario())
    assert (photo.caption, photo.text, photo.photo[-1].width, photo.photo[-1].height) == (
        "Week 5 & more",
        None,
        6,
        4,
    )
    assert photo.caption_entities[0].type == "bold"
    assert photo.reply_to_message is not None
    assert photo.reply_to_message.message_id == text.message_id
    [stored] = tg.photos(NAMED)
    assert (stored.photo, stored.text, stored.reply_to) == (
        image,
        "<b>Week 5</b> &amp; more",
        text.message_id,
    )
    sent = tg.calls("sendPhoto")[0]
    assert (sent.params["photo"], sent.params["chat_id"]) == (image, NAMED)
    assert sent.params["reply_parameters"] == {"message_id": text.message_id}


def test_send_photo_by_file_id_and_reply_to_message_id(
    tg: FakeTelegram, manual: ManualClock
) -> None:
    base = f"{tg.api_url}{tg.token}/sendPhoto"
    first = httpx.post(
        base, data={"chat_id": str(PRIVATE)}, files={"photo": ("a.png", sample_png())}
    )
    file_id = first.json()["result"]["photo"][0]["file_id"]
    manual.advance(1)
    again = httpx.post(base, json={"chat_id": PRIVATE, "photo": file_id, "reply_to_message_id": 1})
    assert again.json()["result"]["reply_to_message"]["message_id"] == 1
    assert [m.photo for m in tg.photos(PRIVATE)] == [sample_png(), sample_png()]


def test_photos_telegram_refuses(tg: FakeTelegram, manual: ManualClock) -> None:
    base = f"{tg.api_url}{tg.token}/sendPhoto"

    def refusal(photo: bytes | None = None, **data: Any) -> tuple[int, str]:
        files = {"photo": ("chart.png", photo)} if photo is not None else None
        body = httpx.post(base, data={"chat_id": str(PRIVATE), **data}, files=files).json()
        return body["error_code"], body["description"]

    assert refusal() == (400, "Bad Request: there is no photo in the request")
    assert refusal(b"not an image") == (400, "Bad Request: IMAGE_PROCESS_FAILED")
    assert refusal(sample_png(), caption="x" * 1025) == (
        400,
        "Bad Request: message caption is too long",
    )
    assert refusal(sample_png(), caption="<b>x", parse_mode="HTML")[1].startswith(
        "Bad Request: can't parse entities"
    )
    assert refusal(sample_png(), reply_to_message_id="99") == (
        400,
        "Bad Request: message to be replied not found",
    )
    wrong_id = httpx.post(base, json={"chat_id": PRIVATE, "photo": "AgACnope"}).json()
    assert wrong_id["description"] == "Bad Request: wrong file identifier/HTTP URL specified"
    assert tg.photos(PRIVATE) == []
    # 1024 characters after entity parsing is fine; a photo's caption is not editable text
    long_caption = "<i>" + "x" * 1024 + "</i>"
    photo = run(bot(tg).send_photo(PRIVATE, sample_png(), caption=long_caption, parse_mode="HTML"))
    manual.advance(1)
    with pytest.raises(BadRequest, match="There is no text in the message to edit"):
        run(bot(tg).edit_message_text("x", chat_id=PRIVATE, message_id=photo.message_id))
    tg.block(PRIVATE, "Forbidden: bot was blocked by the user")
    assert refusal(sample_png()) == (403, "Forbidden: bot was blocked by the user")


def test_photos_share_the_message_limits(tg: FakeTelegram, manual: ManualClock) -> None:
    run(send(tg, CHANNEL, "text"))
    with pytest.raises(RetryAfter):
        run(bot(tg).send_photo(CHANNEL, sample_png()))
    manual.advance(1)
    tg.fail_next(1, status=429, retry_after=3, method="sendPhoto")
    with pytest.raises(RetryAfter) as limited:
        run(bot(tg).send_photo(CHANNEL, sample_png()))
    assert retry_seconds(limited.value) == 3
    assert run(bot(tg).send_photo(CHANNEL, sample_png())).photo


def test_edit_pin_delete(tg: FakeTelegram, manual: ManualClock) -> None:
    async def scenario() -> None:
        async with bot(tg) as b:
            sent = await b.send_message(GROUP, "Investigating")
            manual.advance(1)
            edited = await b.edit_message_text(
                "<i>Resolved</i>", GROUP, sent.message_id, parse_mode="HTML"
            )
            assert isinstance(edited, telegram.Message)
            assert edited.text == "Resolved"
            assert await b.pin_chat_message(GROUP, sent.message_id)
            manual.advance(1)
            with pytest.raises(BadRequest, match="Message is not modified"):
                await b.edit_message_text(
                    "<i>Resolved</i>", GROUP, sent.message_id, parse_mode="HTML"
                )
            with pytest.raises(BadRequest, match="Message to edit not found"):
                await b.edit_message_text("x", GROUP, 77)
            second = await b.send_message(GROUP, "Extra")
            assert await b.delete_message(GROUP, second.message_id)
            with pytest.raises(BadRequest, match="Message to delete not found"):
                await b.delete_message(GROUP, second.message_id)

    run(scenario())
    [message] = tg.messages(GROUP)
    assert (message.text, message.edits, tg.pinned(GROUP)) == (
        "<i>Resolved</i>",
        ["Investigating"],
        1,
    )


def test_same_text_with_other_markup_is_a_change(tg: FakeTelegram, manual: ManualClock) -> None:
    async def scenario() -> None:
        async with bot(tg) as b:
            sent = await b.send_message(PRIVATE, "Resolved")
            manual.advance(1)
            await b.edit_message_text(
                "<b>Resolved</b>", PRIVATE, sent.message_id, parse_mode="HTML"
            )

    run(scenario())
    assert tg.messages(PRIVATE)[0].edits == ["Resolved"]


# ---- Telegram: errors


def test_wrong_token_is_unauthorized(tg: FakeTelegram) -> None:
    async def scenario() -> None:
        async with bot(tg, "999:WRONG"):
            pass

    with pytest.raises(InvalidToken):
        run(scenario())
    raw = httpx.get(f"{tg.api_url}999:WRONG/getMe")
    assert (raw.status_code, raw.json()) == (
        401,
        {"ok": False, "error_code": 401, "description": "Unauthorized"},
    )


def test_chat_not_found_blocked_and_migrated(tg: FakeTelegram) -> None:
    with pytest.raises(BadRequest, match="Chat not found"):
        run(send(tg, -555, "x"))
    with pytest.raises(BadRequest, match="Chat not found"):
        run(send(tg, "@nobody", "x"))
    tg.block(CHANNEL)
    with pytest.raises(Forbidden, match="bot was kicked from the channel chat"):
        run(send(tg, CHANNEL, "x"))
    tg.migrate(GROUP, -1009999)
    with pytest.raises(ChatMigrated) as migrated:
        run(send(tg, GROUP, "x"))
    assert migrated.value.new_chat_id == -1009999
    assert run(send(tg, -1009999, "x")).chat.type == "supergroup"
    body = httpx.post(f"{tg.api_url}{tg.token}/sendMessage", json={"chat_id": GROUP, "text": "x"})
    assert body.json()["parameters"] == {"migrate_to_chat_id": -1009999}
    assert body.json()["description"] == "Bad Request: group chat was upgraded to a supergroup chat"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("<b>open", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b>x</i>", 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("<br>", 'Unsupported start tag "br" at byte offset 0'),
        ("a < b", 'Unsupported start tag "" at byte offset 2'),
        ("x <b", "Unclosed start tag at byte offset 2"),
        ("R&D", "Character '&' must be escaped as &amp; at byte offset 1"),
        ("&laquo;", 'Unsupported HTML entity "&laquo;" at byte offset 0'),
        (
            '<a href="https://e.com/?a=1&b=2">l</a>',
            "Character '&' must be escaped as &amp; at byte offset 27",
        ),
        ('<span class="x">s</span>', 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
        ("<i aba>x</i>", 'Expected equal sign in declaration of an attribute of the tag "i"'),
    ],
)
def test_html_that_telegram_refuses(tg: FakeTelegram, text: str, reason: str) -> None:
    with pytest.raises(BadRequest) as refused:
        run(send(tg, PRIVATE, text, parse_mode="HTML"))
    assert str(refused.value).startswith("Can't parse entities: ")
    raw = httpx.post(
        f"{tg.api_url}{tg.token}/sendMessage",
        data={"chat_id": str(PRIVATE), "text": text, "parse_mode": "HTML"},
    )
    assert raw.json()["description"].startswith(f"Bad Request: can't parse entities: {reason}")


def test_html_that_telegram_accepts() -> None:
    parsed = parse_html(
        '🏟 <b>x<i>y</i></b> &lt;&#65;&#x42;&quot;&gt; <a href="https://e.com/?a=1&amp;b=2">l</a>'
        '<tg-spoiler>s</tg-spoiler><span class="tg-spoiler">t</span><s>u</s><u>v</u>'
        '<pre><code class="language-python">p</code></pre><blockquote expandable>q</blockquote>'
    )
    assert parsed.text == '🏟 xy <AB"> lstuvpq'
    kinds = [(e["type"], e["offset"], e["length"]) for e in parsed.entities]
    assert kinds[:2] == [("bold", 3, 2), ("italic", 4, 1)]  # 🏟 is two UTF-16 units
    link = next(e for e in parsed.entities if e["type"] == "text_link")
    assert link["url"] == "https://e.com/?a=1&b=2"
    assert {"type": "pre", "offset": 17, "length": 1, "language": "python"} in parsed.entities
    assert parsed.entities[-1]["type"] == "expandable_blockquote"
    assert parse_html("<b></b>x").entities == []  # empty entities are dropped
    assert parse_html("<i>a</>").entities == [{"type": "italic", "offset": 0, "length": 1}]
    assert parse_html("R&D", strict_ampersand=False).text == "R&D"
    with pytest.raises(EntityError, match="byte offset 13"):
        parse_html("🏟 🏟&lt;<abacaba")  # tdlib's own test case


def test_length_counts_after_entity_parsing(tg: FakeTelegram, manual: ManualClock) -> None:
    assert run(send(tg, PRIVATE, "<b>" + "x" * 4096 + "</b>", parse_mode="HTML"))
    manual.advance(1)
    with pytest.raises(BadRequest, match="Message is too long"):
        run(send(tg, PRIVATE, "x" * 4097))
    with pytest.raises(BadRequest, match="Message text is empty"):
        run(send(tg, PRIVATE, "<b> </b>", parse_mode="HTML"))
    raw = httpx.post(f"{tg.api_url}{tg.token}/sendMessage", json={"chat_id": PRIVATE})
    assert raw.json()["description"] == "Bad Request: message text is empty"


def test_injected_failures_and_outage(tg: FakeTelegram) -> None:
    tg.fail_next(1)
    with pytest.raises(NetworkError, match="Bad Gateway"):
        run(send(tg, CHANNEL, "x"))  # getMe took the failure
    tg.fail_next(1, status=429, retry_after=7, method="sendMessage")
    with pytest.raises(RetryAfter) as limited:
        run(send(tg, CHANNEL, "x"))
    assert retry_seconds(limited.value) == 7
    assert tg.too_many_requests == 1
    tg.fail_next(1, status=403, description="Forbidden: bot is not a member of the channel chat")
    with pytest.raises(Forbidden, match="not a member"):
        run(send(tg, CHANNEL, "x"))
    tg.set_outage(True)
    with pytest.raises(NetworkError, match="Bad Gateway"):
        run(send(tg, CHANNEL, "x"))
    tg.set_outage(False)
    assert run(send(tg, CHANNEL, "x")).message_id == 1
    assert [r.status for r in tg.requests] == [502, 200, 429, 403, 502, 200, 200]


# ---- Telegram: rate limits


def test_per_chat_limit_slides_on_the_clock(tg: FakeTelegram, manual: ManualClock) -> None:
    async def scenario() -> None:
        async with bot(tg) as b:
            await b.send_message(PRIVATE, "1")
            manual.advance(0.5)
            with pytest.raises(RetryAfter) as limited:
                await b.send_message(PRIVATE, "2")
            assert retry_seconds(limited.value) == 1
            await b.send_message(GROUP, "other chat is fine")
            manual.advance(0.5)
            await b.send_message(PRIVATE, "3")

    run(scenario())
    assert [m.text for m in tg.messages(PRIVATE)] == ["1", "3"]
    assert tg.too_many_requests == 1
    [refused] = [r for r in tg.requests if r.status == 429]
    assert refused.params["text"] == "2"
    assert refused.at == 1000.5


def test_group_limit_per_minute(manual: ManualClock) -> None:
    async def scenario(fake: FakeTelegram) -> None:
        async with bot(fake) as b:
            for n in range(20):
                await b.send_message(GROUP, str(n))
                await b.send_message(PRIVATE, str(n))  # private chats have no minute cap
                manual.advance(1)
            with pytest.raises(RetryAfter) as limited:
                await b.send_message(GROUP, "21st")
            assert retry_seconds(limited.value) == 40  # the first one leaves the window at 60 s
            await b.send_message(PRIVATE, "21st")
            manual.advance(40)
            await b.send_message(GROUP, "21st")

    with FakeTelegram(clock=manual) as fake:
        fake.add_chat(GROUP, "group")
        fake.add_chat(PRIVATE, "private")
        run(scenario(fake))
        assert len(fake.messages(GROUP)) == 21
        assert len(fake.messages(PRIVATE)) == 21


def test_global_limit_and_disabled_limits(manual: ManualClock) -> None:
    async def scenario(fake: FakeTelegram) -> None:
        async with bot(fake) as b:
            for chat in range(1, 31):
                await b.send_message(chat, "x")
            with pytest.raises(RetryAfter):
                await b.send_message(31, "x")
            manual.advance(1)
            await b.send_message(31, "x")

    with FakeTelegram(clock=manual, per_chat_per_second=None, group_per_minute=None) as fake:
        for chat in range(1, 32):
            fake.add_chat(chat, "private")
        run(scenario(fake))
        assert fake.too_many_requests == 1

    async def unlimited(fake: FakeTelegram) -> None:
        async with bot(fake) as b:
            for n in range(50):
                await b.send_message(PRIVATE, str(n))

    with FakeTelegram(clock=manual, global_per_second=None, per_chat_per_second=None) as fake:
        fake.add_chat(PRIVATE, "private")
        run(unlimited(fake))
        assert len(fake.messages(PRIVATE)) == 50


# ---- Telegram: transport, updates, webhooks


def test_get_post_json_form_multipart_and_case(tg: FakeTelegram, manual: ManualClock) -> None:
    base = f"{tg.api_url}{tg.token}"
    calls = [
        httpx.get(f"{base}/SENDMESSAGE", params={"chat_id": CHANNEL, "text": "query"}),
        httpx.post(f"{base}/sendmessage", json={"chat_id": GROUP, "text": "json"}),
        httpx.post(f"{base}/sendMessage", data={"chat_id": NAMED, "text": "form"}),
        httpx.post(
            f"{base}/sendMessage",
            data={"chat_id": str(PRIVATE), "text": "multipart"},
            files={"document": ("a.txt", b"x")},
        ),
    ]
    assert [c.json()["result"]["text"] for c in calls] == ["query", "json", "form", "multipart"]
    assert [r.method for r in tg.requests] == ["sendMessage"] * 4
    assert [r.verb for r in tg.requests] == ["GET", "POST", "POST", "POST"]
    missing = httpx.post(f"{base}/sendSticker")
    assert (missing.status_code, missing.json()["description"]) == (404, "Not Found")


def test_get_updates_and_webhooks(tg: FakeTelegram) -> None:
    update = {"message": {"message_id": 5, "date": 0, "chat": {"id": GROUP, "type": "group"}}}

    async def scenario() -> None:
        async with bot(tg) as b:
            began = time.monotonic()
            assert await b.get_updates(timeout=5) == ()
            assert 0.9 < time.monotonic() - began < 2.5  # long poll capped at 1 s
            first = tg.add_update(update)
            [got] = await b.get_updates(timeout=1)
            assert got.update_id == first
            assert got.message is not None
            assert await b.get_updates(offset=first + 1) == ()
            assert await b.set_webhook("https://herald.example/tg", secret_token="s3cret")
            info = await b.get_webhook_info()
            assert (info.url, tg.webhook_secret) == ("https://herald.example/tg", "s3cret")
            with pytest.raises(Conflict, match="webhook is active"):
                await b.get_updates()
            assert await b.delete_webhook()
            assert (await b.get_webhook_info()).url == ""

    run(scenario())


def test_polling_application_replies_to_a_command(tg: FakeTelegram) -> None:
    heard: list[str] = []

    async def incident(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message is not None
        heard.append(update.message.text or "")
        await update.message.reply_text("<b>Opened</b> #1", parse_mode="HTML")

    async def scenario() -> None:
        app = ApplicationBuilder().token(tg.token).base_url(tg.api_url).build()
        app.add_handler(CommandHandler("incident", incident))
        async with app:
            await app.start()
            assert app.updater is not None
            await app.updater.start_polling(poll_interval=0, timeout=1)
            tg.add_user_message(GROUP, "/incident@herald_test_bot Mail down")
            for _ in range(100):
                if tg.messages(GROUP):
                    break
                await asyncio.sleep(0.02)
            await app.updater.stop()
            await app.stop()

    run(scenario())
    assert heard == ["/incident@herald_test_bot Mail down"]
    [reply] = tg.messages(GROUP)
    assert (reply.plain, reply.reply_to, reply.message_id) == ("Opened #1", 1, 2)


def test_text_that_looks_like_json_stays_text(tg: FakeTelegram, slack: FakeSlack) -> None:
    assert run(send(tg, PRIVATE, "[1, 2]")).text == "[1, 2]"
    web = WebClient(token="xoxb-test-token", base_url=slack.api_url)
    web.api_call("chat.postMessage", data={"channel": "C0STATUS", "text": "true"})
    assert slack.messages("C0STATUS")[0].text == "true"


def test_stop_ends_a_long_poll_at_once(tg: FakeTelegram) -> None:
    answers: list[httpx.Response] = []
    url = f"{tg.api_url}{tg.token}/getUpdates"
    poller = threading.Thread(target=lambda: answers.append(httpx.post(url, json={"timeout": 1})))
    poller.start()
    time.sleep(0.2)
    began = time.monotonic()
    tg.stop()
    assert time.monotonic() - began < 0.5
    poller.join()
    assert answers[0].json() == {"ok": True, "result": []}


def test_a_newer_poll_ends_the_older_one(tg: FakeTelegram) -> None:
    async def scenario() -> None:
        url = f"{tg.api_url}{tg.token}/getUpdates"
        async with httpx.AsyncClient() as other_process:  # PTB itself polls one at a time
            older = asyncio.create_task(other_process.post(url, json={"timeout": 1}))
            await asyncio.sleep(0.2)
            async with bot(tg) as b:
                assert await b.get_updates(timeout=0) == ()
            answer = await older
        assert answer.status_code == 409
        assert answer.json()["description"].startswith("Conflict: terminated by other getUpdates")

    run(scenario())


def test_allowed_updates_decide_what_telegram_keeps(tg: FakeTelegram) -> None:
    async def scenario() -> None:
        async with bot(tg) as b:
            sent = await b.send_message(GROUP, "#12", reply_markup=keyboard(12))
            early = tg.add_callback_query(GROUP, sent.message_id, "ack:12")["update_id"]
            assert await b.get_updates(offset=early + 1, allowed_updates=["message"]) == ()
            assert tg.allowed_updates == ["message"]
            assert tg.add_callback_query(GROUP, sent.message_id, "ack:12")["update_id"] == 0
            wanted = tg.add_user_message(GROUP, "/status")["update_id"]
            [got] = await b.get_updates()  # no allowed_updates: the last setting holds
            assert (got.update_id, got.effective_message is not None) == (wanted, True)
            await b.get_updates(offset=wanted + 1, allowed_updates=[])  # [] means the default
            assert "callback_query" in tg.allowed_updates
            assert "chat_member" not in tg.allowed_updates
            assert tg.add_update({"chat_member": {}}) == 0  # not sent unless asked for
            await b.get_updates(allowed_updates=[Update.CHAT_MEMBER, "MESSAGE", "bogus"])
            assert tg.allowed_updates == ["message", "chat_member"]

    run(scenario())


def test_updates_queued_before_a_change_still_arrive(tg: FakeTelegram) -> None:
    async def scenario() -> None:
        async with bot(tg) as b:
            sent = await b.send_message(GROUP, "#12", reply_markup=keyboard(12))
            tg.add_callback_query(GROUP, sent.message_id, "ack:12")
            [early] = await b.get_updates(allowed_updates=["message"])
            assert early.callback_query is not None  # as the Bot API documents

    run(scenario())


def test_offsets_confirm_for_good(tg: FakeTelegram) -> None:
    ids = [tg.add_user_message(GROUP, f"m{n}")["update_id"] for n in range(4)]

    async def ids_after(**kwargs: Any) -> list[int]:
        async with bot(tg) as b:
            return [u.update_id for u in await b.get_updates(**kwargs)]

    assert run(ids_after(offset=ids[1])) == ids[1:]
    assert [u["update_id"] for u in tg.pending_updates()] == ids[1:]
    assert run(ids_after(offset=ids[0])) == ids[1:]  # confirmed updates never come back
    assert run(ids_after(offset=ids[-1] + 5)) == ids[1:]  # an offset beyond confirms nothing
    assert run(ids_after(limit=2)) == ids[1:3]
    assert run(ids_after(offset=-2)) == ids[2:]  # the last two; the rest are forgotten
    assert run(ids_after()) == ids[2:]
    assert run(ids_after(offset=ids[-1] + 1)) == []


def test_webhook_allowed_updates_and_secret(tg: FakeTelegram) -> None:
    async def scenario() -> None:
        async with bot(tg) as b:
            assert (await b.get_webhook_info()).allowed_updates == ()
            assert await b.set_webhook(
                "https://herald.example/tg",
                secret_token="Herald_secret-1",
                allowed_updates=[Update.CALLBACK_QUERY, Update.MESSAGE],
            )
            info = await b.get_webhook_info()
            assert info.allowed_updates == ("message", "callback_query")  # the API's order
            assert tg.webhook_secret == "Herald_secret-1"
            with pytest.raises(BadRequest, match="Secret token contains unallowed characters"):
                await b.set_webhook("https://herald.example/tg", secret_token="not secret!")
            with pytest.raises(BadRequest, match="Secret token is too long"):
                await b.set_webhook("https://herald.example/tg", secret_token="s" * 257)
            assert await b.set_webhook("https://herald.example/tg", secret_token="s" * 256)
            assert await b.delete_webhook()
            assert tg.allowed_updates == ["message", "callback_query"]  # kept for getUpdates

    run(scenario())
    raw = raw_call(tg, "setWebhook", url="https://herald.example/tg", secret_token="a b")
    assert raw["description"] == "Bad Request: secret token contains unallowed characters"


def test_polling_application_handles_a_button_press(tg: FakeTelegram, manual: ManualClock) -> None:
    async def incident(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message is not None
        await update.message.reply_text("#12 Mail down", reply_markup=keyboard(12))

    async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        await query.answer("Acknowledged")
        manual.advance(1)
        await query.edit_message_reply_markup(telegram.InlineKeyboardMarkup([]))

    async def scenario() -> None:
        app = ApplicationBuilder().token(tg.token).base_url(tg.api_url).build()
        app.add_handler(CommandHandler("incident", incident))
        app.add_handler(CallbackQueryHandler(pressed))
        async with app:
            await app.start()
            assert app.updater is not None
            await app.updater.start_polling(
                poll_interval=0, timeout=1, allowed_updates=[Update.MESSAGE, Update.CALLBACK_QUERY]
            )
            tg.add_user_message(GROUP, "/incident open Mail down")
            await until(lambda: bool(tg.messages(GROUP)))
            manual.advance(1)
            tg.add_callback_query(GROUP, tg.messages(GROUP)[0].message_id, "ack:12")
            await until(lambda: tg.messages(GROUP)[0].inline_keyboard == [])
            await app.updater.stop()
            await app.stop()

    run(scenario())
    assert [a.text for a in tg.answers()] == ["Acknowledged"]
    assert tg.allowed_updates == ["message", "callback_query"]
    [reply] = tg.replies_to(GROUP, 1)
    assert (reply.text, reply.inline_keyboard) == ("#12 Mail down", [])


# ---- Telegram: what people write


@pytest.mark.parametrize(
    ("text", "commands"),
    [
        ("/incident@herald_test_bot open Mail down", ["/incident@herald_test_bot"]),
        ("/start", ["/start"]),
        ("see /help, or /status_all.", ["/help", "/status_all"]),
        ("🏟 /help", ["/help"]),  # offsets count UTF-16 units
        ("a/b and /usr/bin and </x> and /é", []),  # glued to a word, a path, a tag, no name
        ("/abc@de", []),  # a bot name needs 3 to 32 characters
        ("/x" + "y" * 64, []),  # a name has at most 64
    ],
)
def test_bot_command_entities(tg: FakeTelegram, text: str, commands: list[str]) -> None:
    async def scenario() -> telegram.Message:
        tg.add_user_message(GROUP, text)
        async with bot(tg) as b:
            [update] = await b.get_updates()
        assert update.message is not None
        return update.message

    message = run(scenario())
    found = [e for e in message.entities if e.type == "bot_command"]
    assert [message.parse_entity(e) for e in found] == commands
    if text.startswith("🏟"):
        assert found[0].offset == 3


def test_a_reply_to_a_force_reply_prompt_in_a_private_chat(
    tg: FakeTelegram, manual: ManualClock
) -> None:
    old = int(time.time()) - 3600
    prompt_markup = telegram.ForceReply(input_field_placeholder="Mail down")

    async def scenario() -> None:
        async with bot(tg) as b:
            prompt = await b.send_message(PRIVATE, "Title?", reply_markup=prompt_markup)
            assert prompt.reply_markup is None  # a Message carries inline keyboards only
            tg.add_user_message(
                PRIVATE, "Mail is down", reply_to=prompt.message_id, username="alice", date=old
            )
            [update] = await b.get_updates()
            message = update.message
            assert message is not None
            assert message.from_user is not None
            assert (message.from_user.id, message.from_user.username) == (PRIVATE, "alice")
            assert (message.chat.id, message.chat.type, message.chat.username) == (
                PRIVATE,
                "private",
                "alice",
            )
            assert message.date.timestamp() == old
            replied = message.reply_to_message
            assert replied is not None
            assert replied.from_user is not None
            assert (replied.message_id, replied.text, replied.from_user.is_bot) == (
                prompt.message_id,
                "Title?",
                True,
            )
            assert replied.reply_to_message is None  # Telegram nests one level only
            manual.advance(1)
            answer = await message.reply_text("Opened #12", do_quote=True)
            assert answer.reply_to_message is not None
            assert answer.reply_to_message.text == "Mail is down"  # a person's message nests too

    run(scenario())
    prompt, answer = tg.messages(PRIVATE)
    assert prompt.reply_markup == {"force_reply": True, "input_field_placeholder": "Mail down"}
    assert prompt.inline_keyboard == []
    assert tg.replies_to(PRIVATE, 2) == [answer]  # message 2 is the person's reply
    assert tg.replies_to(PRIVATE, prompt.message_id) == []


def test_who_writes_where(tg: FakeTelegram) -> None:
    group = tg.add_user_message(
        GROUP, "hi", user_id=7, first_name="Bob", username="bob", language_code="it"
    )
    assert group["message"]["from"] == {
        "id": 7,
        "is_bot": False,
        "first_name": "Bob",
        "username": "bob",
        "language_code": "it",
    }
    assert tg.add_user_message(GROUP, "hi")["message"]["from"]["id"] == 1001
    private = tg.add_user_message(PRIVATE, "hi")["message"]
    assert private["from"]["id"] == private["chat"]["id"] == PRIVATE
    assert private["from"]["first_name"] == private["chat"]["first_name"] == "Alice"
    post = tg.add_user_message(CHANNEL, "/status")["channel_post"]
    assert "from" not in post
    assert post["sender_chat"]["id"] == CHANNEL
    with pytest.raises(ValueError, match="private chat"):
        tg.add_user_message(PRIVATE, "hi", user_id=7)
    with pytest.raises(ValueError, match="channel post has no sender"):
        tg.add_user_message(CHANNEL, "hi", user_id=7)
    with pytest.raises(ValueError, match="no message 99"):
        tg.add_user_message(GROUP, "hi", reply_to=99)


# ---- Telegram: keyboards and button presses


def test_a_button_press_and_its_answer(tg: FakeTelegram) -> None:
    async def scenario() -> None:
        async with bot(tg) as b:
            sent = await b.send_message(GROUP, "#12 Mail down", reply_markup=keyboard(12))
            assert sent.reply_markup == keyboard(12)
            pressed = tg.add_callback_query(
                GROUP, sent.message_id, "ack:12", user_id=7, language_code="it"
            )
            [update] = await b.get_updates()
            query = update.callback_query
            assert query is not None
            assert update.update_id == pressed["update_id"]
            assert (query.id, query.data, query.from_user.id) == (
                pressed["callback_query"]["id"],
                "ack:12",
                7,
            )
            assert query.message is not None
            assert query.message.message_id == sent.message_id
            assert isinstance(query.message, telegram.Message)
            assert query.message.reply_markup == keyboard(12)
            assert query.chat_instance
            assert query.from_user.language_code == "it"
            assert await query.answer("Acknowledged", show_alert=True)
            with pytest.raises(BadRequest, match="Query is too old"):
                await query.answer("twice")
            with pytest.raises(BadRequest, match="Query is too old"):
                await b.answer_callback_query("12345")
            late = tg.add_callback_query(GROUP, sent.message_id, "resolve:12")
            tg.expire_callback_queries()
            with pytest.raises(BadRequest, match="Query is too old"):
                await b.answer_callback_query(late["callback_query"]["id"])

    run(scenario())
    assert [(a.text, a.show_alert) for a in tg.answers()] == [("Acknowledged", True)]
    raw = raw_call(tg, "answerCallbackQuery", callback_query_id="12345")
    assert raw["description"] == (
        "Bad Request: query is too old and response timeout expired or query ID is invalid"
    )


def test_only_existing_buttons_can_be_pressed(tg: FakeTelegram) -> None:
    plain = run(send(tg, GROUP, "no buttons"))
    with pytest.raises(ValueError, match="no bot message 99"):
        tg.add_callback_query(GROUP, 99, "ack:12")
    with pytest.raises(ValueError, match="no button"):
        tg.add_callback_query(GROUP, plain.message_id, "ack:12")
    person = tg.add_user_message(GROUP, "hi")["message"]["message_id"]
    with pytest.raises(ValueError, match="no bot message"):
        tg.add_callback_query(GROUP, person, "ack:12")


def test_edit_message_reply_markup(tg: FakeTelegram, manual: ManualClock) -> None:
    async def scenario() -> None:
        async with bot(tg) as b:
            sent = await b.send_message(GROUP, "#12 Mail down", reply_markup=keyboard(12))
            manual.advance(1)
            fewer = telegram.InlineKeyboardMarkup(keyboard(12).inline_keyboard[1:])
            edited = await b.edit_message_reply_markup(GROUP, sent.message_id, reply_markup=fewer)
            assert isinstance(edited, telegram.Message)
            assert edited.reply_markup == fewer
            assert edited.edit_date is not None
            manual.advance(1)
            with pytest.raises(BadRequest, match="Message is not modified"):
                await b.edit_message_reply_markup(GROUP, sent.message_id, reply_markup=fewer)
            gone = await b.edit_message_reply_markup(GROUP, sent.message_id)
            assert isinstance(gone, telegram.Message)
            assert gone.reply_markup is None
            manual.advance(1)
            with pytest.raises(BadRequest, match="Message is not modified"):
                await b.edit_message_reply_markup(
                    GROUP, sent.message_id, reply_markup=telegram.InlineKeyboardMarkup([])
                )
            with pytest.raises(BadRequest, match="Inline keyboard expected"):
                await b.edit_message_reply_markup(
                    GROUP,
                    sent.message_id,
                    reply_markup=telegram.ForceReply(),  # type: ignore[arg-type]
                )
            with pytest.raises(BadRequest, match="Message to edit not found"):
                await b.edit_message_reply_markup(GROUP, 99, reply_markup=fewer)
            person = tg.add_user_message(GROUP, "hi")["message"]["message_id"]
            with pytest.raises(BadRequest, match="Message can't be edited"):
                await b.edit_message_reply_markup(GROUP, person, reply_markup=fewer)

    run(scenario())
    [message] = tg.messages(GROUP)
    assert (message.text, message.edits, message.reply_markup) == ("#12 Mail down", [], None)


def test_edit_text_keeps_or_drops_the_keyboard(tg: FakeTelegram, manual: ManualClock) -> None:
    async def scenario() -> None:
        async with bot(tg) as b:
            sent = await b.send_message(GROUP, "Investigating", reply_markup=keyboard(12))
            manual.advance(1)
            with pytest.raises(BadRequest, match="Message is not modified"):
                await b.edit_message_text(
                    "Investigating", GROUP, sent.message_id, reply_markup=keyboard(12)
                )
            edited = await b.edit_message_text("Resolved", GROUP, sent.message_id)
            assert isinstance(edited, telegram.Message)
            assert edited.reply_markup is None  # an edit without reply_markup removes it

    run(scenario())
    assert tg.messages(GROUP)[0].inline_keyboard == []


@pytest.mark.parametrize(
    ("chat", "markup", "description"),
    [
        (GROUP, button(callback_data="x" * 65), "BUTTON_DATA_INVALID"),
        (GROUP, button(callback_data="é" * 33), "BUTTON_DATA_INVALID"),  # 66 bytes
        (
            GROUP,
            button(callback_data=""),
            "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard",
        ),
        (
            GROUP,
            {"inline_keyboard": [{"text": "Go"}]},
            'field "inline_keyboard" of the InlineKeyboardMarkup must be an Array of Arrays',
        ),
        (CHANNEL, {"force_reply": True}, "inline keyboard expected"),
        (GROUP, "not json", "can't parse reply keyboard markup JSON object"),
    ],
)
def test_keyboards_telegram_refuses(
    tg: FakeTelegram, chat: int, markup: Any, description: str
) -> None:
    raw = raw_call(tg, "sendMessage", chat_id=chat, text="x", reply_markup=markup)
    assert (raw["error_code"], raw["description"]) == (400, f"Bad Request: {description}")
    assert tg.messages(chat) == []


def test_keyboards_telegram_accepts(tg: FakeTelegram, manual: ManualClock) -> None:
    fits = telegram.InlineKeyboardMarkup(
        [[telegram.InlineKeyboardButton("é", callback_data="é" * 32)]]  # 64 bytes
    )
    assert run(send(tg, GROUP, "x", reply_markup=fits)).reply_markup == fits
    manual.advance(1)
    long = telegram.InlineKeyboardButton("Go", callback_data="x" * 65)  # PTB lets it pass
    with pytest.raises(BadRequest, match="Button_data_invalid"):
        run(send(tg, GROUP, "x", reply_markup=telegram.InlineKeyboardMarkup([[long]])))
    run(send(tg, CHANNEL, "x", reply_markup=fits))  # inline keyboards go to channels too
    run(send(tg, PRIVATE, "x", reply_markup=telegram.ReplyKeyboardRemove()))
    assert tg.messages(PRIVATE)[0].reply_markup == {"remove_keyboard": True}


# ---- Telegram: command menus

HELP = telegram.BotCommand("help", "What Herald can do")
INCIDENT = telegram.BotCommand("incident", "Open, update or resolve an incident")


def test_command_menus_per_scope_and_language(tg: FakeTelegram) -> None:
    group = telegram.BotCommandScopeChat(GROUP)
    admins = telegram.BotCommandScopeChatAdministrators(GROUP)
    member = telegram.BotCommandScopeChatMember(GROUP, 7)

    async def scenario() -> None:
        async with bot(tg) as b:
            assert await b.get_my_commands() == ()
            assert await b.set_my_commands([HELP])
            assert await b.set_my_commands(
                [("/incident ", " Apri un incidente ")], language_code="it"
            )
            assert await b.set_my_commands([HELP, INCIDENT], scope=group)
            assert await b.set_my_commands([INCIDENT], scope=admins)
            assert await b.set_my_commands([INCIDENT], scope=member)
            assert await b.set_my_commands([HELP], scope=telegram.BotCommandScopeChat(PRIVATE))
            assert await b.get_my_commands() == (HELP,)
            [italian] = await b.get_my_commands(language_code="it")
            assert (italian.command, italian.description) == ("incident", "Apri un incidente")
            assert await b.get_my_commands(scope=group) == (HELP, INCIDENT)
            assert await b.get_my_commands(scope=telegram.BotCommandScopeAllGroupChats()) == ()
            assert await b.delete_my_commands(scope=admins)
            assert await b.get_my_commands(scope=admins) == ()
            assert await b.set_my_commands([], scope=group)  # an empty list deletes too
            assert await b.get_my_commands(scope=group) == ()

    run(scenario())
    assert tg.commands() == [{"command": "help", "description": "What Herald can do"}]
    assert tg.commands(language_code="it")[0]["command"] == "incident"
    member_scope = {"type": "chat_member", "chat_id": GROUP, "user_id": 7}
    assert [c["command"] for c in tg.commands(member_scope)] == ["incident"]
    assert tg.commands({"type": "all_private_chats"}) == []
    assert tg.commands({"type": "chat", "chat_id": PRIVATE}) == [HELP.to_dict()]


@pytest.mark.parametrize(
    ("params", "description"),
    [
        ({"commands": [{"command": "Incident", "description": "x"}]}, "BOT_COMMAND_INVALID"),
        ({"commands": [{"command": "open-incident", "description": "x"}]}, "BOT_COMMAND_INVALID"),
        (
            {"commands": [{"command": "x" * 33, "description": "x"}]},
            "command length must not exceed 32",
        ),
        ({"commands": [{"command": "/", "description": "x"}]}, "command must be non-empty"),
        (
            {"commands": [{"command": "help", "description": " "}]},
            "command description must be non-empty",
        ),
        (
            {"commands": [{"command": "help", "description": "x" * 257}]},
            "command description length must not exceed 256",
        ),
        (
            {"commands": [{"command": f"c{n}", "description": "x"} for n in range(101)]},
            "BOT_COMMANDS_TOO_MUCH",
        ),
        (
            {"commands": [{"command": "help"}]},
            "can't parse BotCommand: Can't find field \"description\"",
        ),
        (
            {"scope": {"type": "everyone"}},
            "can't parse BotCommandScope: Unsupported type specified",
        ),
        ({"scope": {"type": "chat", "chat_id": -555}}, "chat not found"),
        (
            {"scope": {"type": "chat_member", "chat_id": GROUP, "user_id": 0}},
            "can't parse BotCommandScope: Invalid user_id specified",
        ),
        (
            {"scope": {"type": "chat_administrators", "chat_id": PRIVATE}},
            "can't use specified scope in private chats",
        ),
        ({"scope": {"type": "chat", "chat_id": CHANNEL}}, "can't change commands in channel chats"),
        ({"language_code": "EN"}, "invalid language code specified"),
        ({"language_code": "ita"}, "invalid language code specified"),
    ],
)
def test_command_menus_telegram_refuses(
    tg: FakeTelegram, params: dict[str, Any], description: str
) -> None:
    body = {"commands": [HELP.to_dict()], **params}
    raw = raw_call(tg, "setMyCommands", **body)
    assert (raw["error_code"], raw["description"]) == (400, f"Bad Request: {description}")
    assert tg.commands() == []


def test_refused_commands_through_the_client(tg: FakeTelegram) -> None:
    async def scenario() -> None:
        async with bot(tg) as b:
            with pytest.raises(BadRequest, match="Bot_command_invalid"):
                await b.set_my_commands([("Incident", "Open an incident")])
            with pytest.raises(BadRequest, match="Chat not found"):
                await b.get_my_commands(scope=telegram.BotCommandScopeChat(-555))

    run(scenario())


# ---- Slack


@pytest.fixture
def slack(manual: ManualClock) -> Iterator[FakeSlack]:
    """A Slack fake with two channels, a user and a usergroup."""
    with FakeSlack(clock=manual) as fake:
        fake.add_channel("C0INCIDENT", "incidents")
        fake.add_channel("C0STATUS", "status")
        fake.add_user("U0ALICE", "alice", real_name="Alice Rossi", tz="Europe/Rome")
        fake.set_usergroup("S0ONCALL", ["U0ALICE"])
        yield fake


def client(fake: FakeSlack, token: str | None = "xoxb-test-token") -> AsyncWebClient:  # noqa: S107
    """A real slack_sdk async client pointed at the fake."""
    return AsyncWebClient(token=token, base_url=fake.api_url)


async def error_of(call: Awaitable[Any]) -> SlackApiError:
    """The SlackApiError a call raises."""
    with pytest.raises(SlackApiError) as failed:
        await call
    return failed.value


def test_auth_post_update_and_lookups(slack: FakeSlack, manual: ManualClock) -> None:
    async def scenario() -> None:
        c = client(slack)
        auth = await c.auth_test()
        assert (auth["user_id"], auth["bot_id"], auth["team_id"]) == (
            "U0HERALD",
            "B0HERALD",
            "T0HERALD",
        )
        blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*Mail* down"}}]
        first = await c.chat_postMessage(channel="C0INCIDENT", text="Mail down", blocks=blocks)
        assert first["channel"] == "C0INCIDENT"
        assert first["message"]["blocks"] == blocks
        manual.advance(1)
        reply = await c.chat_postMessage(channel="#incidents", text="more", thread_ts=first["ts"])
        assert float(reply["ts"]) > float(first["ts"])
        updated = await c.chat_update(channel="C0INCIDENT", ts=first["ts"], text="Mail back")
        assert (updated["ts"], updated["text"]) == (first["ts"], "Mail back")
        info = await c.conversations_info(channel="C0STATUS")
        assert info["channel"]["name"] == "status"
        user = await c.users_info(user="U0ALICE")
        assert user["user"]["tz"] == "Europe/Rome"
        group = await c.usergroups_users_list(usergroup="S0ONCALL")
        assert group["users"] == ["U0ALICE"]
        ephemeral = await c.chat_postEphemeral(channel="C0STATUS", user="U0ALICE", text="psst")
        assert ephemeral["message_ts"]

    run(scenario())
    first, reply = slack.messages("C0INCIDENT")
    assert (first.text, first.edits, reply.thread_ts) == ("Mail back", ["Mail down"], first.ts)
    assert slack.ephemeral == [{"channel": "C0STATUS", "user": "U0ALICE", "text": "psst"}]
    verbs = {r.method: r.verb for r in slack.requests}
    assert verbs["conversations.info"] == "GET"
    assert verbs["chat.postMessage"] == "POST"
    assert slack.calls("chat.postMessage")[0].params["blocks"][0]["type"] == "section"


def test_sync_client_posts_form_data(slack: FakeSlack) -> None:
    web = WebClient(token="xoxb-test-token", base_url=slack.api_url)
    assert web.chat_postMessage(channel="C0STATUS", text="sync")["ok"]
    assert web.chat_delete(channel="C0STATUS", ts=slack.messages("C0STATUS")[0].ts)["ok"]
    assert slack.messages("C0STATUS") == []


def test_auth_errors(slack: FakeSlack) -> None:
    async def scenario() -> None:
        assert (await error_of(client(slack, None).auth_test())).response["error"] == "not_authed"
        assert (await error_of(client(slack, "xoxb-other").auth_test())).response[
            "error"
        ] == "invalid_auth"

    run(scenario())


# Posting without `text` is one of the errors under test; slack_sdk warns about it.
@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing:UserWarning")
def test_channel_and_content_errors(slack: FakeSlack, manual: ManualClock) -> None:
    too_many = [{"type": "divider"}] * 51
    long_section = [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}]
    long_header = [{"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}]
    button = {"type": "button", "text": {"type": "plain_text", "text": "x" * 76}, "action_id": "a"}
    big_but_valid = [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3000}}] * 20
    cases: list[tuple[dict[str, Any], str]] = [
        ({"channel": "C0NOPE", "text": "x"}, "channel_not_found"),
        ({"channel": "C0STATUS"}, "no_text"),
        ({"channel": "C0STATUS", "blocks": too_many}, "invalid_blocks"),
        ({"channel": "C0STATUS", "blocks": long_section}, "invalid_blocks"),
        ({"channel": "C0STATUS", "blocks": long_header}, "invalid_blocks"),
        (
            {"channel": "C0STATUS", "blocks": [{"type": "actions", "elements": [button]}]},
            "invalid_blocks",
        ),
        ({"channel": "C0STATUS", "blocks": [{"type": "bogus"}]}, "invalid_blocks"),
        ({"channel": "C0STATUS", "blocks": big_but_valid}, "msg_blocks_too_long"),
    ]

    async def scenario() -> None:
        c = client(slack)
        for kwargs, expected in cases:
            error = await error_of(c.chat_postMessage(**kwargs))
            assert (error.response.status_code, error.response["error"]) == (200, expected)
        error = await error_of(c.chat_postMessage(channel="C0STATUS", blocks=long_section))
        assert error.response["errors"] == [
            "must be less than 3001 characters [json-pointer:/blocks/0/text/text]"
        ]
        long = await c.chat_postMessage(channel="C0STATUS", text="y" * 40_500)
        assert len(long["message"]["text"]) == 40_000
        await error_of(c.chat_update(channel="C0STATUS", ts="1.000001", text="x"))
        person = slack.add_user_message("C0STATUS", "hi")
        error = await error_of(c.chat_update(channel="C0STATUS", ts=person, text="x"))
        assert error.response["error"] == "cant_update_message"
        slack.remove_bot("C0INCIDENT")
        error = await error_of(c.chat_postMessage(channel="C0INCIDENT", text="x"))
        assert error.response["error"] == "not_in_channel"
        slack.archive("C0STATUS")
        manual.advance(1)
        error = await error_of(c.chat_postMessage(channel="C0STATUS", text="x"))
        assert error.response["error"] == "is_archived"

    run(scenario())


def test_rate_limits_per_channel_and_workspace(slack: FakeSlack, manual: ManualClock) -> None:
    async def scenario() -> None:
        c = client(slack)
        await c.chat_postMessage(channel="C0INCIDENT", text="1")
        error = await error_of(c.chat_postMessage(channel="C0INCIDENT", text="2"))
        assert error.response.status_code == 429
        assert error.response["error"] == "ratelimited"
        assert error.response.headers["Retry-After"] == "1"
        manual.advance(1)
        await c.chat_postMessage(channel="C0INCIDENT", text="3")

    run(scenario())
    assert [m.text for m in slack.messages("C0INCIDENT")] == ["1", "3"]
    assert slack.too_many_requests == 1

    async def workspace(fake: FakeSlack) -> None:
        c = client(fake)
        for n in range(5):
            await c.chat_postMessage(channel=f"C{n}", text="x")
        assert (
            await error_of(c.chat_postMessage(channel="C5", text="x"))
        ).response.status_code == 429

    with FakeSlack(clock=manual) as fake:
        for n in range(6):
            fake.add_channel(f"C{n}")
        run(workspace(fake))


def test_injected_failures_outage_and_retry_handler(slack: FakeSlack) -> None:
    async def scenario() -> None:
        slack.fail_next(1, status=500)
        error = await error_of(client(slack).auth_test())
        assert (error.response.status_code, error.response["error"]) == (500, "internal_error")
        slack.fail_next(1, status=200, error="missing_scope")
        error = await error_of(client(slack).auth_test())
        assert (error.response.status_code, error.response["error"]) == (200, "missing_scope")
        slack.set_outage(True)
        assert (await error_of(client(slack).auth_test())).response.status_code == 503
        slack.set_outage(False)
        slack.fail_next(1, status=429, retry_after=1, method="chat.postMessage")
        patient = client(slack)
        patient.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=1))
        began = time.monotonic()
        assert (await patient.chat_postMessage(channel="C0STATUS", text="x"))["ok"]
        assert time.monotonic() - began >= 1.0  # the SDK honoured Retry-After

    run(scenario())
    assert [r.status for r in slack.requests] == [500, 200, 503, 429, 200]


def test_views_and_triggers(slack: FakeSlack, manual: ManualClock) -> None:
    modal = {
        "type": "modal",
        "callback_id": "open_incident",
        "title": {"type": "plain_text", "text": "Open incident"},
        "submit": {"type": "plain_text", "text": "Open"},
        "blocks": [
            {
                "type": "input",
                "block_id": "title",
                "label": {"type": "plain_text", "text": "Title"},
                "element": {"type": "plain_text_input", "action_id": "value"},
            }
        ],
        "private_metadata": "C0INCIDENT",
    }

    async def scenario() -> None:
        c = client(slack)
        trigger = slack.trigger_id()
        opened = await c.views_open(trigger_id=trigger, view=modal)
        again = await error_of(c.views_open(trigger_id=trigger, view=modal))
        assert again.response["error"] == "exchanged_trigger_id"
        view = opened["view"]
        assert view["id"].startswith("V")
        assert view["private_metadata"] == "C0INCIDENT"
        updated = await c.views_update(view_id=view["id"], view=modal, hash=view["hash"])
        assert updated["view"]["id"] == view["id"]
        stale = await error_of(c.views_update(view_id=view["id"], view=modal, hash=view["hash"]))
        assert stale.response["error"] == "hash_conflict"
        pushed = await c.views_push(trigger_id="from-an-interaction", view=modal)
        assert pushed["view"]["id"] != view["id"]
        late = slack.trigger_id()
        manual.advance(3.5)
        assert (await error_of(c.views_open(trigger_id=late, view=modal))).response[
            "error"
        ] == "expired_trigger_id"
        long_title = {**modal, "title": {"type": "plain_text", "text": "x" * 25}}
        error = await error_of(c.views_open(trigger_id=slack.trigger_id(), view=long_title))
        assert error.response["error"] == "invalid_arguments"
        assert "json-pointer:/view/title/text" in error.response["response_metadata"]["messages"][0]
        big = {**modal, "private_metadata": "x" * 3001}
        assert (await error_of(c.views_open(trigger_id="t", view=big))).response[
            "error"
        ] == "invalid_arguments"

    run(scenario())
    assert [v["method"] for v in slack.views] == ["views.open", "views.update", "views.push"]


def test_response_urls(slack: FakeSlack, manual: ManualClock) -> None:
    async def scenario() -> None:
        url = slack.response_url()
        hook = AsyncWebhookClient(url)
        answer = await hook.send(text="Incident opened", response_type="in_channel")
        assert answer.status_code == 200
        for _ in range(4):
            await hook.send(text="again")
        assert (await hook.send(text="sixth")).status_code == 404
        late = AsyncWebhookClient(slack.response_url())
        manual.advance(31 * 60)
        assert (await late.send(text="late")).status_code == 404
        assert (
            await AsyncWebhookClient(f"{slack.base_url}/response/nope").send(text="x")
        ).status_code == 404

    run(scenario())
    assert slack.response_urls[0] == {"text": "Incident opened", "response_type": "in_channel"}
    assert len(slack.response_urls) == 5
    assert slack.calls("response_url")[-1].status == 404


def test_file_upload_v2_shares_the_file_with_a_comment(slack: FakeSlack) -> None:
    image = sample_png(8, 5)

    async def scenario() -> dict[str, Any]:
        response = await client(slack).files_upload_v2(
            channel="C0STATUS",
            file=image,
            filename="digest-2025-W05.png",
            title="Weekly digest",
            initial_comment="*Week 5* &lt;!channel&gt;",
        )
        return dict(response.data) if isinstance(response.data, dict) else {}

    answer = run(scenario())
    [shared] = slack.files("C0STATUS")
    assert answer["file"] == {"id": shared.id, "title": "Weekly digest"}
    assert (shared.data, shared.filename, shared.title, shared.initial_comment) == (
        image,
        "digest-2025-W05.png",
        "Weekly digest",
        "*Week 5* &lt;!channel&gt;",
    )
    [message] = slack.messages("C0STATUS")
    assert (message.text, message.files, message.ts) == (
        "*Week 5* &lt;!channel&gt;",
        [shared.id],
        shared.message_ts,
    )
    assert [r.method for r in slack.requests] == [
        "files.getUploadURLExternal",
        "upload",
        "files.completeUploadExternal",
    ]
    assert slack.calls("files.getUploadURLExternal")[0].params["length"] == str(len(image))
    assert slack.calls("upload")[0].params["bytes"] == len(image)
    assert slack.calls("files.completeUploadExternal")[0].params["channel_id"] == "C0STATUS"


def test_file_uploads_slack_refuses(slack: FakeSlack) -> None:
    async def scenario() -> None:
        c = client(slack)
        for channel, expected in (
            ("C0NOPE", "channel_not_found"),
            ("C0INCIDENT", "not_in_channel"),
        ):
            if expected == "not_in_channel":
                slack.remove_bot("C0INCIDENT")
            error = await error_of(c.files_upload_v2(channel=channel, file=b"x", filename="a.png"))
            assert (error.response.status_code, error.response["error"]) == (200, expected)
        error = await error_of(c.files_getUploadURLExternal(filename="", length=3))
        assert error.response["error"] == "invalid_arguments"
        assert error.response["response_metadata"]["messages"] == [
            "[ERROR] missing required field: filename"
        ]
        error = await error_of(c.files_getUploadURLExternal(filename="a.png", length=0))
        assert error.response["error"] == "invalid_arguments"
        # completing a file whose bytes never arrived
        url = await c.files_getUploadURLExternal(filename="a.png", length=3)
        error = await error_of(
            c.files_completeUploadExternal(files=[{"id": url["file_id"]}], channel_id="C0STATUS")
        )
        assert error.response["error"] == "file_not_found"
        error = await error_of(c.files_completeUploadExternal(files=[]))
        assert error.response["error"] == "invalid_arguments"
        slack.fail_next(1, status=429, retry_after=4, method="files.completeUploadExternal")
        error = await error_of(c.files_upload_v2(channel="C0STATUS", file=b"x", filename="a.png"))
        assert (error.response.status_code, error.response.headers["Retry-After"]) == (429, "4")
        slack.fail_next(1, status=500, method="upload")
        with pytest.raises(SlackRequestError, match="status: 500"):
            await c.files_upload_v2(channel="C0STATUS", file=b"x", filename="a.png")

    run(scenario())
    assert slack.files() == []
    assert slack.messages("C0STATUS") == []
    missing = httpx.post(f"{slack.base_url}/upload/v1/nope", content=b"x")
    assert missing.status_code == 404


def test_file_upload_as_multipart_and_private_files(slack: FakeSlack) -> None:
    web = WebClient(token="xoxb-test-token", base_url=slack.api_url)
    url = web.files_getUploadURLExternal(filename="notes.txt", length=5)
    posted = httpx.post(str(url["upload_url"]), files={"filename": ("notes.txt", b"hello")})
    assert (posted.status_code, posted.text) == (200, "OK - 5")
    done = web.files_completeUploadExternal(files=[{"id": url["file_id"], "title": "Notes"}])
    assert done["files"] == [{"id": url["file_id"], "title": "Notes"}]
    [kept] = slack.files()
    assert (kept.data, kept.channel, kept.message_ts) == (b"hello", None, None)
    with pytest.raises(SlackApiError, match="file_not_found"):  # a file completes once
        web.files_completeUploadExternal(files=[{"id": url["file_id"]}])
