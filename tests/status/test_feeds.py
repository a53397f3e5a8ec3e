"""Atom, RSS, JSON Feed and the maintenance calendar: valid, stable, filtered, private data-free."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import feedparser  # type: ignore[import-untyped]
import icalendar
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session
from starlette.testclient import TestClient

from tests.factories import FakeClock, make_context, run
from tests.status.helpers import CHANNEL, NOTE, PUBLIC_URL, seed_status, status_client

FEEDS = ("/feed.atom", "/feed.rss")


def parse_feed(client: TestClient, path: str) -> Any:
    """Fetch a feed and parse it with feedparser, failing on anything it finds malformed."""
    response = client.get(path)
    assert response.status_code == 200, response.text
    parsed = feedparser.parse(response.content)
    assert not parsed.bozo, parsed.get("bozo_exception")
    return parsed


def events(client: TestClient, path: str = "/maintenance.ics") -> dict[str, Any]:
    """The calendar's VEVENTs by UID, parsed with the icalendar library."""
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/calendar; charset=utf-8"
    calendar = icalendar.Calendar.from_ical(response.content)
    return {str(event["uid"]): event for event in calendar.walk("VEVENT")}


@pytest.mark.parametrize("path", FEEDS)
def test_feed_has_one_entry_per_incident_with_its_public_timeline(
    path: str, engine: sa.Engine, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    seed_status(sessions, clock)
    feed = parse_feed(status_client(engine, clock), path)
    assert feed.feed.title == "Stato servizi: incidenti e manutenzioni"
    assert feed.feed.language == "it"
    titles = [entry.title for entry in feed.entries]
    assert sorted(titles) == [
        "Aggiornamento server web",
        "Guasto DNS (risolto)",
        "Problemi consegna posta",
        "Sostituzione switch",
    ]
    posta = next(e for e in feed.entries if e.title == "Problemi consegna posta")
    assert posta.id == "tag:status.example.it,2025-01-28:INC-2"
    assert posta.link == f"{PUBLIC_URL}/incidents/INC-2?lang=it"
    content = posta.content[0].value
    assert "Apertura" in content
    assert "Aggiornamento" in content
    assert "Le mail verso Office365 sono in ritardo" in content
    assert "Individuata la causa sul cluster" in content
    assert content.index("Aggiornamento") < content.index("Apertura")


@pytest.mark.parametrize("path", [*FEEDS, "/feed.json", "/maintenance.ics"])
def test_feeds_keep_private_data_out(
    path: str, engine: sa.Engine, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    seed_status(sessions, clock)
    body = status_client(engine, clock).get(path).text
    assert "NOTA-RISERVATA" not in body
    assert NOTE not in body
    assert CHANNEL not in body
    assert "alice" not in body.lower()


def test_entry_ids_are_stable_and_updated_moves_with_each_update(
    engine: sa.Engine, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    ctx = seed_status(sessions, clock)
    client = status_client(engine, clock)

    def entry() -> Any:
        feed = parse_feed(client, "/feed.atom")
        return next(e for e in feed.entries if "consegna posta" in e.title)

    before = entry()
    clock.advance(minutes=20)
    run(ctx, 'update INC-2 --status monitoring "In osservazione"')
    after = entry()
    assert after.id == before.id
    assert after.updated_parsed > before.updated_parsed
    assert after.published_parsed == before.published_parsed
    clock.advance(minutes=20)
    run(ctx, 'edit INC-2 "Tutto regolare, in osservazione"')
    edited = entry()
    assert edited.updated_parsed > after.updated_parsed
    assert "Tutto regolare, in osservazione" in edited.content[0].value
    english = parse_feed(client, "/feed.atom?lang=en")
    assert any(e.id == before.id for e in english.entries)


def test_json_feed_is_json_feed_1_1(
    engine: sa.Engine, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    seed_status(sessions, clock)
    response = status_client(engine, clock).get("/feed.json?lang=en")
    assert response.headers["content-type"] == "application/feed+json; charset=utf-8"
    feed = response.json()
    assert feed["version"] == "https://jsonfeed.org/version/1.1"
    assert feed["feed_url"] == f"{PUBLIC_URL}/feed.json?lang=en"
    assert feed["home_page_url"] == f"{PUBLIC_URL}/?lang=en"
    assert feed["authors"] == [{"name": "Stato servizi"}]
    item = next(i for i in feed["items"] if i["id"].endswith(":INC-2"))
    assert item["url"] == f"{PUBLIC_URL}/incidents/INC-2?lang=en"
    assert item["title"] == "Problemi consegna posta"
    assert "Opened: Problemi consegna posta\n28 Jan 2025, 14:55 CET" in item["content_text"]
    assert item["tags"] == ["Posta"]
    assert datetime.fromisoformat(item["date_modified"]) > datetime.fromisoformat(
        item["date_published"]
    )


def test_component_filter_narrows_every_feed(
    engine: sa.Engine, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    seed_status(sessions, clock)
    client = status_client(engine, clock)
    for path in FEEDS:
        feed = parse_feed(client, f"{path}?component=dns")
        assert sorted(e.title for e in feed.entries) == [
            "Guasto DNS (risolto)",
            "Sostituzione switch",
        ]
        assert feed.feed.title.endswith("· DNS")
    items = client.get("/feed.json?component=POSTA").json()["items"]
    assert [i["title"] for i in items] == ["Problemi consegna posta"]
    assert list(events(client, "/maintenance.ics?component=web")) == [
        "maintenance-3@status.example.it"
    ]
    for path in (*FEEDS, "/feed.json", "/maintenance.ics"):
        missing = client.get(f"{path}?component=nessuno")
        assert missing.status_code == 404
        assert "components.json" in missing.text


def test_calendar_has_one_event_per_window_with_uid_and_sequence(
    engine: sa.Engine, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    ctx = seed_status(sessions, clock)
    client = status_client(engine, clock)
    found = events(client)
    assert sorted(found) == ["maintenance-3@status.example.it", "maintenance-4@status.example.it"]
    web = found["maintenance-3@status.example.it"]
    assert web["dtstart"].dt == datetime(2025, 1, 30, 9, 0, tzinfo=UTC)
    assert web["dtend"].dt == datetime(2025, 1, 30, 11, 0, tzinfo=UTC)
    assert str(web["status"]) == "CONFIRMED"
    assert str(web["summary"]) == "Aggiornamento server web"
    assert "Riavvio dei server" in str(web["description"])
    assert str(web["url"]) == f"{PUBLIC_URL}/incidents/INC-3?lang=it"
    first = int(web["sequence"])
    run(ctx, "maintenance extend INC-3 --end '30/01/2025 13:00' Serve un'ora in più")
    extended = events(client)["maintenance-3@status.example.it"]
    assert int(extended["sequence"]) > first
    assert extended["dtend"].dt == datetime(2025, 1, 30, 12, 0, tzinfo=UTC)
    run(ctx, "edit INC-3 Serve un'ora in più per le verifiche")
    edited = events(client)["maintenance-3@status.example.it"]
    assert int(edited["sequence"]) > int(extended["sequence"])
    run(ctx, "maintenance cancel INC-3 Rinviata a data da destinarsi")
    cancelled = events(client)["maintenance-3@status.example.it"]
    assert str(cancelled["status"]) == "CANCELLED"
    assert int(cancelled["sequence"]) > int(edited["sequence"])
    assert "Rinviata a data da destinarsi" in str(cancelled["description"])


def test_hostile_text_leaves_every_feed_valid(
    engine: sa.Engine, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    ctx = make_context(sessions, clock)
    run(ctx, 'components add posta "Posta & <co>"')
    title = '<script>alert(1)</script> ]]> &amp; "q"'
    run(ctx, f"open '{title}' --sev 1 --components posta --message '<b>x</b> ]]>'")
    run(
        ctx,
        f"maintenance schedule '{title}' --start '30/01/2025 10:00' --end '30/01/2025 11:00' "
        "--components posta",
    )
    client = status_client(engine, clock, site_name="Stato <servizi> & co")
    for path in FEEDS:
        feed = parse_feed(client, path)
        assert {e.title for e in feed.entries} == {title}
        assert feed.feed.title.startswith("Stato <servizi> & co")
    assert client.get("/feed.json").json()["items"][0]["title"] == title
    (event,) = events(client).values()
    assert str(event["summary"]) == title
    raw = client.get("/feed.atom").text
    assert "<script>" not in raw
