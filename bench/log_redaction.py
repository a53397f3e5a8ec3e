"""What redacting secrets costs per log line: Herald's formatter beside logging's own.

    python -m bench.log_redaction [--lines 100000]

Formats the same records, shaped like the lines Herald logs (a delivery failure, a
Telegram request URL at DEBUG, a traceback, a 4 KB line), with a plain
logging.Formatter and with bot.logs.RedactingFormatter knowing eight secrets, and
prints microseconds per line for each and the difference.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Callable

from bot.logs import REDACTOR as SHARED
from bot.logs import RedactingFormatter

FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
SECRETS = (
    "987654321:AAHsecretTelegramToken0123456789abcdef",
    "xoxb-111-222-secretSlackBotToken",
    "xapp-1-A111-222-secretSlackAppToken",
    "secret-signing-8f3a9c1e",
    "secret-tg-webhook-77aa",
    "secret-metrics-token-42x",
    "whsec-secret-receiver-5150",
    "secret-db-password-9q",
)


def _traceback_record() -> logging.LogRecord:
    try:
        raise ConnectionError("connection reset by peer")
    except ConnectionError:
        return logging.LogRecord(
            "bot.delivery.worker",
            logging.ERROR,
            __file__,
            1,
            "unexpected failure",
            (),
            sys.exc_info(),
        )


def records() -> dict[str, logging.LogRecord]:
    """One record of each shape Herald logs."""

    def record(name: str, level: int, msg: str, *args: object) -> logging.LogRecord:
        return logging.LogRecord(name, level, __file__, 1, msg, args, None)

    url = "https://api.telegram.org/bot987654321:AAHsecretTelegramToken0123456789abcdef/sendMessage"
    return {
        "delivery failure": record(
            "bot.delivery.worker",
            logging.WARNING,
            "delivery %s to %s: %s",
            42,
            "#3 telegram -1001234567890",
            "failed, next try 14:50:00: NetworkError: Bad Gateway",
        ),
        "request URL (DEBUG)": record("httpx", logging.DEBUG, 'HTTP Request: POST %s "200"', url),
        "traceback": _traceback_record(),
        "4 KB line": record("bot.slack.caller", logging.INFO, "answer: %s", "Posta lenta. " * 315),
    }


def per_line(
    format_line: Callable[[logging.LogRecord], str], record: logging.LogRecord, lines: int
) -> float:
    """Microseconds to format one line, best of three runs."""
    best = float("inf")
    for _ in range(3):
        record.exc_text = None  # a traceback is formatted anew each time, as for a new record
        started = time.perf_counter()
        for _ in range(lines):
            record.exc_text = None
            format_line(record)
        best = min(best, time.perf_counter() - started)
    return best / lines * 1e6


def main(argv: list[str] | None = None) -> int:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=100_000)
    args = parser.parse_args(argv)
    SHARED.add(*SECRETS)
    plain = logging.Formatter(FORMAT)
    redacting = RedactingFormatter(FORMAT)
    print(f"{'line':<22} {'plain µs':>9} {'redacted µs':>12} {'extra µs':>9}")
    for name, record in records().items():
        lines = args.lines if name != "traceback" else max(args.lines // 10, 1)
        before = per_line(plain.format, record, lines)
        after = per_line(redacting.format, record, lines)
        print(f"{name:<22} {before:>9.1f} {after:>12.1f} {after - before:>9.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
