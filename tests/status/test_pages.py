"""The status page and incident pages: what they show, in which language, what they never show."""

from __future__ import annotations

import re

import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from tests.factories import FakeClock, make_context, run
from tests.status.helpers import CHANNEL, NOTE, PUBLIC_URL, seed_status, status_client


def section(page: str, heading_id: str) -> str:
    """The HTML of one <section>, found by its heading's id."""
    start = page.index(f'id="{heading_id}"')
    return page[start : page.index("</section>", start)]


def test_quiet_page_says_all_is_well(
    engine: sa.Engine, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    ctx = make_context(sessions, clock)
    run(ctx, "components add posta Posta")
    response = status_client(engine, clock).get("/")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    page = response.text
    assert "Tutti i sistemi sono operativi" in section(page, "banner-title")
    assert "Nessun incidente in corso." in page
    assert "Nessuna manutenzione in corso o programmata." in page
    assert "✓</span> Operativo" in section(page, "components-title")


def test_page_shows_banner_components_incidents_and_maintenance(
    engine: sa.Engine, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    seed_status(sessions, clock)
    page = status_client(engine, clock).get("/").text
    assert "Disservizio grave in corso" in section(page, "banner-title")
    components = section(page, "components-title")
    # Each state is named in words beside its symbol, never by colour alone.
    assert re.search(r"<h3>Posta</h3>\s*<span class=\"state state-partial_outage\">", components)
    assert "Disservizio parziale" in components
    assert re.search(r"<h3>DNS</h3>\s*<span class=\"state state-under_maintenance\">", components)
    assert re.search(r"<h3>Web</h3>\s*<span class=\"state state-operational\">", components)
    incidents = section(page, "incidents-title")
    assert "Problemi consegna posta" in incidents
    assert "Guasto DNS" not in incidents
    # The timeline, newest first, worded like the sample.
    assert incidents.index("Aggiornamento") < incidents.index("Apertura")
    assert "28/01/2025 ore 14:55" in incidents
    assert "Le mail verso Office365 sono in ritardo" in incidents
    maintenance = section(page, "maintenance-title")
    assert maintenance.index("In corso") < maintenance.index("Sostituzione switch")
    assert maintenance.index("Programmate") < maintenance.index("Aggiornamento server web")
    assert "In data 30/01/2025 dalle ore 10:00 alle ore 12:00" in maintenance
    history = section(page, "history-title")
    assert history.index("martedì 28 gennaio 2025") < history.index("lunedì 27 gennaio 2025")
    assert "Guasto DNS (risolto)" in history
    follow = section(page, "follow-title")
    for path in ("/feed.atom", "/feed.rss", "/feed.json", "/maintenance.ics"):
        assert f'href="{PUBLIC_URL}{path}?lang=it"' in follow


def test_uptime_bars_have_a_tooltip_per_day_and_a_text_summary(
    engine: sa.Engine, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    seed_status(sessions, clock)
    components = section(status_client(engine, clock).get("/").text, "components-title")
    assert components.count("<rect ") == 3 * 90
    assert "<title>28 gen 2025: Disservizio parziale\nINC-2 Problemi consegna posta" in components
    assert "<title>27 gen 2025: Prestazioni ridotte\nINC-1 Guasto DNS (1 h 30 min)" in components
    assert "<title>28 gen 2025: In manutenzione\nINC-4 Sostituzione switch" in components
    assert "giorni con problemi o manutenzioni" in components
    assert 'role="img" aria-labelledby="u1"' in components


def test_english_by_query_and_by_accept_language(
    engine: sa.Engine, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    seed_status(sessions, clock)
    client = status_client(engine, clock)
    by_query = client.get("/?lang=en")
    assert '<html lang="en">' in by_query.text
    assert "Major service disruption" in by_query.text
    assert "28 Jan 2025, 14:55 CET" in by_query.text
    assert "Identified" in by_query.text
    assert by_query.headers["content-language"] == "en"
    by_header = client.get("/", headers={"Accept-Language": "en-GB,en;q=0.9,it;q=0.5"})
    assert by_header.text == by_query.text
    assert "Accept-Language" in by_header.headers["vary"]
    preferred = client.get("/", headers={"Accept-Language": "fr, it;q=0.8, en;q=0.7"})
    assert '<html lang="it">' in preferred.text
    assert '<html lang="it">' in client.get("/?lang=en-x-bogus").text


def test_site_default_language_comes_from_settings(
    engine: sa.Engine, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    seed_status(sessions, clock)
    page = status_client(engine, clock, locale="en").get("/").text
    assert '<html lang="en">' in page
    # Links carry ?lang= only for the language that is not the site's own.
    assert 'href="/incidents/INC-2"' in page
    italian = status_client(engine, clock, locale="en").get("/?lang=it").text
    assert 'href="/incidents/INC-2?lang=it"' in italian


def test_incident_page_accepts_both_id_forms(
    engine: sa.Engine, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    seed_status(sessions, clock)
    client = status_client(engine, clock)
    by_ref = client.get("/incidents/INC-2")
    assert by_ref.status_code == 200
    assert client.get("/incidents/2").text == by_ref.text
    assert client.get("/incidents/inc-2").text == by_ref.text
    page = by_ref.text
    assert "<title>Problemi consegna posta · Stato servizi</title>" in page
    assert f'<link rel="canonical" href="{PUBLIC_URL}/incidents/INC-2">' in page
    assert "Problema identificato" in page
    assert page.index("Individuata la causa sul cluster") < page.index("Le mail verso Office365")
    resolved = client.get("/incidents/INC-1?lang=en").text
    assert "Guasto DNS (resolved)" in resolved
    assert "Risolto il guasto DNS" in resolved


def test_unknown_or_malformed_incidents_are_404(
    engine: sa.Engine, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    seed_status(sessions, clock)
    client = status_client(engine, clock)
    for path in ("/incidents/INC-99", "/incidents/zzz", "/incidents/INC-2x", "/incidents/-1"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert "Pagina non trovata" in response.text


def test_nothing_private_reaches_any_page(
    engine: sa.Engine, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    seed_status(sessions, clock)
    client = status_client(engine, clock)
    pages = [client.get(p).text for p in ("/", "/?lang=en", "/incidents/INC-2", "/incidents/4")]
    for page in pages:
        assert NOTE not in page
        assert "NOTA-RISERVATA" not in page
        assert "Nota interna" not in page
        assert CHANNEL not in page
        # The responder behind every command in the tests is "alice", via the CLI.
        assert "alice" not in page.lower()


def test_user_text_is_escaped_everywhere_it_appears(
    engine: sa.Engine, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    ctx = make_context(sessions, clock)
    run(ctx, 'components add posta "Posta <b>bold</b>"')
    run(
        ctx,
        "open \"<script>alert(1)</script> & 'co'\" --sev 1 --components posta "
        '--message "<img src=x onerror=alert(2)>"',
    )
    client = status_client(engine, clock, site_name="Stato <servizi>")
    for path in ("/", "/incidents/INC-1", "/?lang=en"):
        page = client.get(path).text
        assert "<script>alert(1)</script>" not in page
        assert "<img src=x" not in page
        assert "<b>bold</b>" not in page
        assert "Stato &lt;servizi&gt;" in page
    home = client.get("/").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &#39;co&#39;" in home
    assert "&lt;img src=x onerror=alert(2)&gt;" in home
    assert "Posta &lt;b&gt;bold&lt;/b&gt;" in home
    # No script at all: the page works without JavaScript, and may run none.
    assert "<script" not in home
    policy = client.get("/").headers["content-security-policy"]
    assert "default-src 'none'" in policy
    assert "script-src" not in policy


def test_history_falls_back_to_the_latest_when_the_period_is_quiet(
    engine: sa.Engine, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    seed_status(sessions, clock)
    clock.advance(days=400)
    history = section(status_client(engine, clock).get("/").text, "history-title")
    assert "Guasto DNS (risolto)" in history
    assert "Problemi consegna posta" in history
