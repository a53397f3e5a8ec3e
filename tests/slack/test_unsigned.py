"""Nothing from a request whose signature was not verified is used: no answer, no call out."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest
from starlette.types import Message

from tests.slack.helpers import WAR_ROOM, SlackWorld, sign

FORGED = [
    ("abc", "v0=00"),
    ("", ""),
    (str(int(time.time())), "v0=è" + "0" * 63),
    ("１２３４５", "v0=" + "0" * 64),
    ("9" * 40, "v0=" + "0" * 64),
    (str(int(time.time())), "v1=" + "0" * 64),
]


def _body(world: SlackWorld, url: str) -> bytes:
    fields = world.command_body("open Posta lenta")
    fields["response_url"] = url
    return urlencode(fields).encode()


def _post_raw(world: SlackWorld, body: bytes, timestamp: str, signature: str) -> int:
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": signature,
    }
    encoded = {k.encode(): v.encode() for k, v in headers.items()}  # non-ASCII header bytes as sent
    response = world.http.post("/slack/events", content=body, headers=encoded)
    return response.status_code


@pytest.mark.parametrize(("timestamp", "signature"), FORGED)
def test_a_malformed_signature_gets_401_and_no_call_out(
    world: SlackWorld, timestamp: str, signature: str
) -> None:
    forged_url = world.slack.response_url()
    assert _post_raw(world, _body(world, forged_url), timestamp, signature) == 401
    _, url = world.command("list")  # answered after anything the forged one could have started
    world.answer_text(url)
    assert [c.params.get("url_id") for c in world.slack.calls("response_url")] == [
        url.rsplit("/", 1)[-1]
    ]
    assert world.slack.calls("chat.postEphemeral") == []
    assert world.incidents() == []


def test_a_forged_interaction_names_nobody_to_answer(world: SlackWorld) -> None:
    payload = {
        "type": "block_actions",
        "user": {"id": "U0VICTIM"},
        "channel": {"id": WAR_ROOM},
        "actions": [{"action_id": "incident_update", "value": "1"}],
    }
    body = urlencode({"payload": json.dumps(payload)}).encode()
    assert _post_raw(world, body, "abc", "v0=00") == 401
    _, url = world.command("list")
    world.answer_text(url)
    assert world.slack.calls("chat.postEphemeral") == []
    assert world.slack.calls("views.open") == []


def test_a_refused_request_leaves_no_body_in_the_log(
    world: SlackWorld, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    marker = "FORGED-BODY-MARKER"
    body = urlencode({"text": marker, "user_id": "U0VICTIM"}).encode()
    assert _post_raw(world, body, str(int(time.time())), "v0=" + "0" * 64) == 401
    assert marker not in caplog.text
    assert "U0VICTIM" not in caplog.text


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"{not json", "application/json"),
        (b"[1,2,3]", "application/json"),
        (b"null", "application/json"),
        (b"payload=%7Bnot+json", "application/x-www-form-urlencoded"),
        (b"payload=%5B%5D", "application/x-www-form-urlencoded"),
        (b"payload=null", "application/x-www-form-urlencoded"),
        (b"\xff\xfe command=/incident", "application/x-www-form-urlencoded"),
        # Shapes bolt reads before any listener runs.
        (b'{"type":"event_callback","event":"x"}', "application/json"),
        (b'{"type":"block_actions","actions":"x"}', "application/json"),
        (b'payload={"type":"block_actions","actions":[1]}', "application/x-www-form-urlencoded"),
        (b'payload={"type":"view_submission","view":"x"}', "application/x-www-form-urlencoded"),
    ],
)
def test_a_signed_body_nobody_can_read_gets_400(
    world: SlackWorld, body: bytes, content_type: str
) -> None:
    response = world.post(body, content_type=content_type)
    assert response.status_code == 400
    assert world.incidents() == []


def test_a_body_over_a_mebibyte_gets_413_before_it_is_read(world: SlackWorld) -> None:
    body = b"text=" + b"x" * (1024 * 1024)
    stamp = int(time.time())
    response = world.http.post(
        "/slack/events",
        content=body,
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": str(stamp),
            "X-Slack-Signature": sign(body, stamp),
        },
    )
    assert response.status_code == 413


def test_a_signed_streamed_body_over_the_limit_gets_413(world: SlackWorld) -> None:
    chunk = b"x" * 65536
    stamp = int(time.time())

    def chunks() -> Iterator[bytes]:
        for _ in range(20):
            yield chunk

    response = world.http.post(
        "/slack/events",
        content=chunks(),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": str(stamp),
            "X-Slack-Signature": sign(chunk * 20, stamp),
        },
    )
    assert response.status_code == 413


def _asgi_post(
    world: SlackWorld, headers: list[tuple[bytes, bytes]], messages: list[Message]
) -> int:
    """POST straight to the ASGI app; `receive` hands out `messages`, then waits for ever."""
    waiting = list(messages)
    statuses: list[int] = []

    async def receive() -> Message:
        if waiting:
            return waiting.pop(0)
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/slack/events",
        "raw_path": b"/slack/events",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), *headers],
        "client": ("127.0.0.1", 1234),
        "server": ("testserver", 80),
    }
    app = world.http.app

    async def call() -> None:
        await asyncio.wait_for(app(scope, receive, send), 5)

    assert world.http.portal is not None
    world.http.portal.call(call)
    return statuses[0]


def test_an_unsigned_request_is_refused_before_its_body_is_read(world: SlackWorld) -> None:
    # The body never comes: only an answer that does not wait for it returns at all.
    headers = [(b"content-length", b"1048000"), (b"content-type", b"text/plain")]
    assert _asgi_post(world, headers, []) == 401


def test_a_client_that_goes_away_mid_body_logs_no_error(
    world: SlackWorld, caplog: pytest.LogCaptureFixture
) -> None:
    stamp = str(int(time.time())).encode()
    headers = [
        (b"content-length", b"100"),
        (b"x-slack-request-timestamp", stamp),
        (b"x-slack-signature", sign(b"x" * 100, int(stamp)).encode()),
    ]
    partial: Message = {"type": "http.request", "body": b"abc", "more_body": True}
    assert _asgi_post(world, headers, [partial, {"type": "http.disconnect"}]) == 400
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
