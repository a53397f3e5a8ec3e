"""Tests for commands.dates: moments, starting points and periods typed by people."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from commands.dates import parse_period, parse_since, parse_when
from commands.errors import UsageError

ROME = ZoneInfo("Europe/Rome")
NOW = datetime(2025, 1, 28, 13, 50, tzinfo=UTC)  # 14:50 in Rome (CET, +01:00)


def when(text: str, now: datetime = NOW) -> datetime:
    """parse_when in Rome at NOW."""
    return parse_when(text, zone=ROME, now=now)


def utc(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    """A moment in UTC."""
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def refusal(call: Callable[..., object], text: str, now: datetime = NOW) -> str:
    """The one-line message of the UsageError that call(text) raises."""
    with pytest.raises(UsageError) as caught:
        call(text, zone=ROME, now=now)
    message = caught.value.message
    assert "\n" not in str(caught.value)
    assert len(message.splitlines()) == 1
    return message


# --- parse_when: day-first dates ----------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("22/05/2021 10:00", utc(2021, 5, 22, 8, 0)),  # CEST, +02:00
        ("22/05/2021 10.00", utc(2021, 5, 22, 8, 0)),
        ("22.05.2021 10:00", utc(2021, 5, 22, 8, 0)),
        ("22/05/21 10:00", utc(2021, 5, 22, 8, 0)),
        ("  22/05/2021   10:00 ", utc(2021, 5, 22, 8, 0)),
        ("28/01/2025 ore 14:50", utc(2025, 1, 28, 13, 50)),  # CET, +01:00
        ("28/01/2025 ore 14.50", utc(2025, 1, 28, 13, 50)),
        ("1/2/2025 9:05", utc(2025, 2, 1, 8, 5)),
        ("22/05/2021", utc(2021, 5, 21, 22, 0)),  # local midnight
        ("31/12/2024 23:59", utc(2024, 12, 31, 22, 59)),
    ],
)
def test_parse_when_day_first(text: str, expected: datetime) -> None:
    result = when(text)
    assert result == expected
    assert result.tzinfo is UTC


@pytest.mark.parametrize(
    "text", ["31/02/2025 10:00", "00/01/2025", "22/13/2025 10:00", "22/05/2021 10:60"]
)
def test_parse_when_refuses_impossible_dates(text: str) -> None:
    message = refusal(parse_when, text)
    assert "not a real date" in message
    assert "22/05/2021 10:00" in message


@pytest.mark.parametrize("text", ["22/05/2021 24:00", "22/05/2021 25:00"])
def test_parse_when_refuses_impossible_hours_after_a_date(text: str) -> None:
    assert "not a real date" in refusal(parse_when, text)


# --- parse_when: ISO 8601 -----------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2021-05-22T10:00+02:00", utc(2021, 5, 22, 8, 0)),
        ("2021-05-22T10:00:00+00:00", utc(2021, 5, 22, 10, 0)),
        ("2021-05-22T10:00-05:00", utc(2021, 5, 22, 15, 0)),
        ("2025-01-28T10:00Z", utc(2025, 1, 28, 10, 0)),
        ("2021-05-22T10:00", utc(2021, 5, 22, 8, 0)),  # no offset: local, CEST
        ("2025-01-28T10:00", utc(2025, 1, 28, 9, 0)),  # no offset: local, CET
        ("2025-01-28 10:00", utc(2025, 1, 28, 9, 0)),
        ("2025-01-28", utc(2025, 1, 27, 23, 0)),
    ],
)
def test_parse_when_iso(text: str, expected: datetime) -> None:
    result = when(text)
    assert result == expected
    assert result.tzinfo is UTC


# --- parse_when: time of day and now -------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("14:50", utc(2025, 1, 28, 13, 50)),
        ("9.30", utc(2025, 1, 28, 8, 30)),
        ("00:00", utc(2025, 1, 27, 23, 0)),
        ("23:59", utc(2025, 1, 28, 22, 59)),
    ],
)
def test_parse_when_time_only_is_today_in_the_zone(text: str, expected: datetime) -> None:
    assert when(text) == expected


def test_time_only_uses_the_local_date_not_the_utc_date() -> None:
    late = datetime(2025, 1, 28, 23, 30, tzinfo=UTC)  # already 29/01 00:30 in Rome
    assert when("08:00", now=late) == utc(2025, 1, 29, 7, 0)


@pytest.mark.parametrize("text", ["24:00", "25:61", "12:75"])
def test_parse_when_refuses_impossible_times(text: str) -> None:
    assert "not a time of day" in refusal(parse_when, text)


@pytest.mark.parametrize("text", ["now", "NOW", " now ", "adesso", "ora"])
def test_parse_when_now(text: str) -> None:
    assert when(text) == NOW


@pytest.mark.parametrize(
    "text", ["", "tomorrow", "ieri", "2025/01/28", "10am", "28-01-2025 10:00", "12"]
)
def test_parse_when_refuses_what_it_cannot_read(text: str) -> None:
    message = refusal(parse_when, text)
    assert "22/05/2021 10:00" in message
    assert "14:50" in message


# --- parse_when: daylight saving time -------------------------------------------


@pytest.mark.parametrize(
    ("text", "now"),
    [
        ("30/03/2025 02:30", NOW),
        ("30/03/2025 ore 02:00", NOW),
        ("2025-03-30T02:30", NOW),
        ("02:30", datetime(2025, 3, 30, 10, 0, tzinfo=UTC)),
    ],
)
def test_nonexistent_local_time_is_refused(text: str, now: datetime) -> None:
    message = refusal(parse_when, text, now)
    assert "does not exist" in message
    assert "Europe/Rome" in message
    assert "an hour later" in message


def test_nonexistent_local_time_with_explicit_offset_is_accepted() -> None:
    assert when("2025-03-30T02:30+01:00") == utc(2025, 3, 30, 1, 30)


@pytest.mark.parametrize(
    ("text", "zone", "suggested"),
    [
        ("30/03/2025 02:30", ROME, "2025-03-30T02:30+01:00"),
        ("30/03/2025 ore 02:00", ROME, "2025-03-30T02:00+01:00"),
        ("2025-03-30T02:59", ROME, "2025-03-30T02:59+01:00"),
        ("09/03/2025 02:30", ZoneInfo("America/New_York"), "2025-03-09T02:30-05:00"),
    ],
)
def test_nonexistent_local_time_hint_suggests_what_is_accepted(
    text: str, zone: ZoneInfo, suggested: str
) -> None:
    with pytest.raises(UsageError) as caught:
        parse_when(text, zone=zone, now=NOW)
    hint = re.findall(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}[+-]\d{2}:\d{2}", caught.value.message)
    assert hint == [suggested]
    assert parse_when(hint[0], zone=zone, now=NOW) == datetime.fromisoformat(suggested)


@pytest.mark.parametrize(
    ("text", "expected", "offset_hours"),
    [
        ("30/03/2025 01:59", utc(2025, 3, 30, 0, 59), 1),  # last minute of CET
        ("30/03/2025 03:00", utc(2025, 3, 30, 1, 0), 2),  # first hour of CEST
        ("29/03/2025 12:00", utc(2025, 3, 29, 11, 0), 1),
        ("30/03/2025 12:00", utc(2025, 3, 30, 10, 0), 2),
        ("25/10/2025 12:00", utc(2025, 10, 25, 10, 0), 2),
        ("26/10/2025 12:00", utc(2025, 10, 26, 11, 0), 1),
    ],
)
def test_either_side_of_a_dst_change_gets_the_right_offset(
    text: str, expected: datetime, offset_hours: int
) -> None:
    result = when(text)
    assert result == expected
    assert result.astimezone(ROME).utcoffset() == timedelta(hours=offset_hours)


@pytest.mark.parametrize(
    ("text", "now"),
    [
        ("26/10/2025 02:30", NOW),
        ("26/10/2025 ore 02:00", NOW),
        ("26.10.25 2.59", NOW),
        ("2025-10-26T02:30", NOW),
        ("2025-10-26 02:30", NOW),
        ("02:30", utc(2025, 10, 26, 10, 0)),
    ],
)
def test_ambiguous_autumn_time_is_refused_with_both_offsets(text: str, now: datetime) -> None:
    # 02:00-02:59 happens twice on 26/10/2025: first in CEST (+02:00), then in CET (+01:00).
    message = refusal(parse_when, text, now)
    assert "happens twice in Europe/Rome" in message
    assert "+02:00" in message
    assert "+01:00" in message


def test_ambiguous_autumn_time_hint_names_the_time_typed() -> None:
    message = refusal(parse_when, "26/10/2025 02:30")
    assert "2025-10-26T02:30+02:00" in message
    assert "2025-10-26T02:30+01:00" in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-10-26T02:30+02:00", utc(2025, 10, 26, 0, 30)),
        ("2025-10-26T02:30+01:00", utc(2025, 10, 26, 1, 30)),
        ("2025-10-26 02:30+01:00", utc(2025, 10, 26, 1, 30)),
        ("2025-10-26T01:30Z", utc(2025, 10, 26, 1, 30)),
    ],
)
def test_ambiguous_autumn_time_with_explicit_offset_is_accepted(
    text: str, expected: datetime
) -> None:
    assert when(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("26/10/2025 01:59", utc(2025, 10, 25, 23, 59)),  # last minute before the repeat
        ("26/10/2025 03:00", utc(2025, 10, 26, 2, 0)),  # first minute after it
    ],
)
def test_times_around_the_autumn_repeat_are_read_once(text: str, expected: datetime) -> None:
    assert when(text) == expected


# --- parse_since ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "back"),
    [
        ("7d", timedelta(days=7)),
        ("24h", timedelta(hours=24)),
        ("2w", timedelta(weeks=2)),
        ("30m", timedelta(minutes=30)),
        ("90min", timedelta(minutes=90)),
        ("7D", timedelta(days=7)),
        (" 7d ", timedelta(days=7)),
        ("7 d", timedelta(days=7)),
        ("0d", timedelta(0)),
    ],
)
def test_parse_since_durations(text: str, back: timedelta) -> None:
    assert parse_since(text, zone=ROME, now=NOW) == NOW - back


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-01-21", utc(2025, 1, 20, 23, 0)),
        ("21/01/2025 10:00", utc(2025, 1, 21, 9, 0)),
        ("2025-01-21T10:00Z", utc(2025, 1, 21, 10, 0)),
        ("10:00", utc(2025, 1, 28, 9, 0)),
    ],
)
def test_parse_since_dates(text: str, expected: datetime) -> None:
    assert parse_since(text, zone=ROME, now=NOW) == expected


@pytest.mark.parametrize("text", ["7y", "yesterday", "-7d", "7", "d", "99999d", "7days"])
def test_parse_since_refuses_other_words(text: str) -> None:
    message = refusal(parse_since, text)
    assert "neither a duration nor a date" in message
    assert "7d, 24h, 2w" in message


def test_parse_since_passes_on_dst_gap_as_a_usage_error() -> None:
    assert "7d" in refusal(parse_since, "30/03/2025 02:30")


# --- parse_period ---------------------------------------------------------------


@pytest.mark.parametrize("text", ["today", "oggi", "TODAY", " today "])
def test_parse_period_today_starts_at_local_midnight(text: str) -> None:
    period = parse_period(text, zone=ROME, now=NOW)
    assert period.name == "today"
    assert period.start == utc(2025, 1, 27, 23, 0)
    assert period.end == NOW


def test_parse_period_today_uses_the_local_date() -> None:
    late = datetime(2025, 1, 28, 23, 30, tzinfo=UTC)  # 29/01 in Rome
    assert parse_period("today", zone=ROME, now=late).start == utc(2025, 1, 28, 23, 0)


@pytest.mark.parametrize(
    ("text", "days", "name"),
    [
        ("week", 7, "the last 7 days"),
        ("settimana", 7, "the last 7 days"),
        ("Week", 7, "the last 7 days"),
        ("month", 30, "the last 30 days"),
        ("mese", 30, "the last 30 days"),
    ],
)
def test_parse_period_rolling(text: str, days: int, name: str) -> None:
    period = parse_period(text, zone=ROME, now=NOW)
    assert (period.name, period.start, period.end) == (name, NOW - timedelta(days=days), NOW)


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("2024-12", utc(2024, 11, 30, 23, 0), utc(2024, 12, 31, 23, 0)),
        ("2024-11", utc(2024, 10, 31, 23, 0), utc(2024, 11, 30, 23, 0)),
        ("2024-03", utc(2024, 2, 29, 23, 0), utc(2024, 3, 31, 22, 0)),  # ends in CEST
        ("2024-10", utc(2024, 9, 30, 22, 0), utc(2024, 10, 31, 23, 0)),  # starts in CEST
        ("2025-01", utc(2024, 12, 31, 23, 0), NOW),  # the current month ends now
        ("2025-02", utc(2025, 1, 31, 23, 0), utc(2025, 2, 28, 23, 0)),  # future month
    ],
)
def test_parse_period_month(text: str, start: datetime, end: datetime) -> None:
    period = parse_period(text, zone=ROME, now=NOW)
    assert (period.name, period.start, period.end) == (text, start, end)


@pytest.mark.parametrize(("text", "month"), [("2025-13", 13), ("2025-00", 0), ("2025-99", 99)])
def test_parse_period_refuses_a_month_that_does_not_exist(text: str, month: int) -> None:
    message = refusal(parse_period, text)
    assert f"no month {month}" in message
    assert "2025-01" in message


@pytest.mark.parametrize("text", ["yesterday", "2025-1", "2025", "01-2025", "", "year"])
def test_parse_period_refuses_other_words(text: str) -> None:
    message = refusal(parse_period, text)
    assert "not a period" in message
    assert "today, week, month" in message


# --- bugs -----------------------------------------------------------------------


@pytest.mark.parametrize("text", ["0000-01", "9999-12"])
def test_parse_period_out_of_range_year_is_a_usage_error(text: str) -> None:
    with pytest.raises(UsageError):
        parse_period(text, zone=ROME, now=NOW)


def test_parse_period_year_one_is_a_usage_error() -> None:
    with pytest.raises(UsageError):
        parse_period("0001-01", zone=ROME, now=NOW)


@pytest.mark.parametrize("text", ["0001-01-01", "0001-01-01T00:10", "9999-12-31T23:59-01:00"])
def test_parse_when_out_of_range_moment_is_a_usage_error(text: str) -> None:
    with pytest.raises(UsageError):
        when(text)
