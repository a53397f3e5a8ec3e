"""Herald's log output: one line per event on stderr, with every known secret redacted."""

from __future__ import annotations

import logging
import re
import sys
import threading
import types
from collections.abc import Iterable
from urllib.parse import quote

REDACTED = "[redacted]"
# Shapes of credentials that may reach a log without Herald knowing their value: Telegram
# bot tokens (in every Bot API URL), Slack tokens of any kind, passwords inside URLs.
_SHAPES = (
    re.compile(r"(?<![0-9])[0-9]{5,}:[A-Za-z0-9_-]{30,}"),
    re.compile(r"\bx(?:ox[abposre]|app)-[A-Za-z0-9-]{8,}"),
    re.compile(r"(?<=://)([^/@\s:]+):[^/@\s]+(?=@)"),
    re.compile(r"(?<=[?&])((?:ssl)?password)=[^&\s#'\"]+", re.IGNORECASE),
)
# Below this length a "secret" would redact ordinary words out of every line.
SHORTEST_SECRET = 6
# Libraries that log whole URLs (Telegram's carry the bot token) or request bodies at INFO.
CHATTY = ("httpx", "httpcore", "aiohttp.access", "aiohttp.client", "hpack", "telegram.ext")


class Redactor:
    """The secrets Herald knows of; a log line loses every one of them, however encoded."""

    def __init__(self) -> None:
        self._known: set[str] = set()
        # Longest first, so a secret containing another is replaced whole; kept sorted
        # here, once per new secret, not on every log line.
        self._forms: tuple[str, ...] = ()
        self._lock = threading.Lock()

    def add(self, *secrets: str | None) -> None:
        """Know these secrets (and their URL-encoded forms) from now on."""
        new = [s for s in secrets if s and len(s) >= SHORTEST_SECRET and s not in self._known]
        if not new:  # the webhook sender tells it the same secrets on every post
            return
        with self._lock:
            self._known.update(new)
            forms = set(self._forms)
            for secret in new:
                forms.update({secret, quote(secret, safe=""), quote(secret)})
            self._forms = tuple(sorted(forms, key=len, reverse=True))

    def clean(self, text: str) -> str:
        """The text with every known secret, and every credential-shaped string, redacted."""
        for secret in self._forms:
            if secret in text:
                text = text.replace(secret, REDACTED)
        # Each pattern runs only where a cheap substring test says it may match: a regex
        # scan of a long line costs tens of microseconds, the test one.
        if _digits_before_a_colon(text):
            text = _SHAPES[0].sub(REDACTED, text)
        if "xox" in text or "xapp-" in text:
            text = _SHAPES[1].sub(REDACTED, text)
        if "://" in text and "@" in text:
            text = _SHAPES[2].sub(lambda m: f"{m[1]}:{REDACTED}", text)
        if "assword=" in text or "ASSWORD=" in text:
            text = _SHAPES[3].sub(lambda m: f"{m[1]}={REDACTED}", text)
        return text


def _digits_before_a_colon(text: str) -> bool:
    colon = text.find(":", 5)
    while colon != -1:
        if text[colon - 5 : colon].isdigit():
            return True
        colon = text.find(":", colon + 1)
    return False


REDACTOR = Redactor()


def _one_line_for_proxy_pages(record: logging.LogRecord) -> bool:
    """python-telegram-bot logs a traceback, page and all, for every answer that is not JSON
    (a proxy's 502 page during an outage); the error it raises is reported anyway (the
    worker's failure line, `channels test`'s refusal), so this is one INFO line at most."""
    if not record.getMessage().startswith("Can not load invalid JSON data"):
        return True
    record.msg, record.args, record.exc_info, record.exc_text = (
        "Telegram answered with a page that is not JSON (a proxy or outage page)",
        (),
        None,
        None,
    )
    record.levelno, record.levelname = logging.INFO, "INFO"
    # The logger checked the level before this filter lowered it.
    return logging.getLogger(record.name).isEnabledFor(logging.INFO)


class RedactingFormatter(logging.Formatter):
    """Formats a record, traceback included, then redacts it."""

    def format(self, record: logging.LogRecord) -> str:
        """The whole line, with secrets redacted."""
        return REDACTOR.clean(super().format(record))


def _log_uncaught(
    kind: type[BaseException], error: BaseException, trace: types.TracebackType | None
) -> None:
    logging.getLogger("herald").critical("uncaught error", exc_info=(kind, error, trace))


def _log_uncaught_in_thread(args: threading.ExceptHookArgs) -> None:
    if args.exc_value is not None:
        logging.getLogger("herald").error(
            "uncaught error in thread %s",
            args.thread.name if args.thread else "?",
            exc_info=(args.exc_type, args.exc_value, args.exc_traceback),
        )


def configure_logging(level: str, secrets: Iterable[str | None], *, quiet: bool = False) -> None:
    """One line per event on stderr, secrets redacted; chat verbs log only warnings."""
    REDACTOR.add(*secrets)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    effective = logging.WARNING if quiet else logging.getLevelName(level.upper())
    root.setLevel(effective)
    # URLs and bodies are wanted only when debugging, and then still redacted.
    for name in CHATTY:
        logging.getLogger(name).setLevel(
            logging.DEBUG if effective == logging.DEBUG else logging.WARNING
        )
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    ptb_requests = logging.getLogger("telegram.request.BaseRequest")
    if _one_line_for_proxy_pages not in ptb_requests.filters:
        ptb_requests.addFilter(_one_line_for_proxy_pages)
    logging.captureWarnings(True)
    sys.excepthook = _log_uncaught
    threading.excepthook = _log_uncaught_in_thread
