"""The sample's incidents and maintenance reach the page and every feed, in Italian and English."""

from __future__ import annotations

from datetime import UTC, datetime

import feedparser  # type: ignore[import-untyped]
import icalendar
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from bot.demo import load_demo
from tests.factories import FakeClock, make_context
from tests.status.helpers import status_client

INCIDENTS = {
    "it": [
        "Guasto sistema risoluzione interno (risolto)",
        "Problemi nella gestione dell’invio email (risolto)",
        "Problemi di consegna posta (risolto)",
    ],
    "en": [
        "Guasto sistema risoluzione interno (resolved)",
        "Problemi nella gestione dell’invio email (resolved)",
        "Problemi di consegna posta (resolved)",
    ],
}
MAINTENANCE = {
    "it": [
        "Crittografia delle mail in ingresso (conclusa)",
        "Aggiornamento server di posta (conclusa)",
    ],
    "en": [
        "Crittografia delle mail in ingresso (completed)",
        "Aggiornamento server di posta (completed)",
    ],
}


@pytest.mark.parametrize("lang", ["it", "en"])
def test_demo_on_the_page_and_in_every_feed(
    lang: str, engine: sa.Engine, sessions: sessionmaker[Session]
) -> None:
    clock = FakeClock(datetime(2025, 2, 3, 9, 0, tzinfo=UTC))
    load_demo(make_context(sessions, clock))
    client = status_client(engine, clock)
    everything = INCIDENTS[lang] + MAINTENANCE[lang]
    page = client.get(f"/?lang={lang}").text
    for title in everything:
        assert title in page
    for path in ("/feed.atom", "/feed.rss"):
        feed = feedparser.parse(client.get(f"{path}?lang={lang}").content)
        assert not feed.bozo
        assert [e.title for e in feed.entries] == everything
    items = client.get(f"/feed.json?lang={lang}").json()["items"]
    assert [i["title"] for i in items] == everything
    calendar = icalendar.Calendar.from_ical(client.get(f"/maintenance.ics?lang={lang}").content)
    assert [str(e["summary"]) for e in calendar.walk("VEVENT")] == MAINTENANCE[lang]
    summary = client.get(f"/api/v2/summary.json?lang={lang}").json()
    assert summary["status"]["indicator"] == "none"
    names = [i["name"] for i in client.get("/api/v2/incidents.json").json()["incidents"]]
    assert names == [t.rsplit(" (", 1)[0] for t in INCIDENTS[lang]]
