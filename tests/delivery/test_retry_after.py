"""Retry-After in seconds or as an HTTP date, never trusted blindly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from bot.delivery.errors import retry_after_seconds


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("30", 30.0),
        ("0", 1.0),
        ("1e9", 3600.0),
        ("nan", 60.0),
        ("inf", 60.0),
        (None, 60.0),
        ("soon", 60.0),
        ("", 60.0),
    ],
)
def test_seconds_are_read_and_kept_in_range(header: str | None, expected: float) -> None:
    assert retry_after_seconds(header) == expected


def test_an_http_date_counts_from_now() -> None:
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)
    assert 110 <= retry_after_seconds(later) <= 120
