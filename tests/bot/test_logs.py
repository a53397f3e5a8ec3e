"""Log lines lose every secret, however it is written, and stay one line per event."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from bot import logs
from bot.logs import REDACTED, Redactor, configure_logging


def test_known_secrets_are_redacted_in_plain_and_url_encoded_form() -> None:
    redactor = Redactor()
    redactor.add("p@ss:w/rd-42", None, "abc")
    line = "url postgresql://u:p%40ss%3Aw%2Frd-42@db/x and p@ss:w/rd-42"
    cleaned = redactor.clean(line)
    assert "p@ss" not in cleaned
    assert "p%40ss" not in cleaned
    assert cleaned.count(REDACTED) == 2
    assert redactor.clean("abc is too short to be a secret") == "abc is too short to be a secret"


@pytest.mark.parametrize(
    "line",
    [
        "POST https://api.telegram.org/bot123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/sendMessage",
        "token xoxb-1234-5678-abcdefghijkl used",
        "app token xapp-1-A0123-456-abcdef0123 used",
        "connecting to postgresql://herald:hunter2@db:5432/herald",
        "connecting to postgresql://herald@db/h?sslmode=require&password=hunter2",
    ],
)
def test_credential_shaped_strings_are_redacted_unknown(line: str) -> None:
    cleaned = Redactor().clean(line)
    assert REDACTED in cleaned
    for secret in ("AAHdqTcv", "abcdefghijkl", "abcdef0123", "hunter2"):
        assert secret not in cleaned


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    configure_logging("INFO", ["s3cret-token-value"])
    stream = io.StringIO()
    for handler in root.handlers:
        assert isinstance(handler, logging.StreamHandler)
        handler.setStream(stream)
    yield stream
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)
    logging.captureWarnings(False)


def test_tracebacks_are_redacted_too(captured: io.StringIO) -> None:
    try:
        raise RuntimeError("failed calling https://x/bots3cret-token-value/getMe")
    except RuntimeError:
        logging.getLogger("herald").exception("boom")
    assert "s3cret-token-value" not in captured.getvalue()
    assert "RuntimeError" in captured.getvalue()


def test_url_logging_libraries_are_quiet_at_info(captured: io.StringIO) -> None:
    logging.getLogger("httpx").info("HTTP Request: POST https://example/bot1/sendMessage")
    assert captured.getvalue() == ""
    assert logs.CHATTY


def test_a_proxy_page_from_telegram_is_one_warning_line(captured: io.StringIO) -> None:
    try:
        raise ValueError("Expecting value")
    except ValueError:
        logging.getLogger("telegram.request.BaseRequest").exception(
            'Can not load invalid JSON data: "%s"', "<html>502 Bad Gateway</html>"
        )
    lines = captured.getvalue().splitlines()
    assert len(lines) == 1
    assert "INFO" in lines[0]
    assert "<html>" not in lines[0]


def test_a_webhook_is_logged_without_the_path_that_holds_its_credential() -> None:
    from bot.delivery.jobs import Destination
    from storage.models import Platform

    hook = Destination(
        3, Platform.WEBHOOK, "https://user:pw@hooks.example/services/T0/B0/XyZsecret?token=k", "it"
    )
    assert hook.label == "#3 webhook https://hooks.example/…"
    chat = Destination(4, Platform.TELEGRAM, "-1001", "it")
    assert chat.label == "#4 telegram -1001"


def test_a_proxy_page_is_silent_where_only_warnings_show(captured: io.StringIO) -> None:
    # Chat verbs log warnings only: `channels test` answers the failure in its own one line.
    logging.getLogger().setLevel(logging.WARNING)
    try:
        raise ValueError("Expecting value")
    except ValueError:
        logging.getLogger("telegram.request.BaseRequest").exception(
            'Can not load invalid JSON data: "%s"', "<html>502 Bad Gateway</html>"
        )
    assert captured.getvalue() == ""
