"""While the database is down every public route answers from its last rendering, dated."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from bot.status.cache import (
    MAX_LOOKUPS,
    DataVersionWatch,
    RenderCache,
    Rendered,
    Unavailable,
    rendered,
)
from bot.status.stale import is_outage
from bot.status.views import JUST_OPENED
from commands.wording import LOCALES
from storage.public import PublicDataVersion
from tests.factories import FakeClock, run
from tests.status.helpers import seed_status, site_of, status_client
from tests.status.outage import database_to_lose
from tests.status.test_caching import CACHED_PATHS

ROME = ZoneInfo("Europe/Rome")
PAGES = ("/", "/incidents/INC-2", "/?lang=en", "/incidents/INC-2?lang=en")
ROUTES = tuple(p for p in CACHED_PATHS if p not in PAGES) + PAGES
NOTE_EN = "Live data is temporarily unavailable; this is the status as of "
NOTE_IT = "I dati in tempo reale non sono momentaneamente disponibili; questo è lo stato "


def is_page(path: str) -> bool:
    """True for the HTML routes, which carry the note."""
    return path in PAGES


def test_every_public_route_answers_from_its_last_rendering_while_the_database_is_down(
    engine: sa.Engine, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    seed_status(sessions, clock)
    with database_to_lose(engine) as outage:
        client = status_client(outage.engine, clock)
        live = {path: client.get(path) for path in ROUTES}
        assert {r.status_code for r in live.values()} == {200}
        moment = clock()
        as_of = moment.astimezone(ROME).strftime("%H:%M")
        clock.advance(minutes=7)
        outage.begin()
        assert client.get("/healthz").status_code == 503
        for path in ROUTES:
            stale = client.get(path)
            assert stale.status_code == 200, path
            assert stale.headers["cache-control"] == "public, max-age=5, stale-if-error=86400"
            if not is_page(path):
                assert stale.content == live[path].content, path
                assert stale.headers["etag"] == live[path].headers["etag"]
                continue
            note = NOTE_EN if "lang=en" in path else NOTE_IT + "alle "
            assert f'<time datetime="{moment.isoformat()}">{as_of}</time>' in stale.text
            assert f"{note}<time" in stale.text, path
            assert stale.text.replace(stale_note(stale.text), "") == live[path].text
            # Another representation: a client holding the live page must get the note.
            assert stale.headers["etag"] != live[path].headers["etag"]
            held = {"If-None-Match": live[path].headers["etag"]}
            assert client.get(path, headers=held).status_code == 200
            assert (
                client.get(path, headers={"If-None-Match": stale.headers["etag"]}).status_code
                == 304
            )
        outage.end()
        clock.advance(minutes=1)
        assert client.get("/healthz").status_code == 200
        for path in ROUTES:
            back = client.get(path)
            assert back.status_code == 200
            assert back.headers["cache-control"] == "public, max-age=30, stale-if-error=86400"
            assert 'class="stale"' not in back.text
            assert NOTE_EN not in back.text
            assert NOTE_IT not in back.text


def stale_note(page: str) -> str:
    """The note's whole line, as inserted at the start of <main>."""
    start = page.index('<p class="stale"')
    return page[start : page.index("</p>\n", start) + len("</p>\n")]


def test_a_route_never_rendered_answers_503_while_the_database_is_down(
    engine: sa.Engine, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    seed_status(sessions, clock)
    with database_to_lose(engine) as outage:
        client = status_client(outage.engine, clock)
        assert client.get("/incidents/INC-2").status_code == 200
        outage.begin()
        page = client.get("/incidents/INC-3?lang=en")
        assert page.status_code == 503
        assert page.headers["content-type"] == "text/html; charset=utf-8"
        assert page.headers["cache-control"] == "no-store"
        assert page.headers["retry-after"] == "30"
        assert "Status temporarily unavailable" in page.text
        assert "Traceback" not in page.text
        for path in ("/", "/feed.atom?component=posta", "/api/v2/summary.json"):
            assert client.get(path).status_code == 503, path
        feed = client.get("/feed.rss")
        assert feed.status_code == 503
        assert feed.headers["content-type"].startswith("text/plain")
        # An address that names no incident needs no database to say so.
        assert client.get("/incidents/nope").status_code == 404
        outage.end()
        assert client.get("/incidents/INC-3").status_code == 200


def test_a_page_never_asked_in_one_language_stands_in_from_another(
    engine: sa.Engine, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    seed_status(sessions, clock)
    with database_to_lose(engine) as outage:
        client = status_client(outage.engine, clock)
        italian = {path: client.get(path).text for path in ("/", "/incidents/INC-2")}
        outage.begin()
        for path, live in italian.items():
            page = client.get(f"{path}?lang=en")
            assert page.status_code == 200, path
            # The Italian page, noted in Italian and said to be Italian: not an English 503.
            assert NOTE_IT in page.text
            assert page.headers["content-language"] == "it"
            assert page.text.replace(stale_note(page.text), "") == live
        outage.end()


def test_a_noted_page_is_undated_so_no_process_can_call_it_current_by_date(
    engine: sa.Engine, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    seed_status(sessions, clock)
    with database_to_lose(engine) as outage:
        client = status_client(outage.engine, clock)
        live = client.get("/incidents/INC-2")
        clock.advance(minutes=3)
        outage.begin()
        noted = client.get("/incidents/INC-2")
        assert NOTE_IT in noted.text
        # With a date, another web process (or this one restarted) holding only the live
        # page would answer a cache's If-Modified-Since with 304, keeping the note.
        assert "last-modified" not in noted.headers
        dated = {"If-Modified-Since": live.headers["last-modified"]}
        assert client.get("/incidents/INC-2", headers=dated).status_code == 200
        outage.end()
        clock.advance(minutes=1)
        held = {"If-None-Match": noted.headers["etag"]}
        back = client.get("/incidents/INC-2", headers=held)
        assert back.status_code == 200
        assert NOTE_IT not in back.text
        # The feeds and the API are the very bytes served live: those keep their dates.
        feed = client.get("/feed.atom")
        assert "last-modified" in feed.headers


def test_a_crawler_walking_old_incidents_does_not_push_the_home_page_out() -> None:
    cache = RenderCache(max_entries=2)
    moment = datetime(2026, 12, 7, tzinfo=UTC)

    def body(text: str) -> Rendered:
        return rendered(text.encode(), "text/html", moment, now=moment)

    async def crawl() -> None:
        await cache.get(("home", "it"), 1, lambda: body("home"), current_at=moment, pinned=True)
        for number in range(10):
            await cache.get(
                ("incident", "it", number), 1, lambda: body("incident"), current_at=moment
            )

    asyncio.run(crawl())
    home = cache.last_good(("home", "it"))
    assert home is not None
    assert home[0].body == b"home"
    assert cache.last_good(("incident", "it", 0)) is None
    assert cache.last_good(("incident", "it", 9)) is not None
    assert len(cache) == 3


def test_the_note_dates_a_rendering_from_another_day_in_full(
    engine: sa.Engine, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    seed_status(sessions, clock)
    with database_to_lose(engine) as outage:
        client = status_client(outage.engine, clock)
        client.get("/incidents/INC-2")
        client.get("/incidents/INC-2?lang=en")
        outage.begin()
        assert f"{NOTE_IT}alle <time" in client.get("/incidents/INC-2").text
        clock.advance(days=1)  # the outage goes on past midnight: the note names the day
        italian = client.get("/incidents/INC-2").text
        assert f"{NOTE_IT}del <time" in italian
        assert ">28/01/2025 ore 15:00</time>" in italian
        english = client.get("/incidents/INC-2?lang=en").text
        assert ">28 Jan 2025, 15:00 CET</time>" in english
        outage.end()


def test_the_site_logs_one_line_per_outage(
    engine: sa.Engine,
    sessions: sessionmaker[Session],
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    seed_status(sessions, clock)
    with database_to_lose(engine) as outage:
        client = status_client(outage.engine, clock)
        client.get("/")
        outage.begin()
        with caplog.at_level("INFO", logger="bot.status.stale"):
            for _ in range(5):
                assert client.get("/").status_code == 200
            outage.end()
            client.get("/")
        lines = [r.getMessage() for r in caplog.records if r.name == "bot.status.stale"]
        assert len(lines) == 2, lines
        assert "does not answer" in lines[0]
        assert "answers again" in lines[1]
        assert site_of(client).stale.outage_since is None


def test_a_remembered_failure_spares_readers_the_wait() -> None:
    calls: list[int] = []

    def load() -> PublicDataVersion:
        calls.append(1)
        raise sa.exc.OperationalError("SELECT", {}, Exception("connection refused"))

    async def readers() -> None:
        watch = DataVersionWatch(load, recheck_seconds=60, is_outage=is_outage)
        with pytest.raises(sa.exc.OperationalError):
            await watch.current()
        for _ in range(3):
            with pytest.raises(Unavailable):
                await watch.current()

    asyncio.run(readers())
    assert len(calls) == 1


def test_a_database_that_does_not_answer_is_waited_for_briefly() -> None:
    release = threading.Event()
    calls: list[int] = []

    def load() -> PublicDataVersion:
        calls.append(1)
        release.wait(10)
        raise sa.exc.OperationalError("SELECT", {}, Exception("timeout expired"))

    async def readers() -> None:
        watch = DataVersionWatch(load, recheck_seconds=60, is_outage=is_outage, wait_seconds=0.1)
        with pytest.raises(TimeoutError):
            await watch.current()
        # The lookup goes on; readers meanwhile are answered at once, not after a wait
        # (which would end in TimeoutError again, the lookup still blocked).
        with pytest.raises(Unavailable):
            await watch.current()
        release.set()
        with pytest.raises(Unavailable):
            await watch.current()

    asyncio.run(readers())
    assert len(calls) == 1
    assert is_outage(TimeoutError())
    assert is_outage(Unavailable("OperationalError"))
    assert not is_outage(ValueError("a bug"))
    assert not is_outage(sa.exc.ProgrammingError("SELECT", {}, Exception("no such column")))


def test_a_lookup_stuck_on_a_silent_server_does_not_keep_the_page_stale() -> None:
    now = [0.0]
    stuck, calls = threading.Event(), []
    fresh = PublicDataVersion(token=("after",), changed_at=datetime(2026, 12, 7, tzinfo=UTC))

    def load() -> PublicDataVersion:
        calls.append(1)
        if len(calls) <= 2:
            stuck.wait(10)  # a request sent to a server gone silent
            raise sa.exc.OperationalError("SELECT", {}, Exception("server closed the connection"))
        return fresh

    async def readers() -> None:
        watch = DataVersionWatch(
            load, recheck_seconds=1, is_outage=is_outage, wait_seconds=0.05, clock=lambda: now[0]
        )
        with pytest.raises(TimeoutError):
            await watch.current()
        with pytest.raises(Unavailable):
            await watch.current()
        now[0] = 1.5  # an interval on, the first lookup still stuck: a second one goes
        with pytest.raises(TimeoutError):
            await watch.current()
        now[0] = 3.0  # both stuck: no third thread is spent on the dead connection
        with pytest.raises(Unavailable):
            await watch.current()
        assert len(calls) == 2
        stuck.set()
        while len(calls) < 2 or len(watch.under_way):
            await asyncio.sleep(0.01)
        now[0] = 4.5  # the database is back: the next reader's lookup answers
        assert await watch.current() is fresh
        now[0] = 4.6
        assert await watch.current() is fresh
        assert len(calls) == 3

    asyncio.run(readers())


def test_the_page_is_live_again_soon_after_a_long_silence() -> None:
    now = [0.0]
    back, calls = threading.Event(), []
    fresh = PublicDataVersion(token=("after",), changed_at=datetime(2026, 12, 7, tzinfo=UTC))

    def load() -> PublicDataVersion:
        calls.append(1)
        if not back.is_set():
            back.wait(10)  # stuck until the connection's own timeout, much later
            raise sa.exc.OperationalError("SELECT", {}, Exception("server closed the connection"))
        return fresh

    async def readers() -> None:
        watch = DataVersionWatch(
            load, recheck_seconds=1, is_outage=is_outage, wait_seconds=0.01, clock=lambda: now[0]
        )
        for tick in range(60):  # a minute of silence, a reader every second
            now[0] = float(tick)
            with pytest.raises((TimeoutError, Unavailable)):
                await watch.current()
        # Two new lookups every STUCK_SECONDS, never more than MAX_LOOKUPS in all.
        assert len(calls) == MAX_LOOKUPS
        back.set()  # the stuck ones fail now, having waited far longer than an interval
        while len(watch.under_way):
            await asyncio.sleep(0.01)
        now[0] = 60.5  # their failure says nothing of the database now: a fresh look
        assert await watch.current() is fresh

    asyncio.run(readers())


def test_a_reader_of_an_old_lookup_takes_the_answer_of_a_newer_one() -> None:
    now, stuck, calls = [0.0], threading.Event(), []
    fresh = PublicDataVersion(token=("v",), changed_at=datetime(2026, 12, 7, tzinfo=UTC))

    def load() -> PublicDataVersion:
        calls.append(1)
        if len(calls) == 1:
            stuck.wait(10)  # sent just before the server went quiet
        return fresh

    async def readers() -> None:
        watch = DataVersionWatch(
            load, recheck_seconds=1, is_outage=is_outage, wait_seconds=0.3, clock=lambda: now[0]
        )
        first = asyncio.create_task(watch.current())
        await asyncio.sleep(0.05)
        now[0] = 1.5
        assert await watch.current() is fresh  # a second lookup, answered at once
        assert await first is fresh  # the first reader's wait ends with that answer
        now[0] = 1.6
        assert await watch.current() is fresh  # and no outage was made up meanwhile
        stuck.set()

    asyncio.run(readers())
    assert len(calls) == 2


@pytest.mark.parametrize("statement", ["SELECT * FROM no_such_table", "SELEC 1"])
def test_a_sqlite_bug_is_not_taken_for_an_outage(statement: str) -> None:
    engine = sa.create_engine("sqlite://")
    with pytest.raises(sa.exc.OperationalError) as raised, engine.connect() as connection:
        connection.execute(sa.text(statement))
    assert not is_outage(raised.value)


def test_a_sqlite_file_that_cannot_be_opened_is_an_outage(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'gone' / 'herald.db'}")
    with pytest.raises(sa.exc.OperationalError) as raised, engine.connect() as connection:
        connection.execute(sa.text("SELECT 1"))
    assert is_outage(raised.value)


def test_guessed_incident_numbers_cost_no_render(
    engine: sa.Engine, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    seed_status(sessions, clock)
    client = status_client(engine, clock)
    site = site_of(client)
    client.get("/")
    renders = site.cache.renders
    # A crowd of made-up numbers must not queue renders ahead of real pages.
    beyond = 4 + JUST_OPENED + 1
    for number in range(beyond, beyond + 100):
        assert client.get(f"/incidents/INC-{number}").status_code == 404
    assert site.cache.renders == renders
    assert client.get("/incidents/INC-4").status_code == 200
    assert site.cache.renders == renders + 1


def test_an_incident_opened_a_moment_ago_is_found_at_once(
    engine: sa.Engine, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    ctx = seed_status(sessions, clock)
    client = status_client(engine, clock, recheck_seconds=60)
    assert client.get("/").status_code == 200  # the version is now known for a minute
    run(ctx, 'open "Nuovo guasto" --sev 1 --components web')
    # The link in the reply is fetched at once (link previews): not a 404 until the
    # next look at the version.
    assert client.get("/incidents/INC-5").status_code == 200


def test_the_note_dates_a_page_by_the_last_time_its_data_was_known_current(
    engine: sa.Engine, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    seed_status(sessions, clock)
    with database_to_lose(engine) as outage:
        client = status_client(outage.engine, clock)
        client.get("/incidents/INC-1?lang=en")  # read once, then nobody asks for it
        for _ in range(12):  # two days in which every look finds nothing changed
            clock.advance(hours=4)
            assert client.get("/?lang=en").status_code == 200
        outage.begin()
        page = client.get("/incidents/INC-1?lang=en").text
        outage.end()
    as_of = clock().astimezone(ROME).strftime("%H:%M")
    assert f"{NOTE_EN}<time" in page
    assert f">{as_of}</time>" in stale_note(page)


def test_every_process_has_the_fixed_documents_ready_before_anyone_asks(
    engine: sa.Engine, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    seed_status(sessions, clock)
    fixed = [p for p in ROUTES if "/incidents/" not in p and "component=" not in p]
    with database_to_lose(engine) as outage, status_client(outage.engine, clock) as client:
        site = site_of(client)
        expected = len(LOCALES) * len(site.site_documents("it", clock()))
        deadline = time.monotonic() + 30
        while len(site.cache) < expected and time.monotonic() < deadline:
            client.portal.call(asyncio.sleep, 0.01)  # type: ignore[union-attr]
        outage.begin()
        for path in (*fixed, "/?lang=en", "/api/v2/scheduled-maintenances/active.json?lang=en"):
            assert client.get(path).status_code == 200, path
        outage.end()
