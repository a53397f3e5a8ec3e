"""Public posts read like the sample in Italian, and plainly in English, in the configured zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from commands.wording import (
    PublicPost,
    display_title,
    headline_title,
    pick_locale,
    render_update,
    stamp,
    window_text,
)
from storage.models import Incident, IncidentKind, IncidentStatus, Update, UpdateKind

ROME = ZoneInfo("Europe/Rome")
# 28/01/2025 ore 14:50 in Rome (CET, UTC+1): the sample's opening of the DNS failure.
OPENED_AT = datetime(2025, 1, 28, 13, 50, tzinfo=UTC)
# The sample's maintenance window, 22/05/2021 10:00-12:00 in Rome (CEST, UTC+2).
WINDOW_START = datetime(2021, 5, 22, 8, 0, tzinfo=UTC)
WINDOW_END = datetime(2021, 5, 22, 10, 0, tzinfo=UTC)

MAINTENANCE_KINDS = {
    UpdateKind.MAINTENANCE_SCHEDULED,
    UpdateKind.MAINTENANCE_STARTED,
    UpdateKind.MAINTENANCE_COMPLETED,
    UpdateKind.MAINTENANCE_CANCELLED,
    UpdateKind.MAINTENANCE_EXTENDED,
    UpdateKind.MAINTENANCE_RESCHEDULED,
    UpdateKind.MAINTENANCE_REMINDER,
}

LABELS = {
    "it": {
        UpdateKind.OPENED: "Apertura",
        UpdateKind.UPDATE: "Aggiornamento",
        UpdateKind.RESOLVED: "Chiusura",
        UpdateKind.REOPENED: "Riapertura",
        UpdateKind.NOTE: "Nota interna",
        UpdateKind.MAINTENANCE_SCHEDULED: "Manutenzione programmata",
        UpdateKind.MAINTENANCE_STARTED: "Inizio manutenzione",
        UpdateKind.MAINTENANCE_COMPLETED: "Chiusura",
        UpdateKind.MAINTENANCE_CANCELLED: "Manutenzione annullata",
        UpdateKind.MAINTENANCE_EXTENDED: "Manutenzione prolungata",
        UpdateKind.MAINTENANCE_RESCHEDULED: "Manutenzione riprogrammata",
        UpdateKind.MAINTENANCE_REMINDER: "Promemoria",
        UpdateKind.NUDGE: "Sollecito",
    },
    "en": {
        UpdateKind.OPENED: "Opened",
        UpdateKind.UPDATE: "Update",
        UpdateKind.RESOLVED: "Resolved",
        UpdateKind.REOPENED: "Reopened",
        UpdateKind.NOTE: "Internal note",
        UpdateKind.MAINTENANCE_SCHEDULED: "Scheduled maintenance",
        UpdateKind.MAINTENANCE_STARTED: "Maintenance started",
        UpdateKind.MAINTENANCE_COMPLETED: "Maintenance completed",
        UpdateKind.MAINTENANCE_CANCELLED: "Maintenance cancelled",
        UpdateKind.MAINTENANCE_EXTENDED: "Maintenance extended",
        UpdateKind.MAINTENANCE_RESCHEDULED: "Maintenance rescheduled",
        UpdateKind.MAINTENANCE_REMINDER: "Reminder",
        UpdateKind.NUDGE: "Nudge",
    },
}

# What customers read when the engineer typed nothing, at OPENED_AT on the sample's window.
DEFAULT_BODIES = {
    "it": {
        UpdateKind.OPENED: "Stiamo verificando un problema. I tecnici sono già all’opera e "
        "seguiranno aggiornamenti.",
        UpdateKind.RESOLVED: "Tutti i sistemi sono tornati pienamente operativi.",
        UpdateKind.REOPENED: "Il problema si è ripresentato e i tecnici sono di nuovo all’opera.",
        UpdateKind.MAINTENANCE_SCHEDULED: "In data 22/05/2021 dalle ore 10:00 alle ore 12:00 "
        "verranno effettuate operazioni di manutenzione programmata.",
        UpdateKind.MAINTENANCE_STARTED: "La manutenzione programmata è iniziata.",
        UpdateKind.MAINTENANCE_CANCELLED: "La manutenzione prevista in data 22/05/2021 è stata "
        "annullata.",
        UpdateKind.MAINTENANCE_EXTENDED: "La manutenzione si protrarrà fino al 22/05/2021 ore "
        "12:00.",
        UpdateKind.MAINTENANCE_REMINDER: "Ricordiamo che in data 22/05/2021 dalle ore 10:00 alle "
        "ore 12:00 verranno effettuate operazioni di manutenzione programmata.",
        UpdateKind.MAINTENANCE_RESCHEDULED: "La manutenzione è stata spostata: in data 22/05/2021 "
        "dalle ore 10:00 alle ore 12:00 verranno effettuate le operazioni previste.",
    },
    "en": {
        UpdateKind.OPENED: "We are investigating an issue. Engineers are already on it and more "
        "updates will follow.",
        UpdateKind.RESOLVED: "All systems are fully operational again.",
        UpdateKind.REOPENED: "The problem has come back and engineers are working on it again.",
        UpdateKind.MAINTENANCE_SCHEDULED: "On 22 May 2021 from 10:00 to 12:00 CEST we will "
        "carry out scheduled maintenance.",
        UpdateKind.MAINTENANCE_STARTED: "The scheduled maintenance has started.",
        UpdateKind.MAINTENANCE_CANCELLED: "The maintenance planned for 22 May 2021 has been "
        "cancelled.",
        UpdateKind.MAINTENANCE_EXTENDED: "The maintenance will last until 22 May 2021, 12:00 CEST.",
        UpdateKind.MAINTENANCE_REMINDER: "A reminder: on 22 May 2021 from 10:00 to 12:00 CEST we "
        "will carry out scheduled maintenance.",
        UpdateKind.MAINTENANCE_RESCHEDULED: "The maintenance has been moved: on 22 May 2021 from "
        "10:00 to 12:00 CEST we will carry out the planned work.",
    },
}


def make_incident(**overrides: Any) -> Incident:
    """An open SEV2 incident titled like the sample, opened at OPENED_AT."""
    fields: dict[str, Any] = {
        "id": 1,
        "kind": IncidentKind.INCIDENT,
        "title": "Problemi nella gestione dell’invio email",
        "severity": 2,
        "status": IncidentStatus.INVESTIGATING,
        "opened_by": "alice",
        "opened_at": OPENED_AT,
        "changed_at": OPENED_AT,
    }
    fields.update(overrides)
    return Incident(**fields)


def make_maintenance(**overrides: Any) -> Incident:
    """The sample's mail server maintenance on 22/05/2021 from 10:00 to 12:00."""
    fields: dict[str, Any] = {
        "id": 7,
        "kind": IncidentKind.MAINTENANCE,
        "title": "Aggiornamento server di posta",
        "severity": None,
        "status": IncidentStatus.SCHEDULED,
        "window_start": WINDOW_START,
        "window_end": WINDOW_END,
    }
    fields.update(overrides)
    return make_incident(**fields)


def make_update(kind: UpdateKind, text: str = "", **overrides: Any) -> Update:
    """Update #1 of incident 1, posted from the CLI at OPENED_AT."""
    fields: dict[str, Any] = {
        "incident_id": 1,
        "number": 1,
        "kind": kind,
        "status": IncidentStatus.INVESTIGATING,
        "severity": 2,
        "text": text,
        "author": "alice",
        "front_end": "cli",
        "at": OPENED_AT,
    }
    fields.update(overrides)
    return Update(**fields)


def render(kind: UpdateKind, text: str = "", *, locale: str = "it", **overrides: Any) -> PublicPost:
    """Render one update of the right kind of incident (maintenance kinds on a maintenance)."""
    if kind in MAINTENANCE_KINDS:
        incident = make_maintenance()
        update = make_update(kind, text, incident_id=7, severity=None, **overrides)
    else:
        incident = make_incident()
        update = make_update(kind, text, **overrides)
    return render_update(incident, update, locale=locale, zone=ROME)


# --- every kind, both locales ------------------------------------------------------------


@pytest.mark.parametrize("locale", ["it", "en"])
@pytest.mark.parametrize("kind", list(UpdateKind))
def test_every_kind_renders_with_its_label_in_both_locales(kind: UpdateKind, locale: str) -> None:
    post = render(kind, "Il nodo è stato escluso dal cluster", locale=locale)
    label = LABELS[locale][kind]
    assert post.kind == kind
    assert post.locale == locale
    assert post.label == label
    assert post.headline.startswith(f"{label}: ")
    assert post.stamp == {"it": "28/01/2025 ore 14:50", "en": "28 Jan 2025, 14:50 CET"}[locale]
    assert post.body.endswith("Il nodo è stato escluso dal cluster")
    assert post.as_text().startswith(f"{post.headline}\n{post.stamp}\n")


@pytest.mark.parametrize("locale", ["it", "en"])
@pytest.mark.parametrize("kind", list(UpdateKind))
def test_engineers_text_is_the_body_verbatim_after_any_window_sentence(
    kind: UpdateKind, locale: str
) -> None:
    text = "Il nodo è stato escluso dal cluster\nsono ora in atto tutte le verifiche necessarie"
    post = render(kind, f"  {text}\n", locale=locale)
    if kind in (
        UpdateKind.MAINTENANCE_SCHEDULED,
        UpdateKind.MAINTENANCE_EXTENDED,
        UpdateKind.MAINTENANCE_REMINDER,
        UpdateKind.MAINTENANCE_RESCHEDULED,
    ):
        lead, rest = post.body.split("\n", 1)
        assert lead
        assert rest == text
    else:
        assert post.body == text


@pytest.mark.parametrize(
    ("kind", "headline"),
    [
        (UpdateKind.OPENED, "Apertura: problemi nella gestione dell’invio email"),
        (UpdateKind.UPDATE, "Aggiornamento: problemi nella gestione dell’invio email"),
        (UpdateKind.RESOLVED, "Chiusura: problemi nella gestione dell’invio email"),
        (UpdateKind.REOPENED, "Riapertura: problemi nella gestione dell’invio email"),
    ],
)
def test_italian_headlines_are_the_samples(kind: UpdateKind, headline: str) -> None:
    assert render(kind, "testo").headline == headline


@pytest.mark.parametrize(
    ("kind", "headline"),
    [
        (UpdateKind.OPENED, "Opened: Problemi nella gestione dell’invio email"),
        (UpdateKind.UPDATE, "Update: Problemi nella gestione dell’invio email"),
        (UpdateKind.RESOLVED, "Resolved: Problemi nella gestione dell’invio email"),
    ],
)
def test_english_headlines_keep_the_title_as_typed(kind: UpdateKind, headline: str) -> None:
    assert render(kind, "text", locale="en").headline == headline


def test_maintenance_closing_reads_chiusura_like_the_sample() -> None:
    post = render(UpdateKind.MAINTENANCE_COMPLETED, "Ci scusiamo per il disagio arrecato")
    assert post.headline == "Chiusura: aggiornamento server di posta"
    assert post.body == "Ci scusiamo per il disagio arrecato"


# --- the title after a label ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Problemi nella gestione dell’invio email", "problemi nella gestione dell’invio email"),
        ("Guasto sistema risoluzione interno", "guasto sistema risoluzione interno"),
        ("DNS non risponde", "DNS non risponde"),
        ("AV cluster degradato", "AV cluster degradato"),
        ("già in corso", "già in corso"),
        ("X", "X"),
    ],
)
def test_italian_title_loses_its_capital_only_when_it_is_an_ordinary_word(
    title: str, expected: str
) -> None:
    assert headline_title(title, "it") == expected
    assert render_update(
        make_incident(title=title), make_update(UpdateKind.OPENED), locale="it", zone=ROME
    ).headline == (f"Apertura: {expected}")


@pytest.mark.parametrize("title", ["VoIP non funzionante", "IoT gateway irraggiungibile"])
def test_italian_title_keeps_mixed_case_words_whole(title: str) -> None:
    assert headline_title(title, "it") == title


def test_english_title_is_never_lowered() -> None:
    assert headline_title("Mail delivery issues", "en") == "Mail delivery issues"


# --- stamps and the time zone --------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "italian", "english"),
    [
        (OPENED_AT, "28/01/2025 ore 14:50", "28 Jan 2025, 14:50 CET"),
        (
            datetime(2023, 10, 12, 8, 53, tzinfo=UTC),
            "12/10/2023 ore 10:53",
            "12 Oct 2023, 10:53 CEST",
        ),
        (datetime(2021, 5, 3, 22, 5, tzinfo=UTC), "04/05/2021 ore 00:05", "4 May 2021, 00:05 CEST"),
        # The spring change: 02:00 CET becomes 03:00 CEST.
        (
            datetime(2025, 3, 30, 0, 30, tzinfo=UTC),
            "30/03/2025 ore 01:30",
            "30 Mar 2025, 01:30 CET",
        ),
        (
            datetime(2025, 3, 30, 1, 30, tzinfo=UTC),
            "30/03/2025 ore 03:30",
            "30 Mar 2025, 03:30 CEST",
        ),
        # The autumn change: 02:30 happens twice, first in summer time, then in winter time.
        (
            datetime(2025, 10, 26, 0, 30, tzinfo=UTC),
            "26/10/2025 ore 02:30",
            "26 Oct 2025, 02:30 CEST",
        ),
        (
            datetime(2025, 10, 26, 1, 30, tzinfo=UTC),
            "26/10/2025 ore 02:30",
            "26 Oct 2025, 02:30 CET",
        ),
    ],
)
def test_stamps_are_local_time_in_rome_across_daylight_saving(
    moment: datetime, italian: str, english: str
) -> None:
    assert stamp(moment, locale="it", zone=ROME) == italian
    assert stamp(moment, locale="en", zone=ROME) == english


@pytest.mark.parametrize(
    ("moment", "zone_name", "offset_hours"),
    [
        (datetime(2025, 3, 30, 0, 30, tzinfo=UTC), "CET", 1),
        (datetime(2025, 3, 30, 1, 30, tzinfo=UTC), "CEST", 2),
    ],
)
def test_posts_across_the_spring_change_carry_the_right_zone(
    moment: datetime, zone_name: str, offset_hours: int
) -> None:
    post = render(UpdateKind.UPDATE, "testo", locale="en", at=moment)
    assert post.stamp.endswith(f" {zone_name}")
    assert post.at == moment
    assert post.at.astimezone(ROME).utcoffset() == timedelta(hours=offset_hours)


def test_stamp_follows_the_zone_it_is_given() -> None:
    utc = ZoneInfo("UTC")
    assert stamp(OPENED_AT, locale="it", zone=utc) == "28/01/2025 ore 13:50"
    assert stamp(OPENED_AT, locale="en", zone=utc) == "28 Jan 2025, 13:50 UTC"


def test_two_moments_an_hour_apart_in_the_repeated_hour_differ_in_english() -> None:
    first = stamp(datetime(2025, 10, 26, 0, 30, tzinfo=UTC), locale="en", zone=ROME)
    second = stamp(datetime(2025, 10, 26, 1, 30, tzinfo=UTC), locale="en", zone=ROME)
    assert first != second


# --- display titles ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "italian", "english"),
    [
        (IncidentStatus.INVESTIGATING, "Problemi di consegna posta", "Problemi di consegna posta"),
        (IncidentStatus.IDENTIFIED, "Problemi di consegna posta", "Problemi di consegna posta"),
        (IncidentStatus.MONITORING, "Problemi di consegna posta", "Problemi di consegna posta"),
        (
            IncidentStatus.RESOLVED,
            "Problemi di consegna posta (risolto)",
            "Problemi di consegna posta (resolved)",
        ),
    ],
)
def test_incident_display_title_is_marked_once_resolved(
    status: IncidentStatus, italian: str, english: str
) -> None:
    incident = make_incident(title="Problemi di consegna posta", status=status)
    assert display_title(incident, locale="it") == italian
    assert display_title(incident, locale="en") == english


@pytest.mark.parametrize(
    ("status", "italian", "english"),
    [
        (
            IncidentStatus.SCHEDULED,
            "Aggiornamento server di posta",
            "Aggiornamento server di posta",
        ),
        (
            IncidentStatus.IN_PROGRESS,
            "Aggiornamento server di posta",
            "Aggiornamento server di posta",
        ),
        (
            IncidentStatus.COMPLETED,
            "Aggiornamento server di posta (conclusa)",
            "Aggiornamento server di posta (completed)",
        ),
        (
            IncidentStatus.CANCELLED,
            "Aggiornamento server di posta (annullata)",
            "Aggiornamento server di posta (cancelled)",
        ),
    ],
)
def test_maintenance_display_title_is_marked_when_completed_or_cancelled(
    status: IncidentStatus, italian: str, english: str
) -> None:
    maintenance = make_maintenance(status=status)
    assert display_title(maintenance, locale="it") == italian
    assert display_title(maintenance, locale="en") == english


# --- maintenance windows -------------------------------------------------------------------


def test_same_day_window_in_both_locales() -> None:
    assert (
        window_text(WINDOW_START, WINDOW_END, locale="it", zone=ROME)
        == "In data 22/05/2021 dalle ore 10:00 alle ore 12:00"
    )
    assert (
        window_text(WINDOW_START, WINDOW_END, locale="en", zone=ROME)
        == "On 22 May 2021 from 10:00 to 12:00 CEST"
    )


def test_window_spanning_two_days_names_both_days() -> None:
    start = datetime(2021, 5, 22, 20, 0, tzinfo=UTC)  # 22:00 CEST
    end = datetime(2021, 5, 23, 0, 30, tzinfo=UTC)  # 02:30 CEST the next day
    assert (
        window_text(start, end, locale="it", zone=ROME)
        == "Dal 22/05/2021 ore 22:00 al 23/05/2021 ore 02:30"
    )
    assert (
        window_text(start, end, locale="en", zone=ROME)
        == "From 22 May 2021, 22:00 to 23 May 2021, 02:30 CEST"
    )


def test_one_local_day_is_one_day_even_when_utc_spans_two() -> None:
    start = datetime(2021, 5, 21, 22, 30, tzinfo=UTC)  # 22/05 00:30 CEST
    end = datetime(2021, 5, 22, 1, 0, tzinfo=UTC)  # 22/05 03:00 CEST
    assert (
        window_text(start, end, locale="it", zone=ROME)
        == "In data 22/05/2021 dalle ore 00:30 alle ore 03:00"
    )


def test_winter_window_is_in_cet() -> None:
    start = datetime(2025, 1, 28, 21, 0, tzinfo=UTC)
    end = datetime(2025, 1, 28, 22, 0, tzinfo=UTC)
    assert (
        window_text(start, end, locale="en", zone=ROME) == "On 28 Jan 2025 from 22:00 to 23:00 CET"
    )


def test_english_window_across_the_spring_change_labels_the_start_in_cet() -> None:
    start = datetime(2025, 3, 30, 0, 0, tzinfo=UTC)  # 01:00 CET
    end = datetime(2025, 3, 30, 2, 0, tzinfo=UTC)  # 04:00 CEST
    text = window_text(start, end, locale="en", zone=ROME)
    assert "01:00 CET" in text
    assert "04:00 CEST" in text


def test_a_window_across_the_autumn_change_names_both_offsets_in_italian() -> None:
    start = datetime(2027, 10, 31, 0, 30, tzinfo=UTC)  # 02:30 CEST
    end = datetime(2027, 10, 31, 1, 15, tzinfo=UTC)  # 02:15 CET, 45 minutes later
    text = window_text(start, end, locale="it", zone=ROME)
    assert text == "In data 31/10/2027 dalle ore 02:30 CEST alle ore 02:15 CET"
    assert window_text(start, end, locale="en", zone=ROME).endswith("02:30 CEST to 02:15 CET")


def test_maintenance_posts_carry_their_window_and_incidents_none() -> None:
    assert render(UpdateKind.MAINTENANCE_STARTED).window == (
        "In data 22/05/2021 dalle ore 10:00 alle ore 12:00"
    )
    assert render(UpdateKind.MAINTENANCE_STARTED, locale="en").window == (
        "On 22 May 2021 from 10:00 to 12:00 CEST"
    )
    assert render(UpdateKind.OPENED).window is None


def test_scheduled_announcement_leads_with_the_window_then_the_engineers_text() -> None:
    post = render(
        UpdateKind.MAINTENANCE_SCHEDULED,
        "Tali operazioni si rendono necessarie per due importanti fattori.",
        at=datetime(2021, 5, 14, 7, 0, tzinfo=UTC),
    )
    assert post.headline == "Manutenzione programmata: aggiornamento server di posta"
    assert post.stamp == "14/05/2021 ore 09:00"
    assert post.body == (
        "In data 22/05/2021 dalle ore 10:00 alle ore 12:00 verranno effettuate operazioni di "
        "manutenzione programmata.\n"
        "Tali operazioni si rendono necessarie per due importanti fattori."
    )


def test_extension_names_the_new_end() -> None:
    maintenance = make_maintenance(
        status=IncidentStatus.IN_PROGRESS, window_end=datetime(2021, 5, 22, 11, 30, tzinfo=UTC)
    )
    update = make_update(UpdateKind.MAINTENANCE_EXTENDED, incident_id=7, severity=None)
    assert (
        render_update(maintenance, update, locale="it", zone=ROME).body
        == "La manutenzione si protrarrà fino al 22/05/2021 ore 13:30."
    )
    assert (
        render_update(maintenance, update, locale="en", zone=ROME).body
        == "The maintenance will last until 22 May 2021, 13:30 CEST."
    )


# --- default texts -------------------------------------------------------------------------


@pytest.mark.parametrize("locale", ["it", "en"])
@pytest.mark.parametrize(
    "kind",
    [
        UpdateKind.OPENED,
        UpdateKind.RESOLVED,
        UpdateKind.REOPENED,
        UpdateKind.MAINTENANCE_SCHEDULED,
        UpdateKind.MAINTENANCE_STARTED,
        UpdateKind.MAINTENANCE_CANCELLED,
        UpdateKind.MAINTENANCE_EXTENDED,
    ],
)
def test_default_text_when_the_engineer_gave_none(kind: UpdateKind, locale: str) -> None:
    assert render(kind, "   ", locale=locale).body == DEFAULT_BODIES[locale][kind]


def test_resolve_without_text_reads_like_the_sample() -> None:
    post = render(UpdateKind.RESOLVED, status=IncidentStatus.RESOLVED)
    assert post.as_text() == (
        "Chiusura: problemi nella gestione dell’invio email\n"
        "28/01/2025 ore 14:50\n"
        "Tutti i sistemi sono tornati pienamente operativi."
    )


def test_completed_maintenance_without_text_says_when_it_started_and_ended() -> None:
    maintenance = make_maintenance(status=IncidentStatus.COMPLETED)
    update = make_update(
        UpdateKind.MAINTENANCE_COMPLETED,
        incident_id=7,
        severity=None,
        at=datetime(2021, 5, 22, 8, 45, tzinfo=UTC),
    )
    late_start = datetime(2021, 5, 22, 8, 5, tzinfo=UTC)
    italian = render_update(maintenance, update, locale="it", zone=ROME, started_at=late_start)
    english = render_update(maintenance, update, locale="en", zone=ROME, started_at=late_start)
    assert italian.body == (
        "L’attività prevista in data 22/05/2021 è iniziata alle 10:05 ed è terminata alle 10:45."
    )
    assert english.body == (
        "The maintenance planned for 22 May 2021 started at 10:05 and was completed at 10:45 CEST."
    )
    # Without the actual start, the window's start stands in for it.
    assert render_update(maintenance, update, locale="it", zone=ROME).body == (
        "L’attività prevista in data 22/05/2021 è iniziata alle 10:00 ed è terminata alle 10:45."
    )


# --- the post as text ----------------------------------------------------------------------


def test_as_text_is_headline_stamp_and_body_like_the_sample() -> None:
    body = (
        "Un problema sul sistema DB che gestisce la posta sta creando alcune difficoltà per "
        "l’invio di mail\nI tecnici sono già all’opera per identificare il problema e "
        "risolverlo nel più breve tempo possibile"
    )
    post = render(UpdateKind.OPENED, body)
    assert post.as_text() == (
        "Apertura: problemi nella gestione dell’invio email\n28/01/2025 ore 14:50\n" + body
    )
    assert not post.edited


@pytest.mark.parametrize(
    ("locale", "stamp_line"),
    [("it", "28/01/2025 ore 14:50 (corretto)"), ("en", "28 Jan 2025, 14:50 CET (corrected)")],
)
def test_a_corrected_update_says_so_after_its_stamp(locale: str, stamp_line: str) -> None:
    post = render(UpdateKind.UPDATE, "Testo corretto", locale=locale, revision=1)
    assert post.edited
    assert post.stamp == stamp_line.rsplit(" ", 1)[0]
    assert post.as_text().splitlines() == [post.headline, stamp_line, "Testo corretto"]


def test_an_uncorrected_update_has_a_plain_stamp_line() -> None:
    lines = render(UpdateKind.UPDATE, "Testo", revision=0).as_text().splitlines()
    assert lines[1] == "28/01/2025 ore 14:50"


# --- the facts beside the text -------------------------------------------------------------


def test_post_carries_status_impact_components_and_ids() -> None:
    post = render_update(
        make_incident(id=4, status=IncidentStatus.IDENTIFIED),
        make_update(
            UpdateKind.UPDATE, "testo", incident_id=4, number=2, status=IncidentStatus.IDENTIFIED
        ),
        locale="it",
        zone=ROME,
        components=["Posta", "Web"],
    )
    assert (post.incident_id, post.update_number) == (4, 2)
    assert post.title == "Problemi nella gestione dell’invio email"
    assert post.status == "Problema identificato"
    assert post.impact == "Disservizio grave"
    assert post.components == ("Posta", "Web")


def test_maintenance_has_no_impact() -> None:
    post = render(UpdateKind.MAINTENANCE_STARTED, status=IncidentStatus.IN_PROGRESS)
    assert post.impact is None
    assert post.status == "In corso"
    assert render(UpdateKind.MAINTENANCE_STARTED, locale="en").impact is None


@pytest.mark.parametrize(
    ("asked", "spoken"),
    [("it", "it"), ("en", "en"), ("en-GB", "en"), ("EN_us", "en"), ("fr", "it"), ("", "it")],
)
def test_unknown_locales_fall_back_to_italian(asked: str, spoken: str) -> None:
    assert pick_locale(asked) == spoken
    assert render(UpdateKind.OPENED, "testo", locale=asked).locale == spoken
