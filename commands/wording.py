"""Turn an update into the post customers read, per locale, as text and as structured facts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from babel.dates import format_datetime

from commands import phrases
from storage.models import Incident, IncidentKind, IncidentStatus, Update, UpdateKind

LOCALES = ("it", "en")
_STAMP = {"it": "dd/MM/y 'ore' HH:mm", "en": "d MMM y, HH:mm"}
_DAY = {"it": "dd/MM/y", "en": "d MMM y"}


def pick_locale(locale: str | None) -> str:
    """A supported locale: the one asked for when Herald speaks it, else Italian."""
    base = (locale or "it").split("-")[0].split("_")[0].lower()
    return base if base in LOCALES else "it"


def stamp(moment: datetime, *, locale: str, zone: ZoneInfo) -> str:
    """`28/01/2025 ore 14:50` in Italian, `28 Jan 2025, 14:50 CET` in English."""
    text = format_datetime(moment, _STAMP[locale], tzinfo=zone, locale=locale)
    if locale == "en":
        text += f" {moment.astimezone(zone).tzname()}"
    return text


def _day(moment: datetime, locale: str, zone: ZoneInfo) -> str:
    return format_datetime(moment, _DAY[locale], tzinfo=zone, locale=locale)


def _clock(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%H:%M")


def window_text(start: datetime, end: datetime, *, locale: str, zone: ZoneInfo) -> str:
    """A maintenance window in words: one day with two times, or two days."""
    start_zone = start.astimezone(zone).tzname() or ""
    end_zone = end.astimezone(zone).tzname() or ""
    fields = {
        "day": _day(start, locale, zone),
        "start": _clock(start, zone),
        "end_day": _day(end, locale, zone),
        "end": _clock(end, zone),
        "zone": end_zone,
    }
    if start_zone != end_zone:
        # A window across a DST change names each end's offset; otherwise the autumn
        # change reads "dalle ore 02:30 alle ore 02:15".
        fields["start"] += f" {start_zone}"
        if locale == "it":
            fields["end"] += f" {end_zone}"
    same_day = start.astimezone(zone).date() == end.astimezone(zone).date()
    template = phrases.WINDOW_SAME_DAY if same_day else phrases.WINDOW_DAYS
    return template[locale].format(**fields)


def headline_title(title: str, locale: str) -> str:
    """The title as it reads after a label: `Apertura: problemi …` keeps acronyms whole."""
    first = title.split(maxsplit=1)[0] if title.strip() else ""
    # Only an ordinary capitalised word is lowered: VoIP, DNS, Office365 stay whole.
    if (
        locale == "it"
        and len(first) > 1
        and first.isalpha()
        and first[0].isupper()
        and first[1:].islower()
    ):
        return title[0].lower() + title[1:]
    return title


def display_title(incident: Incident, *, locale: str) -> str:
    """The title, marked `(risolto)` / `(resolved)` once resolved; maintenance `(conclusa)`."""
    if incident.status == IncidentStatus.RESOLVED:
        return f"{incident.title} {phrases.RESOLVED_SUFFIX[locale]}"
    if incident.status == IncidentStatus.COMPLETED:
        return f"{incident.title} {phrases.COMPLETED_SUFFIX[locale]}"
    if incident.status == IncidentStatus.CANCELLED:
        return f"{incident.title} {phrases.CANCELLED_SUFFIX[locale]}"
    return incident.title


def status_label(status: IncidentStatus, *, locale: str) -> str:
    """The status in customers' words."""
    return phrases.STATUSES[locale][IncidentStatus(status)]


def impact_label(severity: int | None, *, locale: str) -> str | None:
    """The public impact of a severity, or None for maintenance."""
    return None if severity is None else phrases.IMPACTS[locale][severity]


@dataclass(frozen=True)
class PublicPost:
    """What customers read about one update, ready for any channel to format."""

    locale: str
    incident_id: int
    update_number: int
    kind: UpdateKind
    label: str
    title: str
    headline: str
    stamp: str
    at: datetime
    body: str
    status: str
    impact: str | None
    window: str | None
    components: tuple[str, ...]
    edited: bool

    def as_text(self) -> str:
        """The post as plain text, laid out like the sample: headline, stamp, body."""
        stamp_line = f"{self.stamp} {phrases.EDITED[self.locale]}" if self.edited else self.stamp
        return f"{self.headline}\n{stamp_line}\n{self.body}"


# Updates whose body is a sentence around the (current) window, in the middle of it.
WINDOW_SENTENCES = {
    UpdateKind.MAINTENANCE_REMINDER: phrases.REMINDER_TEXT,
    UpdateKind.MAINTENANCE_RESCHEDULED: phrases.RESCHEDULED_TEXT,
}


def _body(
    incident: Incident,
    update: Update,
    *,
    locale: str,
    zone: ZoneInfo,
    started_at: datetime | None,
) -> str:
    kind = UpdateKind(update.kind)
    text = update.text.strip()
    # The window as this update announced it; updates saved before windows were kept
    # per update fall back to the incident's.
    start = update.window_start or incident.window_start
    end = update.window_end or incident.window_end
    if kind == UpdateKind.MAINTENANCE_SCHEDULED and start and end:
        window = window_text(start, end, locale=locale, zone=zone)
        lead = phrases.SCHEDULED_TEXT[locale].format(window=window)
        return f"{lead}\n{text}" if text else lead
    if kind in WINDOW_SENTENCES and start and end:
        window = window_text(start, end, locale=locale, zone=zone)
        lead = WINDOW_SENTENCES[kind][locale].format(window=window[0].lower() + window[1:])
        return f"{lead}\n{text}" if text else lead
    if kind == UpdateKind.MAINTENANCE_EXTENDED and end:
        lead = phrases.EXTENDED_TEXT[locale].format(
            end_day=_day(end, locale, zone),
            end=_clock(end, zone),
            zone=end.astimezone(zone).tzname() or "",
        )
        return f"{lead}\n{text}" if text else lead
    if text:
        return text
    if kind == UpdateKind.MAINTENANCE_COMPLETED and start:
        return phrases.COMPLETED_TEXT[locale].format(
            day=_day(start, locale, zone),
            start=_clock(started_at or start, zone),
            end=_clock(update.at, zone),
            zone=update.at.astimezone(zone).tzname() or "",
        )
    if kind == UpdateKind.MAINTENANCE_CANCELLED and start:
        return phrases.CANCELLED_TEXT[locale].format(day=_day(start, locale, zone))
    return phrases.DEFAULT_TEXT[locale].get(kind, "")


def render_update(
    incident: Incident,
    update: Update,
    *,
    locale: str,
    zone: ZoneInfo,
    components: Sequence[str] = (),
    started_at: datetime | None = None,
) -> PublicPost:
    """The public post for one update in one locale."""
    locale = pick_locale(locale)
    assert incident.id is not None
    kind = UpdateKind(update.kind)
    label = phrases.LABELS[locale][kind]
    window = None
    if incident.kind == IncidentKind.MAINTENANCE and incident.window_start and incident.window_end:
        window = window_text(incident.window_start, incident.window_end, locale=locale, zone=zone)
    return PublicPost(
        locale=locale,
        incident_id=incident.id,
        update_number=update.number,
        kind=kind,
        label=label,
        title=incident.title,
        headline=f"{label}: {headline_title(incident.title, locale)}",
        stamp=stamp(update.at, locale=locale, zone=zone),
        at=update.at,
        body=_body(incident, update, locale=locale, zone=zone, started_at=started_at),
        status=status_label(update.status, locale=locale),
        impact=impact_label(update.severity, locale=locale),
        window=window,
        components=tuple(components),
        edited=update.revision > 0,
    )
