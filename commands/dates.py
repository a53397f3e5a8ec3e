"""Read the dates, times, durations and periods people type, in the configured time zone."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from commands.errors import UsageError

DATE_HELP = 'a date like "22/05/2021 10:00", "2021-05-22T10:00+02:00" or "14:50"'

_DAY_FIRST = re.compile(
    r"(?P<d>\d{1,2})[/.](?P<m>\d{1,2})[/.](?P<y>\d{2}|\d{4})"
    r"(?:(?:\s+ore)?\s+(?P<H>\d{1,2})[:.](?P<M>\d{2}))?",
    re.ASCII | re.IGNORECASE,
)
_TIME_ONLY = re.compile(r"(?P<H>\d{1,2})[:.](?P<M>\d{2})", re.ASCII)
_DURATION = re.compile(r"(?P<n>\d{1,4})\s*(?P<unit>m|min|h|d|w)", re.ASCII)
_TOO_LONG = re.compile(r"\d{5,}\s*(?:m|min|h|d|w)", re.ASCII)
_MONTH = re.compile(r"(?P<y>\d{4})-(?P<m>\d{2})", re.ASCII)
YEARS = (1970, 2999)
_UNITS = {"m": "minutes", "min": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def _localize(naive: datetime, zone: ZoneInfo, typed: str) -> datetime:
    """Attach the zone, refusing wall-clock times that a DST change skips or repeats."""
    first, second = naive.replace(tzinfo=zone, fold=0), naive.replace(tzinfo=zone, fold=1)
    if first.utcoffset() == second.utcoffset():
        return first.astimezone(UTC)
    # fold tells the two readings apart in a gap as well as in a repeat; only a gap's
    # readings fail to come back to the time typed.
    if first.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != naive:
        raise UsageError(
            f"{typed!r} does not exist in {zone.key} (the clocks jump forward then): "
            f"give a time an hour later, or write it with an offset, like "
            f"{first.isoformat(timespec='minutes')}."
        )
    raise UsageError(
        f"{typed!r} happens twice in {zone.key} (the clocks go back then): "
        f"give the offset you mean, {first.isoformat(timespec='minutes')} for the first "
        f"or {second.isoformat(timespec='minutes')} for the second."
    )


def parse_when(text: str, *, zone: ZoneInfo, now: datetime) -> datetime:
    """A moment typed by a person, in UTC; local times are read in `zone`."""
    typed = " ".join(text.split())
    try:
        moment = _read_moment(typed, zone=zone, now=now)
    except (OverflowError, ValueError):
        moment = None
    if moment is None or not YEARS[0] <= moment.year <= YEARS[1]:
        raise UsageError(
            f"{typed!r} is outside the years Herald handles ({YEARS[0]}–{YEARS[1]}); "
            f"use {DATE_HELP}."
        )
    return moment


def _read_moment(typed: str, *, zone: ZoneInfo, now: datetime) -> datetime:
    if typed.lower() in ("now", "adesso", "ora"):
        return now
    if match := _DAY_FIRST.fullmatch(typed):
        year = int(match["y"])
        year += 2000 if len(match["y"]) == 2 else 0
        try:
            naive = datetime(
                year, int(match["m"]), int(match["d"]), int(match["H"] or 0), int(match["M"] or 0)
            )
        except ValueError as error:
            raise UsageError(f"{typed!r} is not a real date ({error}); use {DATE_HELP}.") from None
        return _localize(naive, zone, typed)
    if match := _TIME_ONLY.fullmatch(typed):
        try:
            clock = time(int(match["H"]), int(match["M"]))
        except ValueError:
            raise UsageError(f"{typed!r} is not a time of day; use {DATE_HELP}.") from None
        today = now.astimezone(zone).date()
        return _localize(datetime.combine(today, clock), zone, typed)
    try:
        parsed = datetime.fromisoformat(typed.replace(" ", "T", 1) if " " in typed else typed)
    except ValueError:
        raise UsageError(f"{typed!r} is not a date Herald reads; use {DATE_HELP}.") from None
    if parsed.tzinfo is None:
        return _localize(parsed, zone, typed)
    return parsed.astimezone(UTC)


DURATION_HELP = "a duration such as 30m, 2h or 1d"
LONGEST_REMINDER = timedelta(days=90)


def read_duration(text: str) -> timedelta | None:
    """A length of time typed as `30m`, `2h`, `1d` or `1w` (`0` is none), or None."""
    typed = text.strip().lower()
    if typed == "0":
        return timedelta(0)
    if match := _DURATION.fullmatch(typed):
        return timedelta(**{_UNITS[match["unit"]]: int(match["n"])})
    return None


def parse_duration(text: str) -> timedelta:
    """A length of time typed as `30m`, `2h`, `1d` or `1w`; `0` is none at all."""
    duration = read_duration(text)
    if duration is not None:
        return duration
    if _TOO_LONG.fullmatch(text.strip().lower()):
        raise UsageError(f"{text!r} is too long; use at most 9999 of a unit, such as 2h or 1d.")
    raise UsageError(f"{text!r} is not a duration; use {DURATION_HELP}, or 0 for none.")


def parse_since(text: str, *, zone: ZoneInfo, now: datetime) -> datetime:
    """A starting point: a duration back from now (`7d`, `24h`, `2w`) or a date."""
    if _DURATION.fullmatch(text.strip().lower()):
        return now - parse_duration(text)
    try:
        return parse_when(text, zone=zone, now=now)
    except UsageError:
        raise UsageError(
            f"{text!r} is neither a duration nor a date; use 7d, 24h, 2w or {DATE_HELP}."
        ) from None


@dataclass(frozen=True)
class Period:
    """A span of time for summaries, with the words that name it."""

    name: str
    start: datetime
    end: datetime


PERIOD_HELP = "today, week, month or a month like 2025-01"


def parse_period(text: str, *, zone: ZoneInfo, now: datetime) -> Period:
    """`today` (since local midnight), `week` / `month` (last 7 / 30 days) or `YYYY-MM`."""
    word = text.strip().lower()
    if word in ("today", "oggi"):
        midnight = datetime.combine(now.astimezone(zone).date(), time(), tzinfo=zone)
        return Period("today", midnight.astimezone(UTC), now)
    if word in ("week", "settimana"):
        return Period("the last 7 days", now - timedelta(days=7), now)
    if word in ("month", "mese"):
        return Period("the last 30 days", now - timedelta(days=30), now)
    if match := _MONTH.fullmatch(word):
        year, month = int(match["y"]), int(match["m"])
        if not YEARS[0] <= year <= YEARS[1]:
            raise UsageError(f"{text!r} is outside the years Herald handles; use {PERIOD_HELP}.")
        if not 1 <= month <= 12:
            raise UsageError(f"{text!r} has no month {month}; use {PERIOD_HELP}.")
        first = date(year, month, 1)
        following = date(year + month // 12, month % 12 + 1, 1)
        start = datetime.combine(first, time(), tzinfo=zone).astimezone(UTC)
        end = datetime.combine(following, time(), tzinfo=zone).astimezone(UTC)
        return Period(first.strftime("%Y-%m"), start, min(end, now) if start < now else end)
    raise UsageError(f"{text!r} is not a period; use {PERIOD_HELP}.")


def known_zone(name: str) -> bool:
    """Whether `name` is an IANA time zone this machine knows."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True
